"""Reading lists of identifiers (format `ids`): one paper per line.

A line names a paper by the first of its words that is an arXiv id (new or old style, with or
without version), an `arXiv:` reference, an arxiv.org abs/pdf URL, a DOI or a doi.org URL; the
rest of the line (a title, a note) is ignored, so lists like "2301.01234  great survey" or
"- https://arxiv.org/abs/2301.01234" work. Blank lines and `#` comments are skipped. A line with
no identifier at all is rejected with its line number.

Entries carry no title: the catalog matches them by id, and an unknown id becomes a stub paper
that a later import of that paper fills in."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import BinaryIO

from paperfeed.ingest.base import FormatError, Item, Rejection, clip, lines, long_line
from paperfeed.papers.ids import parse_doi, try_parse_arxiv_id
from paperfeed.papers.record import PaperRecord

SOURCE = "reading-list"
_SNIFF_LINES = 20
# "arXiv: 2301.01234" and "doi: 10.1000/x" put a space after the prefix.
_SPACED_PREFIX = re.compile(r"\b(arxiv|doi):\s+", re.IGNORECASE)
# arXiv's own DOIs (DataCite, since 2022) name the arXiv paper: 10.48550/arXiv.2301.01234.
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$")
_QUOTES = "<>\"'*`"
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def _unwrap(word: str) -> str:
    """Strip quotes, bullets, brackets and sentence punctuation from around a word; brackets
    that open inside it are kept (DOIs may contain them)."""
    word = word.strip(_QUOTES).rstrip(".,;:").lstrip("([{")
    while word and word[-1] in _CLOSERS and word.count(word[-1]) > word.count(_CLOSERS[word[-1]]):
        word = word[:-1].rstrip(".,;:")
    return word


def record_from_line(line: str) -> PaperRecord | None:
    """The paper a line names, or None when no word on it is an arXiv id or a DOI."""
    for word in _SPACED_PREFIX.sub(r"\1:", line).split():
        word = _unwrap(word)
        arxiv_id = try_parse_arxiv_id(word)
        if arxiv_id is not None:
            return PaperRecord(source=SOURCE, arxiv_id=arxiv_id.canonical)
        doi = parse_doi(word)
        if doi is not None:
            datacite = _ARXIV_DOI.match(doi)
            arxiv_id = try_parse_arxiv_id(datacite.group(1)) if datacite else None
            if arxiv_id is not None:
                return PaperRecord(source=SOURCE, arxiv_id=arxiv_id.canonical)
            return PaperRecord(source=SOURCE, doi=doi)
    return None


def _names_a_paper(line: str) -> bool:
    try:
        return not line.startswith("\0") and record_from_line(line) is not None
    except ValueError:  # over a cap, yet a paper
        return True


def _entries(stream: BinaryIO, name: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of the entry lines; a line too long to read has its reason for
    text, prefixed with NUL (which no text line has: the line is rejected)."""
    for lineno, raw in enumerate(lines(stream), start=1):
        too_long = long_line(raw)
        if too_long is not None:
            yield lineno, f"\0{too_long}"
            continue
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").strip()
        except UnicodeDecodeError:
            raise FormatError(f"{name}:{lineno}: not a text file (not UTF-8)") from None
        if line and not line.startswith("#"):
            yield lineno, line


def parse(stream: BinaryIO, name: str, skip: int = 0) -> Iterator[Item]:
    """Yield one item per entry line. Fails fast if none of the first entries names a paper."""
    entries = _entries(stream, name)
    head = list(itertools.islice(entries, _SNIFF_LINES))
    if head and not any(_names_a_paper(line) for _, line in head):
        lineno, line = head[0]
        raise FormatError(
            f"{name}: not a reading list of arXiv ids or DOIs (line {lineno}: {clip(line, 60)!r})"
        )
    for index, (lineno, line) in enumerate(itertools.chain(head, entries)):
        if index < skip:
            continue
        if line.startswith("\0"):
            yield Rejection(f"{name}:{lineno}", line[1:])
            continue
        try:
            record = record_from_line(line)
        except ValueError as exc:  # over a cap (PaperRecord)
            yield Rejection(f"{name}:{lineno}", str(exc))
            continue
        if record is None:
            yield Rejection(f"{name}:{lineno}", f"no arXiv id, arXiv URL or DOI: {clip(line)}")
        else:
            yield record
