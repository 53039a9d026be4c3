"""Incremental OAI-PMH harvesting: ListRecords page by page into the catalog.

Each page's papers and the harvest state (the token of the next page, the newest datestamp)
commit in one transaction, so a harvest killed at any moment resumes at the first page it
had not committed. A finished window records the day it covers up to; the next run starts
from that day (OAI dates are inclusive, and re-reading a day changes nothing)."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TextIO

import httpx
import sqlalchemy as sa

from paperfeed import __version__
from paperfeed.clock import Clock
from paperfeed.db.schema import harvest_state
from paperfeed.ingest.base import FormatError, Rejection
from paperfeed.ingest.oaipmh import OAIError, ResponsePage, parse_response
from paperfeed.ingest.runner import ImportSummary, write_batch
from paperfeed.papers.categories import category_set_spec
from paperfeed.papers.dates import utc_naive
from paperfeed.papers.record import PaperRecord
from paperfeed.progress import Progress, ProgressEvent
from paperfeed.runtime import Runtime

USER_AGENT = f"paperfeed/{__version__} (+self-hosted)"
MAX_RETRY_AFTER = 600.0  # a server asking for longer is treated as if it asked for this
BACKOFF_FIRST = 5.0  # seconds before the first retry of a failed request; doubles each time
BACKOFF_MAX = 120.0

Sleep = Callable[[float], None]


def _name_not_resolved(exc: httpx.TransportError) -> bool:
    text = str(exc)
    return isinstance(exc, httpx.ConnectError) and (
        "Name or service not known" in text
        or "Temporary failure in name resolution" in text
        or "No address associated with hostname" in text
    )


class HarvestUnavailable(Exception):
    """The repository could not be reached, or kept failing until the retries ran out."""


def _retry_after(header: str | None, now: dt.datetime) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date)."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    # (A date without a zone is UTC, as HTTP dates are.)
    return max(0.0, (utc_naive(when) - utc_naive(now)).total_seconds())


@dataclass
class _State:
    window_from: str | None = None
    resumption_token: str | None = None
    pages_done: int = 0
    last_datestamp: str | None = None
    completed_until: str | None = None

    def page_done(self, page: ResponsePage, until: str | None, first_response: str | None) -> None:
        self.pages_done += 1
        self.resumption_token = page.resumption_token
        if page.newest_datestamp:
            day = page.newest_datestamp[:10]
            if self.last_datestamp is None or day > self.last_datestamp:
                self.last_datestamp = day
        if page.resumption_token is None:
            # Records changed after the list's first response may be missing from it; the
            # next window starts on that response's day to catch them.
            ends = [day for day in (until, first_response) if day]
            self.completed_until = min(ends) if ends else self.last_datestamp


class Harvester:
    """Harvests one OAI-PMH endpoint into the catalog. `sleep` and `clock` are injectable so
    that tests see the waits without waiting; the clock is the runtime's unless given."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        endpoint: str | None = None,
        progress: Progress | None = None,
        client: httpx.Client | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock | None = None,
        log: TextIO = sys.stderr,
    ) -> None:
        settings = runtime.settings
        self.engine = runtime.engine
        self.writer = runtime.catalog_writer
        self.endpoint = endpoint or settings.oai_endpoint
        self.delay = settings.request_delay
        self.retries = settings.http_retries
        self.progress = progress
        self.sleep = sleep
        self.clock = clock or runtime.clock
        self.log = log
        self._own_client = client is None
        self.client = client or httpx.Client(
            timeout=settings.http_timeout,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
        )
        self._requests = 0
        self._pending_wait = 0.0

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    # -- HTTP ------------------------------------------------------------------------------------

    def _get(self, params: dict[str, str]) -> httpx.Response:
        # arXiv asks for one request at a time with pauses between; a retry waits at least as
        # long as the server or the backoff asked.
        if self._requests:
            pause = max(self.delay, self._pending_wait)
            if pause > 0:
                self.sleep(pause)
        self._pending_wait = 0.0
        self._requests += 1
        return self.client.get(self.endpoint, params=params)

    def fetch(self, params: dict[str, str]) -> ResponsePage:
        """One page, retried on transient failures; OAIError for an OAI error answer."""
        attempts = self.retries + 1
        problem, tried = "no attempt made", 0
        for attempt in range(attempts):
            tried = attempt + 1
            backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2**attempt)
            try:
                response = self._get(params)
            except httpx.TransportError as exc:  # refused, timed out, dropped connection
                problem = f"{type(exc).__name__}: {exc}"
                if _name_not_resolved(exc):
                    break  # offline, or a wrong endpoint: retrying cannot help
                self._pending_wait = backoff
                continue
            status = response.status_code
            if status == 200:
                page = parse_response(response.content, f"{self.endpoint} page")
                if page.broken is None:
                    return page
                problem = f"a malformed response ({page.broken})"
                self._pending_wait = backoff
            elif status in (429, 503) or status >= 500:
                problem = f"HTTP {status}"
                asked = _retry_after(response.headers.get("Retry-After"), self.clock())
                wait = backoff if asked is None else min(asked, MAX_RETRY_AFTER)
                self._pending_wait = wait
                if asked is not None:
                    print(
                        f"{self.endpoint}: HTTP {status}, retrying in {wait:.0f} s", file=self.log
                    )
            else:
                return self._client_error(response)
        raise HarvestUnavailable(
            f"{self.endpoint}: {problem} (gave up after {tried} attempt{'s' if tried > 1 else ''})"
        )

    def _client_error(self, response: httpx.Response) -> ResponsePage:
        """Some repositories send OAI errors with a 4xx status; the body is then the answer
        (OAIError, or an empty noRecordsMatch page). Anything else is not worth retrying."""
        try:
            page = parse_response(response.content, f"{self.endpoint} page")
        except OAIError:
            raise
        except FormatError:
            page = None
        if page is None or page.broken is not None:
            raise HarvestUnavailable(f"{self.endpoint} answered HTTP {response.status_code}")
        return page

    # -- state -----------------------------------------------------------------------------------

    def _load(self, key: str) -> _State:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(harvest_state).where(harvest_state.c.key == key)).first()
        if row is None:
            return _State()
        return _State(
            window_from=row.window_from,
            resumption_token=row.resumption_token,
            pages_done=row.pages_done,
            last_datestamp=row.last_datestamp,
            completed_until=row.completed_until,
        )

    def _saver(
        self, key: str, prefix: str, set_spec: str | None, state: _State
    ) -> Callable[[sa.Connection], None]:
        values = {
            "endpoint": self.endpoint,
            "metadata_prefix": prefix,
            "set_spec": set_spec,
            "window_from": state.window_from,
            "resumption_token": state.resumption_token,
            "pages_done": state.pages_done,
            "last_datestamp": state.last_datestamp,
            "completed_until": state.completed_until,
            "updated_at": utc_naive(self.clock()),
        }

        def save(conn: sa.Connection) -> None:
            updated = conn.execute(
                harvest_state.update().where(harvest_state.c.key == key).values(values)
            )
            if updated.rowcount == 0:
                conn.execute(harvest_state.insert().values(key=key, **values))

        return save

    # -- the loop --------------------------------------------------------------------------------

    def harvest(
        self,
        set_spec: str | None,
        *,
        metadata_prefix: str = "arXiv",
        from_date: str | None = None,
        until: str | None = None,
        first_run_from: str | None = None,
    ) -> ImportSummary:
        """Harvest one set (None: the whole repository). Without `from_date`, an interrupted
        window resumes from its token, and otherwise a new window starts where the last one
        ended; a first run starts at `first_run_from` (None: the whole set)."""
        key = f"{self.endpoint}|{metadata_prefix}|{set_spec or ''}"
        state = self._load(key)
        started = time.perf_counter()
        summary = ImportSummary()

        def first_page() -> dict[str, str]:
            params = {"verb": "ListRecords", "metadataPrefix": metadata_prefix}
            for name, value in (("set", set_spec), ("from", state.window_from), ("until", until)):
                if value:
                    params[name] = value
            return params

        resuming = from_date is None and state.resumption_token is not None
        if resuming:
            assert state.resumption_token is not None
            params = {"verb": "ListRecords", "resumptionToken": state.resumption_token}
            print(
                f"{set_spec or 'all'}: resuming after page {state.pages_done} of the window "
                f"from {state.window_from or 'the beginning'}",
                file=self.log,
            )
        else:
            state.window_from = (
                from_date or state.completed_until or state.last_datestamp or first_run_from
            )
            state.pages_done = 0
            params = first_page()
        response_days: list[str] = []
        received = 0  # records, in the pages of this run
        total: int | None = None
        while True:
            try:
                page = self.fetch(params)
            except OAIError as exc:
                # arXiv's tokens expire daily: restart the window rather than give up.
                if exc.code != "badResumptionToken" or "resumptionToken" not in params:
                    raise
                print(f"{exc}; restarting the window", file=self.log)
                state.pages_done = 0
                params = first_page()
                continue
            if page.response_date:
                response_days.append(page.response_date[:10])
            state.page_done(page, until, min(response_days, default=None))
            self._write(page, summary, self._saver(key, metadata_prefix, set_spec, state))
            received += len(page.items)
            total = total or page.complete_list_size
            if self.progress is not None:
                self.progress(
                    ProgressEvent(
                        task=set_spec or "all",
                        done=received,
                        total=total,
                        unit="rec",
                        detail=f"{state.pages_done} pages",
                        finished=page.resumption_token is None,
                    )
                )
            if page.resumption_token is None:
                break
            params = {"verb": "ListRecords", "resumptionToken": page.resumption_token}
        summary.seconds = time.perf_counter() - started
        return summary

    def _write(
        self, page: ResponsePage, summary: ImportSummary, save: Callable[[sa.Connection], None]
    ) -> None:
        records = [item for item in page.items if isinstance(item, PaperRecord)]
        for item in page.items:
            if isinstance(item, Rejection):
                summary.rejected += 1
                print(f"rejected {item.location}: {item.reason}", file=self.log)
        summary.count(write_batch(self.engine, self.writer, records, after=save))


