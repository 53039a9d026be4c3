"""arXiv API responses (Atom 1.0), saved to files or fetched by id.

Both serializations arXiv has used are read: the legacy one (namespaces declared on each
element, `http://arxiv.org/api/...` feed ids) and the 2026 one (namespaces on the root)."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import httpx
from lxml import etree

from paperfeed.ingest import xmlstream
from paperfeed.ingest.base import FormatError, Item, Rejection
from paperfeed.papers.authors import from_display_name
from paperfeed.papers.categories import is_category_code
from paperfeed.papers.dates import parse_iso
from paperfeed.papers.ids import InvalidArxivId, parse_arxiv_id, parse_doi
from paperfeed.papers.links import extract_links
from paperfeed.papers.record import PaperRecord
from paperfeed.papers.text import normalize_text

SOURCE = "arxiv-api"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
_FEED = f"{ATOM}feed"
_ENTRY = f"{ATOM}entry"
_ERROR_ID_PREFIXES = ("http://arxiv.org/api/errors", "https://arxiv.org/api/errors")
MAX_IDS_PER_REQUEST = 100


class ArxivApiError(FormatError):
    """arXiv answered with its error feed (a malformed id, a bad parameter...)."""


def _text(entry: etree._Element, tag: str) -> str | None:
    value = entry.findtext(tag)
    if value is None:
        return None
    return value.strip() or None


def _date(entry: etree._Element, tag: str) -> dt.datetime | None:
    raw = _text(entry, tag)
    value = parse_iso(raw)
    if raw and value is None:
        raise ValueError(f"<{tag.rsplit('}', 1)[-1]}> is not a date: {raw!r}")
    return value


def _categories(entry: etree._Element) -> list[str]:
    primary = entry.find(f"{ARXIV}primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [c.get("term", "") for c in entry.iter(f"{ATOM}category")]
    # The API also lists ACM and MSC classes ("I.2.6", "68T05") as categories.
    seen: dict[str, None] = {}
    for term in terms:
        term = term.strip()
        if term and is_category_code(term):
            seen.setdefault(term)
    return list(seen)


def _doi(entry: etree._Element) -> str | None:
    text = _text(entry, f"{ARXIV}doi")
    if text:
        return parse_doi(text.split()[0])
    for link in entry.iter(f"{ATOM}link"):
        if link.get("title") == "doi":
            return parse_doi(link.get("href", ""))
    return None


def record_from_entry(entry: etree._Element) -> PaperRecord:
    """One Atom <entry> -> PaperRecord; ValueError says what is wrong with it."""
    raw_id = _text(entry, f"{ATOM}id")
    if not raw_id:
        raise ValueError("missing <id>")
    try:
        arxiv_id = parse_arxiv_id(raw_id)
    except InvalidArxivId as exc:
        raise ValueError(str(exc)) from None
    title_raw = _text(entry, f"{ATOM}title")
    if not title_raw:
        raise ValueError("missing <title>")
    abstract_raw = entry.findtext(f"{ATOM}summary") or ""
    published = _date(entry, f"{ATOM}published")
    updated = _date(entry, f"{ATOM}updated") or published

    versions = []
    if published is not None:
        versions.append({"version": "v1", "created": published.isoformat()})
    if arxiv_id.version and arxiv_id.version > 1 and updated is not None:
        # The API describes only the latest version; its date is <updated>.
        versions.append({"version": f"v{arxiv_id.version}", "created": updated.isoformat()})

    names = [
        name.strip()
        for author in entry.iter(f"{ATOM}author")
        if (name := author.findtext(f"{ATOM}name")) and name.strip()
    ]
    categories = _categories(entry)
    comment = _text(entry, f"{ARXIV}comment")
    return PaperRecord(
        source=SOURCE,
        arxiv_id=arxiv_id.canonical,
        doi=_doi(entry),
        title=normalize_text(title_raw),
        title_raw=title_raw,
        abstract=normalize_text(abstract_raw),
        abstract_raw=abstract_raw,
        authors=[from_display_name(n) for n in names],
        authors_raw=", ".join(names) or None,
        primary_category=categories[0] if categories else None,
        categories=categories,
        versions=versions,
        submitted_at=published,
        updated_at=updated,
        comments=normalize_text(comment) or None,
        journal_ref=normalize_text(_text(entry, f"{ARXIV}journal_ref")) or None,
        links=extract_links(abstract_raw, comment),
        freshness=updated,
    )


def _raise_if_error(entry: etree._Element, name: str) -> None:
    entry_id = _text(entry, f"{ATOM}id") or ""
    if entry_id.startswith(_ERROR_ID_PREFIXES):
        message = _text(entry, f"{ATOM}summary") or entry_id
        raise ArxivApiError(f"{name}: the arXiv API returned an error: {message}")


def parse(source: BinaryIO, name: str, skip: int = 0) -> Iterator[Item]:
    """Yield one item per <entry>, streaming, after the first `skip`. Fails fast if the root
    is not an Atom feed and raises ArxivApiError for arXiv's error feed. XML that cannot be
    parsed on (an undeclared entity such as `&nbsp;`, a tag left open, a cut-off download)
    rejects the entry it is in, with its line, and reading starts again at the next entry
    (ingest/xmlstream.py); where there is none, the rejection says so (and is `unread`)."""
    counted = 0  # items, as `skip` counts them: every entry, and every break
    for found in xmlstream.stream(
        source,
        root=_FEED,
        item=_ENTRY,
        nouns=("entry", "entries"),
        name=name,
        wrong_root=lambda tag: FormatError(
            f"{name}: not an arXiv API response (expected an Atom <feed>, found <{tag}>)"
        ),
        not_xml=lambda exc: FormatError(f"{name}: not an arXiv API response (not XML: {exc})"),
        empty=lambda: FormatError(f"{name}: empty file, not an arXiv API response"),
    ):
        if isinstance(found, xmlstream.Break):
            counted += 1
            if counted > skip:
                yield found.rejection
            continue
        if not found.number:
            continue
        counted += 1
        element = found.element
        _raise_if_error(element, name)
        if counted > skip:
            try:
                yield record_from_entry(element)
            except ValueError as exc:
                location = f"{name} entry {found.number} (line {element.sourceline})"
                yield Rejection(location, str(exc))


Sleep = Callable[[float], None]


def fetch_ids(
    client: httpx.Client,
    endpoint: str,
    ids: Iterable[str],
    *,
    delay: float = 3.0,
    sleep: Sleep = time.sleep,
    batch_size: int = MAX_IDS_PER_REQUEST,
) -> list[PaperRecord]:
    """Fetch the latest version of papers by arXiv id, each paper once, in `id_list` queries
    of at most 100 ids, waiting `delay` seconds between requests as arXiv's terms ask.

    Raises InvalidArxivId for a malformed id (before any request), httpx.HTTPError for a
    failed request and ArxivApiError when arXiv answers with an error. Ids arXiv does not
    know are simply absent from the result, as are entries it returns malformed."""
    if not 1 <= batch_size <= MAX_IDS_PER_REQUEST:
        raise ValueError(f"batch_size must be 1..{MAX_IDS_PER_REQUEST}")
    # The catalog keeps the latest version of a paper, so that is the one asked for.
    wanted = list(dict.fromkeys(parse_arxiv_id(i).canonical for i in ids))
    records: list[PaperRecord] = []
    for start in range(0, len(wanted), batch_size):
        if start:
            sleep(delay)
        batch = wanted[start : start + batch_size]
        response = client.get(
            endpoint,
            params={"id_list": ",".join(batch), "start": 0, "max_results": len(batch)},
        )
        response.raise_for_status()
        items = parse(io.BytesIO(response.content), str(response.url))
        records.extend(item for item in items if isinstance(item, PaperRecord))
    return records
