"""OAI-PMH responses (ListRecords, GetRecord) in the oai_dc, arXiv and arXivRaw formats.

Saved responses are imported as files (`parse`); the harvester parses each page it fetches
(`parse_response`). The metadata format is detected per record from the namespace of the
metadata element, so a file may mix them. Parsing streams: records are released as soon as
they are read, so memory stays bounded however large the response."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from lxml import etree

from paperfeed.ingest import xmlstream
from paperfeed.ingest.base import FormatError, Item, Rejection, clip
from paperfeed.papers.authors import (
    Author,
    from_last_first,
    make_author,
    split_author_list,
)
from paperfeed.papers.categories import category_for_set_spec, code_for_name
from paperfeed.papers.dates import parse_iso, parse_rfc2822
from paperfeed.papers.ids import InvalidArxivId, parse_arxiv_id, parse_doi, try_parse_arxiv_id
from paperfeed.papers.links import extract_links
from paperfeed.papers.record import PaperRecord
from paperfeed.papers.text import normalize_text

SOURCE = "oai-pmh"
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
ARXIV_RAW_NS = "http://arxiv.org/OAI/arXivRaw/"

_OAI = f"{{{OAI_NS}}}"
_DC = f"{{{DC_NS}}}"
_ARXIV = f"{{{ARXIV_NS}}}"
_RAW = f"{{{ARXIV_RAW_NS}}}"
_ROOT = f"{_OAI}OAI-PMH"
_RECORD = f"{_OAI}record"
_HEADER = f"{_OAI}header"
_METADATA = f"{_OAI}metadata"
_TOKEN = f"{_OAI}resumptionToken"
_RESPONSE_DATE = f"{_OAI}responseDate"
_ERROR = f"{_OAI}error"
_NO_RECORDS = "noRecordsMatch"


class OAIError(FormatError):
    """The repository answered with an OAI-PMH error (badResumptionToken, badArgument...)."""

    def __init__(self, name: str, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{name}: OAI-PMH error {code}: {message or 'no message'}")


@dataclass
class ResponsePage:
    """One parsed response: its records and where the list goes on."""

    items: list[Item] = field(default_factory=list)
    resumption_token: str | None = None  # None: the list is complete
    complete_list_size: int | None = None
    response_date: str | None = None
    newest_datestamp: str | None = None  # of all records, deleted ones included
    broken: str | None = None  # why the XML could not be read to its end, if it could not


@dataclass(frozen=True, slots=True)
class _Header:
    identifier: str
    datestamp: str | None
    set_specs: tuple[str, ...]


# -- small readers -----------------------------------------------------------------------------


def _text(parent: etree._Element, tag: str) -> str | None:
    element = parent.find(tag)
    if element is None:
        return None
    return (element.text or "").strip() or None


def _texts(parent: etree._Element, tag: str) -> list[str]:
    values = ((e.text or "").strip() for e in parent.iterfind(tag))
    return [v for v in values if v]


def _raw_text(parent: etree._Element, tag: str) -> str | None:
    """Unstripped, as the snapshot keeps abstracts (leading spaces, line breaks)."""
    element = parent.find(tag)
    if element is None:
        return None
    value = element.text or ""
    return value if value.strip() else None


def _date(value: str | None, what: str) -> dt.datetime | None:
    parsed = parse_iso(value)
    if value and parsed is None:
        raise ValueError(f"{what} is not a date: {value!r}")
    return parsed


def _canonical_id(text: str) -> str:
    try:
        return parse_arxiv_id(text).canonical
    except InvalidArxivId as exc:
        raise ValueError(str(exc)) from None


def _doi(text: str | None) -> str | None:
    return parse_doi(text.split()[0]) if text and text.split() else None


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _with_set_fallback(categories: list[str], header: _Header) -> list[str]:
    if categories:
        return categories
    return _unique([category_for_set_spec(s) for s in header.set_specs])


def _finish(record: PaperRecord, header: _Header) -> PaperRecord:
    """What every format shares: the mappers fill the source's raw text (`comments` too) and
    this normalises it the same way for all."""
    if not record.title_raw:
        raise ValueError("record has no title")
    record.title = normalize_text(record.title_raw)
    record.abstract = normalize_text(record.abstract_raw)
    record.links = extract_links(record.abstract_raw, record.comments)
    record.comments = normalize_text(record.comments) or None
    record.journal_ref = normalize_text(record.journal_ref) or None
    record.categories = _with_set_fallback(record.categories, header)
    record.primary_category = record.categories[0] if record.categories else None
    record.check_caps()  # what was filled in here, too
    return record


# -- the three metadata formats ----------------------------------------------------------------


def _from_oai_dc(dc: etree._Element, header: _Header) -> PaperRecord:
    arxiv_id = try_parse_arxiv_id(header.identifier)
    doi = journal_ref = None
    for identifier in _texts(dc, f"{_DC}identifier"):
        if "arxiv.org/abs/" in identifier.lower():
            arxiv_id = arxiv_id or try_parse_arxiv_id(identifier)
        elif parse_doi(identifier):
            doi = doi or parse_doi(identifier)
        elif not identifier.lower().startswith(("http:", "https:", "urn:")):
            # What is left is the free-text journal reference ("Phys. Rev. D 95, 1 (2017)").
            journal_ref = journal_ref or identifier
    if arxiv_id is None:
        raise ValueError(f"no valid arXiv id (header identifier {header.identifier!r})")
    descriptions = [text for e in dc.iterfind(f"{_DC}description") if (text := e.text)]
    comments = [d.strip()[len("Comment:") :].strip() for d in descriptions if _is_comment(d)]
    abstracts = [d for d in descriptions if not _is_comment(d)]
    creators = _texts(dc, f"{_DC}creator")
    subjects = [code_for_name(s) for s in _texts(dc, f"{_DC}subject")]
    dates = [_date(d, "<dc:date>") for d in _texts(dc, f"{_DC}date")]
    record = PaperRecord(
        source=SOURCE,
        arxiv_id=arxiv_id.canonical,
        title_raw=_text(dc, f"{_DC}title"),
        abstract_raw=abstracts[0] if abstracts else None,
        comments=comments[0] if comments else None,
        categories=_unique([s for s in subjects if s]),
        doi=doi,
        journal_ref=journal_ref,
        authors=[from_last_first(c) for c in creators],
        authors_raw="; ".join(creators) or None,
        license=_text(dc, f"{_DC}rights"),
        submitted_at=dates[0] if dates else None,
        updated_at=dates[-1] if dates else None,
        freshness=_date(header.datestamp, "<datestamp>") or (dates[-1] if dates else None),
    )
    return _finish(record, header)


def _is_comment(description: str) -> bool:
    return description.lstrip().startswith("Comment:")


def _from_arxiv(meta: etree._Element, header: _Header) -> PaperRecord:
    raw_id = _text(meta, f"{_ARXIV}id") or header.identifier
    authors: list[Author] = [
        make_author(
            _text(a, f"{_ARXIV}keyname") or "",
            _text(a, f"{_ARXIV}forenames") or "",
            _text(a, f"{_ARXIV}suffix") or "",
        )
        for a in meta.iterfind(f"{_ARXIV}authors/{_ARXIV}author")
    ]
    created = _date(_text(meta, f"{_ARXIV}created"), "<created>")
    updated = _date(_text(meta, f"{_ARXIV}updated"), "<updated>") or created
    record = PaperRecord(
        source=SOURCE,
        arxiv_id=_canonical_id(raw_id),
        **_shared_fields(meta, _ARXIV),
        authors=authors,
        authors_raw=", ".join(a["name"] for a in authors) or None,
        submitted_at=created,
        updated_at=updated,
        freshness=_date(header.datestamp, "<datestamp>") or updated,
    )
    return _finish(record, header)


def _shared_fields(meta: etree._Element, ns: str) -> dict[str, Any]:
    """Fields the arXiv and arXivRaw formats name alike (in their own namespaces)."""
    return {
        "title_raw": _text(meta, f"{ns}title"),
        "abstract_raw": _raw_text(meta, f"{ns}abstract"),
        "comments": _text(meta, f"{ns}comments"),
        "categories": _unique((_text(meta, f"{ns}categories") or "").split()),
        "doi": _doi(_text(meta, f"{ns}doi")),
        "journal_ref": _text(meta, f"{ns}journal-ref"),
        "report_no": _text(meta, f"{ns}report-no"),
        "license": _text(meta, f"{ns}license"),
    }


def _from_arxiv_raw(meta: etree._Element, header: _Header) -> PaperRecord:
    raw_id = _text(meta, f"{_RAW}id") or header.identifier
    versions: list[dict[str, str]] = []
    for element in meta.iterfind(f"{_RAW}version"):
        label = element.get("version") or f"v{len(versions) + 1}"
        stamp = _text(element, f"{_RAW}date")
        created = parse_rfc2822(stamp) if stamp else None
        if stamp and created is None:
            raise ValueError(f"{label} date is not an RFC 2822 date: {stamp!r}")
        version = {"version": label, "created": created.isoformat() if created else ""}
        size = _text(element, f"{_RAW}size")
        if size:
            version["size"] = size
        versions.append(version)
    stamps = [parse_iso(v["created"]) for v in versions if v["created"]]
    latest = max((s for s in stamps if s is not None), default=None)
    authors_raw = _text(meta, f"{_RAW}authors")
    record = PaperRecord(
        source=SOURCE,
        arxiv_id=_canonical_id(raw_id),
        **_shared_fields(meta, _RAW),
        submitter=_text(meta, f"{_RAW}submitter"),
        authors=split_author_list(authors_raw) if authors_raw else [],
        authors_raw=authors_raw,
        versions=versions,
        updated_at=latest,
        freshness=_date(header.datestamp, "<datestamp>") or latest,
    )
    return _finish(record, header)


_Mapper = Callable[[etree._Element, _Header], PaperRecord]
_MAPPERS: dict[str, _Mapper] = {
    f"{{{OAI_DC_NS}}}dc": _from_oai_dc,
    f"{_ARXIV}arXiv": _from_arxiv,
    f"{_RAW}arXivRaw": _from_arxiv_raw,
}


# -- records and the envelope ------------------------------------------------------------------


def _is_deleted(record: etree._Element) -> bool:
    header = record.find(_HEADER)
    return header is not None and header.get("status") == "deleted"


def _record_item(record: etree._Element, location: str) -> Item:
    header_element = record.find(_HEADER)
    if header_element is None:
        return Rejection(location, "record has no <header>")
    header = _Header(
        identifier=_text(header_element, f"{_OAI}identifier") or "",
        datestamp=_text(header_element, f"{_OAI}datestamp"),
        set_specs=tuple(_texts(header_element, f"{_OAI}setSpec")),
    )
    metadata = record.find(_METADATA)
    payload = (
        next(iter(metadata.iterchildren(tag=etree.Element)), None) if metadata is not None else None
    )
    if payload is None:
        return Rejection(location, f"record {header.identifier or '?'} has no metadata")
    mapper = _MAPPERS.get(payload.tag)
    if mapper is None:
        return Rejection(location, f"unsupported metadata format <{payload.tag}>")
    try:
        return mapper(payload, header)
    except ValueError as exc:
        return Rejection(location, f"{header.identifier or 'record'}: {exc}")


def _read(source: BinaryIO, name: str, page: ResponsePage, skip: int = 0) -> Iterator[Item]:
    """Yield one item per record that is not deleted, after the first `skip` of them; fill
    `page` with the envelope (token, dates). Deleted records yield nothing. XML that cannot
    be parsed on rejects the record it is in, and reading starts again at the next record;
    where there is none to start at, the rejection says so (and is `unread`)."""
    counted = 0  # items, as `skip` counts them: records not deleted, and breaks
    for found in xmlstream.stream(
        source,
        root=_ROOT,
        item=_RECORD,
        nouns=("record", "records"),
        name=name,
        wrong_root=lambda tag: FormatError(
            f"{name}: not an OAI-PMH response (root element <{tag}>, "
            f"expected <OAI-PMH> in {OAI_NS})"
        ),
        not_xml=lambda exc: FormatError(f"{name}: not OAI-PMH XML ({exc})"),
        empty=lambda: FormatError(f"{name}: empty file, not an OAI-PMH response"),
    ):
        if isinstance(found, xmlstream.Break):
            page.broken = page.broken or f"the XML breaks off at {found.where}"
            counted += 1
            if counted > skip:
                yield found.rejection
            continue
        element, tag = found.element, found.element.tag
        if found.number:  # a record
            stamp = element.findtext(f"{_HEADER}/{_OAI}datestamp")
            if stamp and (page.newest_datestamp is None or stamp > page.newest_datestamp):
                page.newest_datestamp = stamp.strip()
            if not _is_deleted(element):
                counted += 1
                if counted > skip:
                    yield _record_item(element, f"{name} record {found.number}")
        elif tag == _TOKEN:
            page.resumption_token = (element.text or "").strip() or None
            size = element.get("completeListSize")
            page.complete_list_size = int(size) if size and size.isdigit() else None
        elif tag == _RESPONSE_DATE:
            page.response_date = (element.text or "").strip() or None
        elif tag == _ERROR:
            code = element.get("code") or "unknown"
            if code != _NO_RECORDS:
                raise OAIError(name, code, clip(element.text or ""))


def parse(stream: BinaryIO, name: str, skip: int = 0) -> Iterator[Item]:
    """Items of a saved OAI-PMH response, in file order; the importer's entry point."""
    yield from _read(stream, name, ResponsePage(), skip)


def parse_response(body: bytes, name: str = "response") -> ResponsePage:
    """Parse one fetched page: its items, and the token of the next page (None when the list
    is complete). `noRecordsMatch` is an empty page; other OAI errors raise OAIError."""
    page = ResponsePage()
    page.items = list(_read(io.BytesIO(body), name, page))
    return page