def harvest_sets(
    runtime: Runtime,
    set_specs: list[str | None],
    *,
    metadata_prefix: str = "arXiv",
    from_date: str | None = None,
    until: str | None = None,
    endpoint: str | None = None,
    progress: Progress | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock | None = None,
    log: TextIO = sys.stderr,
    first_run_from: str | None = None,
) -> ImportSummary:
    """Harvest OAI sets ('cs', 'physics:hep-th', 'cs:cs:LG'; None for everything) one after
    the other, each with its own saved state."""
    harvester = Harvester(
        runtime,
        endpoint=endpoint,
        progress=progress,
        sleep=sleep,
        clock=clock,
        log=log,
    )
    total = ImportSummary()
    try:
        for set_spec in set_specs:
            total.add(
                harvester.harvest(
                    set_spec,
                    metadata_prefix=metadata_prefix,
                    from_date=from_date,
                    until=until,
                    first_run_from=first_run_from,
                )
            )
    finally:
        harvester.close()
    return total


def harvest_set(runtime: Runtime, set_spec: str | None, **options: Any) -> ImportSummary:
    """Harvest one OAI set (see `harvest_sets` for the options)."""
    return harvest_sets(runtime, [set_spec], **options)


def harvest_categories(runtime: Runtime, categories: list[str], **options: Any) -> ImportSummary:
    """Harvest the OAI set of each category (see `harvest_sets` for the options). A paper
    cross-listed in several of them arrives once per set; later arrivals count as unchanged."""
    set_specs: list[str | None] = list(dict.fromkeys(category_set_spec(c) for c in categories))
    return harvest_sets(runtime, set_specs, **options)
