"""Reading lists as BibTeX (format `bibtex`), parsed with bibtexparser 2.

An entry names its paper by arXiv id (from `eprint`, an arxiv.org URL, or the forms Google
Scholar and DBLP write: `journal = {arXiv preprint arXiv:1810.04805}`, `journal = {CoRR},
volume = {abs/1810.04805}`), by DOI, and by title, which the catalog matches in that order."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from typing import BinaryIO

from bibtexparser.entrypoint import parse_string
from bibtexparser.middlewares.names import split_multiple_persons_names
from bibtexparser.model import Block, DuplicateBlockKeyBlock, Entry, ParsingFailedBlock

from paperfeed.ingest.base import FormatError, Item, Rejection, clip, read_document
from paperfeed.papers.authors import Author, from_last_first
from paperfeed.papers.ids import parse_doi, try_parse_arxiv_id
from paperfeed.papers.record import PaperRecord
from paperfeed.papers.text import detex_accents, normalize_text

SOURCE = "bibtex"
# Every block bibtexparser cannot parse becomes a Rejection, which the importer reports; the
# parser's own warning would say the same thing a second time.
logging.getLogger("bibtexparser.splitter").setLevel(logging.ERROR)
_ARXIV_REF = re.compile(r"(?:arxiv\s*:\s*|arxiv\.org/(?:abs|pdf)/)(\S+)", re.IGNORECASE)
_DBLP_VOLUME = re.compile(r"^abs/(\S+)$", re.IGNORECASE)
_YEAR = re.compile(r"\b(1[89]\d\d|2\d\d\d)\b")
_MATH = re.compile(r"(\$[^$]*\$)")
# Formatting commands whose argument is the text: \emph{Deep} -> Deep.
_TEXT_COMMANDS = re.compile(r"\\(?:emph|text(?:bf|it|tt|sc|rm|sf|normal)?|mbox|url)\s*(?=\{)")
_ESCAPED = {r"\&": "&", r"\%": "%", r"\_": "_", r"\#": "#", r"\$": "\x00"}


def strip_braces(text: str) -> str:
    """Remove BibTeX's protective braces ({BERT}, {B}idirectional) and formatting commands
    outside math; TeX accents are decoded first so `M{\\"u}ller` keeps its letter."""
    text = detex_accents(text)
    for escaped, plain in _ESCAPED.items():
        text = text.replace(escaped, plain)
    parts = _MATH.split(text)
    # Odd parts are math ($...$), where braces are syntax and kept.
    text = "".join(
        part if i % 2 else _TEXT_COMMANDS.sub("", part).replace("{", "").replace("}", "")
        for i, part in enumerate(parts)
    )
    return text.replace("\x00", "$")


def _fields(entry: Entry) -> dict[str, str]:
    return {f.key.lower(): str(f.value).strip() for f in entry.fields}


def _arxiv_id(fields: dict[str, str]) -> str | None:
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").lower()
    candidates = [fields.get("eprint", "")] if prefix == "arxiv" else []
    candidates += [fields.get("arxivid", ""), fields.get("arxiv", "")]
    if fields.get("journal", "").lower() in ("corr", "computing research repository"):
        volume = _DBLP_VOLUME.match(fields.get("volume", ""))
        candidates.append(volume.group(1) if volume else "")
    for key in ("url", "journal", "note", "howpublished", "eprint"):
        candidates += _ARXIV_REF.findall(fields.get(key, ""))
    for candidate in candidates:
        parsed = try_parse_arxiv_id(candidate.rstrip(".,;}")) if candidate else None
        if parsed is not None:
            return parsed.canonical
    return None


def _doi(fields: dict[str, str]) -> str | None:
    for key in ("doi", "url"):
        value = fields.get(key, "").split()
        doi = parse_doi(value[0]) if value else None
        if doi:
            return doi
    return None


def _authors(text: str) -> list[Author]:
    names = [strip_braces(n) for n in split_multiple_persons_names(text)]
    return [from_last_first(n) for n in names if n.strip() and n.strip().lower() != "others"]


def record_from_entry(entry: Entry) -> PaperRecord:
    """One bibtexparser Entry -> PaperRecord; ValueError says what is wrong with it."""
    fields = _fields(entry)
    arxiv_id = _arxiv_id(fields)
    doi = _doi(fields)
    title_raw = fields.get("title") or None
    title = normalize_text(strip_braces(title_raw)) if title_raw else ""
    if not (arxiv_id or doi or title):
        raise ValueError(f"entry {entry.key!r} has no arXiv id, DOI or title")
    authors_raw = fields.get("author") or None
    abstract_raw = fields.get("abstract") or None
    year = _YEAR.search(fields.get("year", ""))
    return PaperRecord(
        source=SOURCE,
        arxiv_id=arxiv_id,
        doi=doi,
        title=title,
        title_raw=title_raw,
        abstract=normalize_text(strip_braces(abstract_raw)) if abstract_raw else "",
        abstract_raw=abstract_raw,
        authors=_authors(authors_raw) if authors_raw else [],
        authors_raw=authors_raw,
        # A year is too coarse a date for an arXiv paper (its announcement day would be
        # derived from it); it dates only papers the catalog knows from this file alone.
        submitted_at=dt.datetime(int(year.group(1)), 1, 1) if year and not arxiv_id else None,
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older .bib files are Latin-1; every byte decodes, so text stays text.
        return data.decode("latin-1")


def _failure(block: ParsingFailedBlock) -> str:
    error = block.error
    # bibtexparser's BlockAbortedException keeps its message in `abort_reason`, not in args.
    reason = getattr(error, "abort_reason", None) or str(error) or type(error).__name__
    return clip(str(reason), 300)


def _location(name: str, block: Block) -> str:
    # bibtexparser counts lines from 0.
    line = block.start_line
    return f"{name}:{line + 1}" if isinstance(line, int) else name


def parse(stream: BinaryIO, name: str, skip: int = 0) -> Iterator[Item]:
    """Yield one item per entry (and per malformed entry), in file order. Fails fast if the
    file holds no BibTeX entry at all."""
    library = parse_string(_decode(read_document(stream, name)))
    if not library.entries:
        detail = ""
        if library.failed_blocks:
            first = library.failed_blocks[0]
            detail = f"; {_location(name, first)}: {_failure(first)}"
        raise FormatError(f"{name}: no BibTeX entries found{detail}")
    blocks = [b for b in library.blocks if isinstance(b, Entry | ParsingFailedBlock)]
    for block in blocks[skip:]:
        if isinstance(block, DuplicateBlockKeyBlock) and isinstance(
            block.ignore_error_block, Entry
        ):
            entry = block.ignore_error_block  # the same key twice is still a paper
        elif isinstance(block, ParsingFailedBlock):
            yield Rejection(_location(name, block), f"malformed entry: {_failure(block)}")
            continue
        else:
            entry = block
        try:
            yield record_from_entry(entry)
        except ValueError as exc:
            yield Rejection(_location(name, block), str(exc))
