"""The arXiv metadata snapshot (`arxiv-metadata-oai-snapshot.json`): JSON lines, streamed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from paperfeed.ingest.base import (
    MAX_LINE_BYTES,
    FormatError,
    Item,
    Rejection,
    lines,
    long_line,
    long_line_stand_in,
    read_line,
)
from paperfeed.papers.authors import Author, make_author, split_author_list
from paperfeed.papers.bulk_load import PreparedRows
from paperfeed.papers.dates import parse_iso, parse_rfc2822
from paperfeed.papers.ids import InvalidArxivId, parse_arxiv_id, parse_doi
from paperfeed.papers.links import extract_links
from paperfeed.papers.record import PaperRecord
from paperfeed.papers.text import normalize_text

SOURCE = "snapshot"
_SNIFF_LINES = 5
MIN_BLOCK_BYTES = 1 << 16


def _str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} is not a string")
    value = value.strip()
    return value or None


def _authors(obj: dict[str, Any], raw: str | None) -> list[Author]:
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        authors = []
        for parts in parsed:
            if type(parts) is not list or not parts:
                raise ValueError("authors_parsed entry is not a list")
            if len(parts) == 3:
                try:
                    authors.append(make_author(*parts))  # the usual [last, first, suffix]
                    continue
                except TypeError:  # not all strings
                    pass
            last, first, suffix = ([*map(str, parts), "", ""])[:3]
            authors.append(make_author(last, first, suffix))
        return authors
    return split_author_list(raw) if raw else []


def record_from_json(obj: Any) -> PaperRecord:
    """One snapshot object -> PaperRecord; ValueError says what is wrong with it."""
    if not isinstance(obj, dict):
        raise ValueError("line is not a JSON object")
    raw_id = obj.get("id")
    if not isinstance(raw_id, str):
        raise ValueError("missing 'id'")
    try:
        arxiv_id = parse_arxiv_id(raw_id)
    except InvalidArxivId as exc:
        raise ValueError(str(exc)) from None
    title_raw = _str(obj, "title")
    if not title_raw:
        raise ValueError("missing 'title'")
    abstract_raw = obj.get("abstract") or ""
    if not isinstance(abstract_raw, str):
        raise ValueError("field 'abstract' is not a string")
    authors_raw = _str(obj, "authors")
    categories = (_str(obj, "categories") or "").split()

    versions = []
    created_dates = []
    for version in obj.get("versions") or []:
        if not isinstance(version, dict) or not isinstance(version.get("version"), str):
            raise ValueError("malformed 'versions' entry")
        created = parse_rfc2822(version.get("created") or "")
        versions.append(
            {"version": version["version"], "created": created.isoformat() if created else ""}
        )
        if created:
            created_dates.append(created)
    update_date = parse_iso(_str(obj, "update_date"))
    stamps = [d for d in (update_date, created_dates[-1] if created_dates else None) if d]
    comments = _str(obj, "comments")
    doi_text = _str(obj, "doi")
    return PaperRecord(
        source=SOURCE,
        arxiv_id=arxiv_id.canonical,
        doi=parse_doi(doi_text.split()[0]) if doi_text else None,
        title=normalize_text(title_raw),
        title_raw=title_raw,
        abstract=normalize_text(abstract_raw),
        abstract_raw=abstract_raw,
        authors=_authors(obj, authors_raw),
        authors_raw=authors_raw,
        primary_category=categories[0] if categories else None,
        categories=categories,
        versions=versions,
        submitted_at=created_dates[0] if created_dates else None,
        updated_at=max(stamps) if stamps else None,
        comments=normalize_text(comments) or None,
        journal_ref=normalize_text(_str(obj, "journal-ref")) or None,
        report_no=_str(obj, "report-no"),
        license=_str(obj, "license"),
        submitter=_str(obj, "submitter"),
        links=extract_links(abstract_raw, comments),
        freshness=max(stamps) if stamps else None,
    )


def _looks_like_snapshot(line: bytes) -> bool:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and "id" in obj and ("title" in obj or "abstract" in obj)


def _blank(line: bytes) -> bool:
    return not line or line.isspace()


def _check_head(name: str, head: list[tuple[int, bytes]]) -> None:
    """Fail fast if none of the first lines is snapshot JSON (lines too long to read are
    rejected later, as records)."""
    head = [(n, line) for n, line in head if long_line(line) is None]
    if head and not any(_looks_like_snapshot(line) for _, line in head):
        raise FormatError(
            f"{name}: not an arXiv snapshot file (expected JSON lines with 'id' and 'title'; "
            f"line {head[0][0]} starts {head[0][1][:60]!r})"
        )


def _numbered_lines(stream: BinaryIO, name: str, skip: int) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of the non-blank lines after the first `skip`. Fails fast if the
    first lines are not snapshot JSON."""
    numbered = ((n, line) for n, line in enumerate(lines(stream), start=1) if not line.isspace())
    head = list(itertools.islice(numbered, _SNIFF_LINES))
    _check_head(name, head)
    return itertools.islice(itertools.chain(head, numbered), skip, None)


