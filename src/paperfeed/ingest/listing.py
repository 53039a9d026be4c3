"""Reading lists as text copied from a papers web page (format `listing`).

The text is split into paragraphs at blank lines. The heuristic:

- An *abstract* is a paragraph of at least 20 words that reads like prose: it spans several
  lines, or is longer than 250 characters, or ends a sentence. A leading "Abstract:" is dropped.
  Abstract paragraphs that follow one another (an abstract with a blank line inside) are joined.
- A *title* is a single line of 2 to 40 words and at most 300 characters that is not page
  chrome. The title of a paper is the last title line before its abstract; chrome lines in
  between (a submitter, upvotes, a date, an author list) are skipped.
- *Page chrome* is skipped: UI words and phrases ("Daily Papers", "Trending", "Upvote",
  "Submitted by ...", "Published on ..."), lines of only numbers and dates ("Jun 12", "42",
  "2026-06-12"), short all-caps lines ("NEW SUBMISSIONS"), lines ending in ":", author lists
  (3 or more commas between short capitalised names), and single-word lines. Title lines
  never followed by an abstract are chrome too (navigation, a page heading).
- An abstract with no title line before it is rejected with its line number.

Records carry the title and the abstract; the catalog matches them to papers by title, and a
title it does not know becomes a title-only paper."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from paperfeed.ingest.base import FormatError, Item, Rejection, clip, read_document
from paperfeed.papers.record import PaperRecord
from paperfeed.papers.text import normalize_text

SOURCE = "listing"
MIN_ABSTRACT_WORDS = 20
MAX_TITLE_WORDS = 40
MAX_TITLE_CHARS = 300

_UI_LINES = {
    "daily papers",
    "trending",
    "papers",
    "new",
    "top",
    "latest",
    "home",
    "models",
    "datasets",
    "spaces",
    "docs",
    "pricing",
    "search",
    "upvote",
    "upvoted",
    "log in",
    "login",
    "sign in",
    "sign up",
    "subscribe",
    "previous",
    "next",
    "show more",
    "load more",
    "view all",
    "pdf",
    "html",
    "code",
    "project page",
    "github",
    "abstract",
    "comments",
}
_UI_PREFIXES = re.compile(
    r"^(?:submitted by|published on|posted (?:on|by)|authors?\b|comments?\b|subjects?\b|"
    r"upvote|view (?:all|more)|see all|page \d|by ak\b|·|•|\|)",
    re.IGNORECASE,
)
# Month and day names are English as in the C locale: pages copied from English sites.
_DATE_WORDS = {
    *(n.lower() for n in (*calendar.month_name, *calendar.month_abbr, "sept") if n),
    *(n.lower() for n in (*calendar.day_name, *calendar.day_abbr)),
    *("on", "at", "published", "submitted", "updated", "today", "yesterday", "ago", "am", "pm"),
    *("day", "days", "week", "weeks", "month", "months"),
}
_NUMERIC = re.compile(r"^[\d.,:/+#×x%–-]+$")
_ABSTRACT_LABEL = re.compile(r"^abstract\s*[:.]?\s*", re.IGNORECASE)


@dataclass
class _Paragraph:
    line: int  # 1-based line of its first line
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def _paragraphs(text: str) -> Iterator[_Paragraph]:
    current: _Paragraph | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            if current is not None:
                yield current
            current = None
            continue
        if current is None:
            current = _Paragraph(number)
        current.lines.append(line)
    if current is not None:
        yield current


def is_abstract(paragraph: _Paragraph) -> bool:
    text = paragraph.text
    if len(text.split()) < MIN_ABSTRACT_WORDS:
        return False
    return len(paragraph.lines) > 1 or len(text) > 250 or text.endswith((".", "?", "!"))


def _is_date_or_number(words: list[str]) -> bool:
    return all(w.strip(",.()").lower() in _DATE_WORDS or _NUMERIC.match(w) for w in words)


def _is_author_list(line: str) -> bool:
    chunks = [c.strip() for c in re.split(r",|\band\b", line) if c.strip()]
    return line.count(",") >= 3 and all(len(c.split()) <= 4 and c[:1].isupper() for c in chunks)


def is_chrome(line: str) -> bool:
    """Page furniture rather than a paper title."""
    words = line.split()
    letters = [ch for ch in line if ch.isalpha()]
    return (
        len(words) < 2
        or line.lower().strip(" :") in _UI_LINES
        or bool(_UI_PREFIXES.match(line))
        or _is_date_or_number(words)
        or (len(words) <= 3 and bool(letters) and all(ch.isupper() for ch in letters))
        or line.endswith(":")
        or _is_author_list(line)
    )


def is_title(paragraph: _Paragraph) -> bool:
    line = paragraph.text
    return (
        len(paragraph.lines) == 1
        and len(line.split()) <= MAX_TITLE_WORDS
        and len(line) <= MAX_TITLE_CHARS
        and not is_chrome(line)
    )


def _record(title: str, abstract: str) -> PaperRecord:
    return PaperRecord(
        source=SOURCE,
        title=normalize_text(title),
        title_raw=title,
        abstract=normalize_text(abstract),
        abstract_raw=abstract,
    )


def read_listing(text: str, name: str) -> list[Item]:
    """All items of a listing, in page order."""
    items: list[Item] = []
    title: str | None = None
    title_line = 0
    abstract: list[str] = []  # of the paper being read; more paragraphs may follow

    def finish() -> None:
        nonlocal title
        if title is not None and abstract:
            try:
                items.append(_record(title, "\n\n".join(abstract)))
            except ValueError as exc:  # over a cap (PaperRecord)
                items.append(Rejection(f"{name}:{title_line}", str(exc)))
            title = None
        abstract.clear()

    for paragraph in _paragraphs(text):
        if is_abstract(paragraph):
            body = "\n".join(paragraph.lines)
            if abstract:
                abstract.append(body)
            elif title is not None:
                abstract.append(_ABSTRACT_LABEL.sub("", body, count=1))
            else:
                items.append(
                    Rejection(
                        f"{name}:{paragraph.line}",
                        f"abstract with no title line before it: {clip(paragraph.text, 80)}",
                    )
                )
        elif is_title(paragraph):
            finish()
            title, title_line = paragraph.text, paragraph.line
        elif abstract:
            finish()
    finish()
    return items


def parse(stream: BinaryIO, name: str, skip: int = 0) -> Iterator[Item]:
    """Yield one item per paper block. Fails fast if the text has no title/abstract block."""
    try:
        text = read_document(stream, name).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{name}: not a text file (not UTF-8: {exc})") from None
    # A copied page is small; reading it whole lets a page with no paper fail before import.
    items = read_listing(text, name)
    if not any(isinstance(item, PaperRecord) for item in items):
        raise FormatError(
            f"{name}: no papers found: expected blocks of a title line, a blank line and an "
            f"abstract paragraph of at least {MIN_ABSTRACT_WORDS} words"
        )
    yield from items[skip:]
