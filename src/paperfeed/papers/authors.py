"""Author names: display form and parsed parts (last, first, suffix)."""

from __future__ import annotations

import re
import unicodedata
from typing import TypedDict
from urllib.parse import quote

from paperfeed.papers.text import collapse_whitespace, detex_accents


class Author(TypedDict):
    name: str
    last: str
    first: str
    suffix: str


_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
_PARTICLES = {
    "van",
    "von",
    "de",
    "der",
    "den",
    "di",
    "da",
    "del",
    "della",
    "du",
    "la",
    "le",
    "dos",
    "das",
    "ter",
    "ten",
    "zu",
    "st.",
    "af",
    "al",
    "bin",
    "ibn",
}
_SPLIT_AND = re.compile(r",?\s+and\s+|\s*&\s*|;\s*", re.IGNORECASE)


def _clean(part: str) -> str:
    if "\\" in part:
        part = detex_accents(part)
    if "  " in part or "\n" in part or "\t" in part:
        part = collapse_whitespace(part)
    return part.strip(" ,")


def make_author(last: str, first: str = "", suffix: str = "") -> Author:
    last, first, suffix = _clean(last), _clean(first), _clean(suffix)
    # The snapshot's authors_parsed spells hyphenated initials "C. -P."; arXiv writes "C.-P.".
    if ". -" in first:
        first = first.replace(". -", ".-")
    name = f"{first} {last}" if first and last else first or last
    if suffix:
        name = f"{name} {suffix}"
    return {"name": name, "last": last, "first": first, "suffix": suffix}


def from_display_name(name: str) -> Author:
    """Split "Ludwig van Beethoven Jr." into parts; the last name keeps its particles."""
    tokens = _clean(name).split()
    suffix = ""
    if len(tokens) > 1 and tokens[-1].lower() in _SUFFIXES:
        suffix = tokens.pop()
    if not tokens:
        return make_author("", "", suffix)
    start = len(tokens) - 1
    while start > 1 and tokens[start - 1].lower() in _PARTICLES:
        start -= 1
    return make_author(" ".join(tokens[start:]), " ".join(tokens[:start]), suffix)


def from_last_first(name: str) -> Author:
    """Parse "Last, First" (oai_dc) or "Last, Jr., First"; falls back to display order."""
    parts = [p.strip() for p in name.split(",")]
    if len(parts) == 1:
        return from_display_name(name)
    if len(parts) >= 3 and parts[1].lower() in _SUFFIXES:
        return make_author(parts[0], ", ".join(parts[2:]), parts[1])
    return make_author(parts[0], ", ".join(parts[1:]))


def _strip_parenthesised(text: str) -> str:
    if "(" not in text:
        return text
    # Affiliations in author strings: "A. Smith (MIT, Cambridge), B. Jones ((1) and (2))".
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def split_author_list(text: str) -> list[Author]:
    """Parse arXiv's free-text author list: "A. One, B. Two and C. Three"."""
    text = _strip_parenthesised(collapse_whitespace(text))
    names: list[str] = []
    for chunk in _SPLIT_AND.split(text):
        for piece in chunk.split(","):
            piece = piece.strip()
            if not piece:
                continue
            if piece.lower() in _SUFFIXES and names:
                names[-1] = f"{names[-1]} {piece}"
            else:
                names.append(piece)
    return [from_display_name(n) for n in names]


MAX_NAME = 300  # characters of a name looked up (an author's page, feed or API call)
_NOT_WORD = re.compile(r"[\W_]+")


def author_key(name: str) -> str:
    """A name normalised for matching: accents and case folded, punctuation and spacing
    collapsed ("Balázs  Szegedy", "balazs szegedy" and "Balazs-Szegedy" are one key)."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", letters.casefold()).split())


def author_path(name: str) -> str:
    """The author's page: `/authors/NAME` (the name quoted, slashes included)."""
    return "/authors/" + quote(name, safe="")