def _item(name: str, lineno: int, line: bytes) -> Item:
    if len(line) > MAX_LINE_BYTES or line[:1] == b"\x00":
        too_long = long_line(line)
        if too_long is not None:
            return Rejection(f"{name}:{lineno}", too_long)
    try:
        return record_from_json(orjson.loads(line))
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        return Rejection(f"{name}:{lineno}", str(exc))


def parse(stream: BinaryIO, name: str, skip: int = 0) -> Iterator[Item]:
    """Yield one item per non-blank line. Fails fast if the first lines are not snapshot JSON."""
    for lineno, line in _numbered_lines(stream, name, skip):
        yield _item(name, lineno, line)


# The bulk path (SQLite and PostgreSQL): the importer reads blocks of whole lines and parse
# workers (processes) turn them into rows ready for insertion; see `paperfeed.ingest.snapshot_bulk`.
# Blocks, not lines, cross the process boundary, and the importer never splits lines itself.
Chunk = tuple[int, bytes]  # the number of the block's first line, whole lines


def line_blocks(stream: BinaryIO, name: str, skip: int, lines_per_block: int) -> Iterator[Chunk]:
    """The lines `parse` would parse (after the first `skip` non-blank ones), as blocks of
    whole lines, about `lines_per_block` lines each (sized from the first lines' length)."""
    head: list[bytes] = []  # physical lines, blank ones included
    numbered: list[tuple[int, bytes]] = []
    while len(numbered) < _SNIFF_LINES and (line := read_line(stream)):
        head.append(line)
        if not _blank(line):
            numbered.append((len(head), line))
    _check_head(name, numbered)
    lineno = 0
    remaining = skip
    while remaining:
        if lineno < len(head):
            line = head[lineno]
        elif not (line := read_line(stream)):
            return
        lineno += 1
        remaining -= not _blank(line)
    carry = b"".join(head[lineno:])
    first = lineno + 1
    mean_line = sum(len(line) for _, line in numbered) // max(1, len(numbered))
    size = max(MIN_BLOCK_BYTES, mean_line * lines_per_block)
    # A line that grows past MAX_LINE_BYTES is not kept: its bytes are counted and dropped to
    # its end, and it goes on as `read_line`'s stand-in (memory stays bounded).
    dropped = 0
    while data := stream.read(size):
        if dropped:
            end = data.find(b"\n")
            if end < 0:
                dropped += len(data)
                continue
            carry = long_line_stand_in(dropped + end)
            data = data[end + 1 :]
            dropped = 0
        data = carry + data
        cut = data.rfind(b"\n") + 1
        block, carry = data[:cut], data[cut:]
        if len(carry) > MAX_LINE_BYTES:
            dropped, carry = len(carry), b""
        if block:
            yield first, block
            first += block.count(b"\n")
    if dropped:
        carry = long_line_stand_in(dropped)
    if carry:
        yield first, carry


def chunk_lines(block: bytes) -> list[bytes]:
    """A block's non-blank lines: a prepared row's origin indexes this list."""
    return [line for line in block.split(b"\n") if not _blank(line)]


def prepare_chunk(name: str, chunk: Chunk) -> tuple[PreparedRows, list[Rejection], int]:
    """Parse worker: a block of lines -> rows prepared for insertion, in order, the
    rejections, and the number of records (non-blank lines) read. A row's origin is its
    record's position in the block."""
    first, block = chunk
    rows = PreparedRows()
    rejections: list[Rejection] = []
    position = 0
    for lineno, line in enumerate(block.split(b"\n"), start=first):
        if _blank(line):  # as `chunk_lines` skips it: origins index that list
            continue
        item = _item(name, lineno, line)
        if isinstance(item, Rejection):
            rejections.append(item)
        else:
            rows.add(item, position)
        position += 1
    return rows, rejections, position


def record_from_line(line: bytes) -> PaperRecord:
    """The record of a line that `prepare_chunk` accepted."""
    return record_from_json(orjson.loads(line))
