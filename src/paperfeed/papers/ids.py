"""Paper identifiers: arXiv ids (parsing, validation and canonical form without version) and
the id every channel takes and prints for a paper (`public_id`: its arXiv id, or `pf-N`, N
its catalog row, for papers without one)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# New style since 2007-04: YYMM.NNNN (to 2014-12) or YYMM.NNNNN (from 2015-01).
_NEW = re.compile(r"(?P<yymm>\d{4})\.(?P<num>\d{4,5})(?:v(?P<version>\d+))?")
# Old style: archive(.SUBJECT-CLASS)/YYMMNNN, e.g. hep-th/9901001, math.AG/0309136.
_OLD = re.compile(
    r"(?P<archive>[a-z][a-z\-]*)(?:\.(?P<subject>[A-Za-z\-]{2,}))?/(?P<yymm>\d{4})(?P<num>\d{3})"
    r"(?:v(?P<version>\d+))?"
)
_URL_PREFIX = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format|api/query\?id_list=)/?",
    re.IGNORECASE,
)
_ARXIV_PREFIX = re.compile(r"^(?:arxiv:|oai:arxiv\.org:)", re.IGNORECASE)


# Exactly the ids above (months that exist, the number length of their month), bare or as an
# `arXiv:` reference or an arxiv.org abs/pdf URL: the pattern the API documents for a paper
# reference, and every text it matches parses (tests/papers/test_ids.py). JSON Schema
# (ECMA-262) and Python read it alike.
_NEW_ID_PATTERN = (
    r"(?:07(?:0[4-9]|1[0-2])|(?:0[89]|1[0-4])(?:0[1-9]|1[0-2]))\.[0-9]{4}"  # to 2014-12
    r"|(?:1[5-9]|[2-9][0-9])(?:0[1-9]|1[0-2])\.[0-9]{5}"  # from 2015-01
)
_OLD_ID_PATTERN = r"[a-z][a-z-]*(?:\.[A-Za-z-]{2,})?/(?:9[1-9]|0[0-7])(?:0[1-9]|1[0-2])[0-9]{3}"
ARXIV_REFERENCE_PATTERN = (
    r"^(?:(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/|arXiv:|arxiv:)?"
    rf"(?:{_NEW_ID_PATTERN}|{_OLD_ID_PATTERN})(?:v[0-9]+)?(?:\.pdf)?$"
)


class InvalidArxivId(ValueError):
    """The text is not an arXiv identifier."""


@dataclass(frozen=True, slots=True)
class ArxivId:
    canonical: str  # without version: "2301.01234", "hep-th/9901001"
    version: int | None

    @property
    def versioned(self) -> str:
        return f"{self.canonical}v{self.version}" if self.version else self.canonical

    @property
    def is_old_style(self) -> bool:
        return "/" in self.canonical


def _valid_yymm(yymm: str, *, new_style: bool) -> bool:
    yy, mm = int(yymm[:2]), int(yymm[2:])
    if not 1 <= mm <= 12:
        return False
    if new_style:
        return yy > 7 or (yy == 7 and mm >= 4)
    # Old-style ids ran from 1991-08 to 2007-03.
    return yy >= 91 or yy <= 7


def parse_arxiv_id(text: str) -> ArxivId:
    """Parse an id, an `arXiv:` reference or an arxiv.org URL; raise InvalidArxivId otherwise."""
    candidate = text.strip()
    match = _NEW.fullmatch(candidate)  # a bare new-style id, the usual case, needs no cleanup
    if match is None:
        candidate = _URL_PREFIX.sub("", candidate)
        candidate = _ARXIV_PREFIX.sub("", candidate)
        candidate = candidate.split("?", 1)[0].split("#", 1)[0].rstrip("/")
        if candidate.lower().endswith(".pdf"):
            candidate = candidate[:-4]
        match = _NEW.fullmatch(candidate)
    if match:
        if not _valid_yymm(match["yymm"], new_style=True):
            raise InvalidArxivId(f"not an arXiv id (no such month): {text!r}")
        yymm = match["yymm"]
        num = match["num"]
        # Five-digit numbers started in 1501; four-digit ones ended in 1412.
        if (len(num) == 5) != (yymm >= "1501"):
            raise InvalidArxivId(f"not an arXiv id (wrong number length for {yymm}): {text!r}")
        version = int(match["version"]) if match["version"] else None
        return ArxivId(f"{yymm}.{num}", version)
    match = _OLD.fullmatch(candidate)
    if match:
        if not _valid_yymm(match["yymm"], new_style=False):
            raise InvalidArxivId(f"not an arXiv id (no such month): {text!r}")
        archive = match["archive"].lower()
        version = int(match["version"]) if match["version"] else None
        # The subject class is part of the listing, not of the identity: math.AG/0309136 is
        # math/0309136.
        return ArxivId(f"{archive}/{match['yymm']}{match['num']}", version)
    raise InvalidArxivId(f"not an arXiv id: {text!r}")


def try_parse_arxiv_id(text: str) -> ArxivId | None:
    try:
        return parse_arxiv_id(text)
    except InvalidArxivId:
        return None


# Catalog rows are 32-bit integers: a larger `pf-N` names no paper.
MAX_ROW_ID = 2**31 - 1
_ROW_ID = re.compile(r"(?:pf-|#)([0-9]{1,20})")  # `#N`: the CLI's older spelling


class InvalidPaperId(ValueError):
    """The text names no paper: neither an arXiv id or URL nor `pf-N`."""


@dataclass(frozen=True, slots=True)
class PaperId:
    """What a paper id names: a canonical arXiv id, or a catalog row."""

    arxiv_id: str | None = None
    row_id: int | None = None


def parse_paper_id(text: str) -> PaperId:
    """An arXiv id (old or new style, any version), an `arXiv:` reference or arxiv.org URL,
    or `pf-N` (also `#N`); raises InvalidPaperId otherwise."""
    text = text.strip()
    match = _ROW_ID.fullmatch(text)
    if match:
        return PaperId(row_id=int(match[1]))
    try:
        return PaperId(arxiv_id=parse_arxiv_id(text).canonical)
    except InvalidArxivId:
        raise InvalidPaperId(
            f"{text[:80]!r} is not an arXiv id or URL, nor a paper id such as pf-12"
        ) from None


def public_id(arxiv_id: str | None, row_id: int) -> str:
    """The id pages, APIs, feeds and the CLI show: the arXiv id, else `pf-N`."""
    return arxiv_id or f"pf-{row_id}"


def abs_url(canonical: str) -> str:
    return f"https://arxiv.org/abs/{canonical}"


def pdf_url(canonical: str) -> str:
    return f"https://arxiv.org/pdf/{canonical}"


_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)


def parse_doi(text: str) -> str | None:
    """A DOI in canonical lower-case form, or None."""
    match = _DOI.match(text.strip())
    return match.group(1).rstrip(".,;").lower() if match else None
