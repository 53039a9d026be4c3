"""The real 2017Q1 oai_dc pages (`YYYY-MM-DD-NN.xml.gz`, one day's ListRecords per file) served
as an OAI-PMH endpoint that answers `ListRecords` with from/until/set over many days.

Records are served verbatim, page by page as they were recorded. Only the envelope is
rewritten: the responseDate says it is `today`, and the resumptionToken chains the pages of
the whole window across days instead of within one day."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from isal import igzip
from lxml import etree

from tests.support.http import Response

OAI = "{http://www.openarchives.org/OAI/2.0/}"
_PAGE_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-(\d{2})\.xml\.gz$")
_TOKEN = re.compile(rb"<resumptionToken[^>]*/>|<resumptionToken[^>]*>[^<]*</resumptionToken>")
_RESPONSE_DATE = re.compile(rb"<responseDate>[^<]*</responseDate>")
_END_OF_LIST = b"</ListRecords>"


def oai_error(code: str, message: str, today: str = "2017-04-01") -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        f"<responseDate>{today}T23:59:59Z</responseDate>"
        '<request verb="ListRecords">http://localhost/oai</request>'
        f'<error code="{code}">{message}</error></OAI-PMH>'
    )
    return Response(body.encode())


@dataclass
class DayPagesEndpoint:
    """Route for FixtureServer. `today`: the last day whose records exist (later days are
    the future). `generation`: bump it to expire every token handed out so far."""

    directory: Path
    today: str = "2017-04-01"
    generation: int = 0
    pages: list[tuple[str, Path]] = field(init=False)

    def __post_init__(self) -> None:
        named = ((_PAGE_NAME.match(p.name), p) for p in self.directory.iterdir())
        self.pages = sorted((m[1], p) for m, p in named if m)

    def route(self, path: str, params: dict[str, list[str]]) -> Response | None:
        if path != "/oai":
            return None
        args = {key: values[0] for key, values in params.items()}
        if args.pop("verb", None) != "ListRecords":
            return self._error("badVerb", "only ListRecords is served here")
        if "resumptionToken" in args:
            if len(args) != 1:
                return self._error("badArgument", "resumptionToken is an exclusive argument")
            return self._resume(args["resumptionToken"])
        if args.pop("metadataPrefix", None) != "oai_dc":
            return self._error("cannotDisseminateFormat", "only oai_dc is recorded")
        first, until, set_spec = args.pop("from", ""), args.pop("until", ""), args.pop("set", "")
        if args:
            return self._error("badArgument", f"unknown arguments {sorted(args)}")
        last = min(until or self.today, self.today)
        window = [i for i, (day, _) in enumerate(self.pages) if first <= day <= last]
        if not window or (set_spec and not record_ids(self, window[0], window[-1], set_spec)):
            return self._error("noRecordsMatch", "no records in this window")
        return self._page(window[0], last, set_spec)

    def _error(self, code: str, message: str) -> Response:
        return oai_error(code, message, self.today)

    def _resume(self, token: str) -> Response:
        parts = token.split("|")
        if len(parts) != 4 or parts[0] != str(self.generation) or not parts[1].isdigit():
            return self._error("badResumptionToken", f"expired or unknown token {token!r}")
        return self._page(int(parts[1]), parts[2], parts[3])

    def _page(self, index: int, last_day: str, set_spec: str) -> Response:
        nxt = index + 1
        more = nxt < len(self.pages) and self.pages[nxt][0] <= last_day
        token = f"{self.generation}|{nxt}|{last_day}|{set_spec}" if more else ""
        body = page_body(self.pages[index][1])
        element = f"<resumptionToken>{token}</resumptionToken>".encode() if token else b""
        if _TOKEN.search(body):
            body = _TOKEN.sub(element, body, count=1)
        else:
            body = body.replace(_END_OF_LIST, element + _END_OF_LIST, 1)
        if set_spec:
            body = _only_set(body, set_spec)
        date = f"<responseDate>{self.today}T23:59:59Z</responseDate>".encode()
        return Response(_RESPONSE_DATE.sub(date, body, count=1))


@functools.lru_cache(maxsize=16)
def page_body(path: Path) -> bytes:
    """A saved page, inflated (kept for the next request of it: the pages are read-only)."""
    return igzip.decompress(path.read_bytes())


def _in_set(record: etree._Element, set_spec: str) -> bool:
    specs = [s.text or "" for s in record.iter(f"{OAI}setSpec")]
    return any(s == set_spec or s.startswith(set_spec + ":") for s in specs)


def _only_set(body: bytes, set_spec: str) -> bytes:
    root = etree.fromstring(body)
    for record in list(root.iter(f"{OAI}record")):
        if not _in_set(record, set_spec):
            parent = record.getparent()
            assert parent is not None
            parent.remove(record)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def record_ids(
    endpoint: DayPagesEndpoint, first_page: int, last_page: int, set_spec: str = ""
) -> set[str]:
    """arXiv ids of the records on pages first..last (inclusive), read straight from XML."""
    pages = [path for _, path in endpoint.pages[first_page : last_page + 1]]
    return page_ids(pages, set_spec)


def page_ids(pages: list[Path], set_spec: str = "") -> set[str]:
    """arXiv ids of the records (not marked deleted) of the saved pages `pages`, read
    straight from their XML, without the importer's parser (of those in `set_spec`)."""
    ids: set[str] = set()
    for path in pages:
        for record in etree.fromstring(page_body(path)).iter(f"{OAI}record"):
            header = record.find(f"{OAI}header")
            if header is None or header.get("status") == "deleted":
                continue
            if not set_spec or _in_set(record, set_spec):
                identifier = header.findtext(f"{OAI}identifier") or ""
                ids.add(identifier.removeprefix("oai:arXiv.org:"))
    return ids


def ids_between(
    endpoint: DayPagesEndpoint, first_day: str, last_day: str, set_spec: str = ""
) -> set[str]:
    window = [i for i, (day, _) in enumerate(endpoint.pages) if first_day <= day <= last_day]
    return record_ids(endpoint, window[0], window[-1], set_spec) if window else set()
