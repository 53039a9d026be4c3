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


_RECORD = re.compile(rb"<record>.*?</record>", re.DOTALL)
_SET_SPEC = re.compile(rb"<setSpec>([^<]*)</setSpec>")


def _in_set(specs: list[str], set_spec: str) -> bool:
    return any(s == set_spec or s.startswith(set_spec + ":") for s in specs)


def _only_set(body: bytes, set_spec: str) -> bytes:
    """The page with only the records in `set_spec` (each kept byte for byte)."""

    def kept(record: re.Match[bytes]) -> bytes:
        specs = [spec.decode() for spec in _SET_SPEC.findall(record[0])]
        return record[0] if _in_set(specs, set_spec) else b""

    return _RECORD.sub(kept, body)


def record_ids(
    endpoint: DayPagesEndpoint, first_page: int, last_page: int, set_spec: str = ""
) -> set[str]:
    """arXiv ids of the records on pages first..last (inclusive), read straight from XML."""
    pages = [path for _, path in endpoint.pages[first_page : last_page + 1]]
    return page_ids(pages, set_spec)


def page_ids(pages: list[Path], set_spec: str = "") -> set[str]:
    """arXiv ids of the records (not marked deleted) of the saved pages `pages`, read
    straight from their XML, without the importer's parser (of those in `set_spec`)."""
    return {
        arxiv_id
        for path in pages
        for arxiv_id, specs in _page_records(path)
        if not set_spec or _in_set(specs, set_spec)
    }


def ids_between(
    endpoint: DayPagesEndpoint, first_day: str, last_day: str, set_spec: str = ""
) -> set[str]:
    window = [i for i, (day, _) in enumerate(endpoint.pages) if first_day <= day <= last_day]
    return record_ids(endpoint, window[0], window[-1], set_spec) if window else set()


@functools.lru_cache(maxsize=128)
def _page_records(path: Path) -> list[tuple[str, list[str]]]:
    """(arXiv id, set specs) of each record of a saved page not marked deleted."""
    records = []
    for header in etree.fromstring(page_body(path)).iter(f"{OAI}header"):
        if header.get("status") != "deleted":
            identifier = header.findtext(f"{OAI}identifier") or ""
            specs = [s.text or "" for s in header.iter(f"{OAI}setSpec")]
            records.append((identifier.removeprefix("oai:arXiv.org:"), specs))
    return records
