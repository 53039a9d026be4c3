"""The OAI-PMH harvester against a real local HTTP server replaying the real 2017Q1 pages."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.db.schema import harvest_state, papers
from paperfeed.ingest.harvest import HarvestUnavailable, harvest_categories, harvest_set
from paperfeed.ingest.oaipmh import OAIError
from paperfeed.ingest.runner import ImportSummary
from paperfeed.papers.categories import CATEGORY_NAMES
from paperfeed.progress import ProgressEvent
from paperfeed.runtime import Runtime
from tests.support.http import FixtureServer, Response
from tests.support.oai_server import DayPagesEndpoint, ids_between, oai_error

# Five days of the quarter, Thursday to Monday: 5 real pages, 1,365 records (11 at the weekend).
FIRST, LAST = "2017-01-05", "2017-01-09"


@pytest.fixture
def endpoint(data_dir: Path, http_server: FixtureServer) -> DayPagesEndpoint:
    served = DayPagesEndpoint(data_dir / "arxiv" / "oaipmh_oai_dc_2017Q1")
    http_server.route = served.route
    return served


@pytest.fixture
def url(http_server: FixtureServer, endpoint: DayPagesEndpoint) -> str:
    return f"{http_server.url}/oai"


@pytest.fixture
def waits() -> list[float]:
    return []


def _harvest(runtime: Runtime, url: str, waits: list[float], **options: Any) -> ImportSummary:
    options.setdefault("log", io.StringIO())
    return harvest_set(
        runtime, None, metadata_prefix="oai_dc", endpoint=url, sleep=waits.append, **options
    )


def _catalog(runtime: Runtime) -> dict[str, str]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(papers.c.arxiv_id, papers.c.content_hash))
        return {arxiv_id: content_hash for arxiv_id, content_hash in rows}


def _state(runtime: Runtime) -> dict[str, Any]:
    with runtime.engine.connect() as conn:
        (row,) = conn.execute(sa.select(harvest_state)).mappings().all()
        return dict(row)


def _window_pages(endpoint: DayPagesEndpoint, first: str, last: str) -> int:
    return sum(1 for day, _ in endpoint.pages if first <= day <= last)


def _fail_after(pages: int, endpoint: DayPagesEndpoint, failure: Response) -> Any:
    served = 0

    def route(path: str, params: dict[str, list[str]]) -> Response | None:
        nonlocal served
        if served >= pages:
            return failure
        served += 1
        return endpoint.route(path, params)

    return route


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, str]:
    """The catalog an uninterrupted harvest of FIRST..LAST gives (in a SQLite catalog of its
    own, from a server of its own: made once for the module's tests on both backends)."""
    server = FixtureServer()
    server.route = DayPagesEndpoint(data_dir / "arxiv" / "oaipmh_oai_dc_2017Q1").route
    server.start()
    home = tmp_path_factory.mktemp("reference")
    runtime = Runtime(Settings(home=home, request_delay=0.0, http_retries=0))
    try:
        _harvest(runtime, f"{server.url}/oai", [], from_date=FIRST, until=LAST)
        return _catalog(runtime)
    finally:
        runtime.close()
        server.stop()


def test_harvesting_a_window_stores_every_record_of_its_days_with_category_codes(
    runtime: Runtime,
    endpoint: DayPagesEndpoint,
    url: str,
    http_server: FixtureServer,
    waits: list[float],
) -> None:
    expected = ids_between(endpoint, FIRST, LAST)
    events: list[ProgressEvent] = []

    summary = _harvest(runtime, url, waits, from_date=FIRST, until=LAST, progress=events.append)

    assert (summary.new, summary.updated, summary.rejected) == (len(expected), 0, 0)
    assert set(_catalog(runtime)) == expected
    pages = _window_pages(endpoint, FIRST, LAST)
    params = [p for _, p in http_server.requests]
    assert len(params) == pages
    assert params[0] == {
        "verb": ["ListRecords"],
        "metadataPrefix": ["oai_dc"],
        "from": [FIRST],
        "until": [LAST],
    }
    assert all(set(p) == {"verb", "resumptionToken"} for p in params[1:])
    state = _state(runtime)
    assert state["key"] == f"{url}|oai_dc|"
    assert (state["completed_until"], state["last_datestamp"]) == (LAST, LAST)
    assert (state["resumption_token"], state["pages_done"], state["window_from"]) == (
        None,
        pages,
        FIRST,
    )
    assert waits == []  # the tests' settings ask for no delay
    # Progress: one report a page, the last one marked as such.
    assert [e.detail for e in events] == [f"{n} pages" for n in range(1, pages + 1)]
    assert [e.finished for e in events] == [False] * (pages - 1) + [True]
    assert {e.task for e in events} == {"all"} and {e.unit for e in events} == {"rec"}
    assert events[-1].done == summary.records

    # oai_dc's subject names arrive as category codes (checked on the same harvest).
    with runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(papers.c.primary_category, papers.c.categories)).all()
    assert rows
    for primary, categories in rows:
        assert primary == categories[0], "the primary category is the first"
        assert all(c in CATEGORY_NAMES for c in categories), f"not codes: {categories}"
    with runtime.engine.connect() as conn:
        learning = conn.execute(
            sa.select(sa.func.count())
            .select_from(papers)
            .where(papers.c.primary_category == "cs.LG")
        ).scalar_one()
    assert learning > 0, '"Computer Science - Learning", the 2017 name of cs.LG, became no code'


def test_a_second_run_fetches_only_the_days_since_the_last_one(
    runtime: Runtime,
    endpoint: DayPagesEndpoint,
    url: str,
    http_server: FixtureServer,
    waits: list[float],
) -> None:
    # Thursday and Friday (936 records), then the weekend and Monday (429).
    first_day, last_day, today = "2017-01-05", "2017-01-06", "2017-01-09"
    endpoint.today = last_day
    first = _harvest(runtime, url, waits, from_date=first_day)
    assert first.new == len(ids_between(endpoint, first_day, last_day))
    assert _state(runtime)["completed_until"] == last_day  # the day of the response: "today"

    endpoint.today = today
    http_server.requests.clear()
    second = _harvest(runtime, url, waits)

    assert http_server.requests[0][1]["from"] == [last_day]
    assert "until" not in http_server.requests[0][1]
    assert second.new == len(ids_between(endpoint, "2017-01-07", today))
    # OAI dates are inclusive: the last day is read again and changes nothing.
    unchanged = len(ids_between(endpoint, last_day, last_day))
    assert (second.unchanged, second.updated) == (unchanged, 0)
    assert set(_catalog(runtime)) == ids_between(endpoint, first_day, today)
    assert _state(runtime)["completed_until"] == today


def test_a_harvest_cut_off_by_server_errors_resumes_from_its_token_to_the_same_catalog(
    runtime: Runtime,
    endpoint: DayPagesEndpoint,
    url: str,
    http_server: FixtureServer,
    waits: list[float],
    reference: dict[str, str],
) -> None:
    http_server.route = _fail_after(3, endpoint, Response(b"oops", 500, "text/plain"))
    with pytest.raises(HarvestUnavailable, match=r"HTTP 500 \(gave up after 3 attempts\)"):
        _harvest(runtime, url, waits, from_date=FIRST, until=LAST)
    interrupted = _state(runtime)
    assert interrupted["pages_done"] == 3 and interrupted["resumption_token"]
    assert interrupted["completed_until"] is None
    assert 0 < len(_catalog(runtime)) < len(reference)
    assert waits == [5.0, 10.0]  # backoff between the three attempts

    http_server.route = endpoint.route
    http_server.requests.clear()
    resumed = _harvest(runtime, url, waits, until=LAST)

    assert http_server.requests[0][1] == {
        "verb": ["ListRecords"],
        "resumptionToken": [interrupted["resumption_token"]],
    }
    assert len(http_server.requests) == _window_pages(endpoint, FIRST, LAST) - 3
    assert resumed.unchanged == 0  # no page was read twice
    assert _catalog(runtime) == reference
    assert _state(runtime)["completed_until"] == LAST


def test_an_expired_resumption_token_restarts_the_window(
    runtime: Runtime,
    endpoint: DayPagesEndpoint,
    url: str,
    http_server: FixtureServer,
    waits: list[float],
    reference: dict[str, str],
) -> None:
    http_server.route = _fail_after(2, endpoint, Response(b"", 502, "text/plain"))
    with pytest.raises(HarvestUnavailable):
        _harvest(runtime, url, waits, from_date=FIRST, until=LAST)
    http_server.route = endpoint.route
    endpoint.generation += 1  # a day later: every token handed out so far has expired
    http_server.requests.clear()
    log = io.StringIO()

    summary = _harvest(runtime, url, waits, until=LAST, log=log)

    first, restart = (params for _, params in http_server.requests[:2])
    assert "resumptionToken" in first
    assert restart["from"] == [FIRST] and restart["until"] == [LAST]
    assert "badResumptionToken" in log.getvalue()
    assert summary.unchanged > 0  # the pages read before the interruption, read again
    assert _catalog(runtime) == reference


def test_dropped_connections_and_broken_pages_are_retried(
    runtime: Runtime,
    endpoint: DayPagesEndpoint,
    url: str,
    http_server: FixtureServer,
    waits: list[float],
) -> None:
    calls = 0

    def flaky(path: str, params: dict[str, list[str]]) -> Response | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionResetError("the test drops this connection")
        response = endpoint.route(path, params)
        if calls == 3 and response is not None:
            return Response(response.body[: len(response.body) // 2])  # cut off mid-page
        return response

    http_server.route = flaky
    # The weekend's two pages (11 records): the first request dropped, the second page cut off.
    first_day, last_day = "2017-01-07", "2017-01-08"
    summary = _harvest(runtime, url, waits, from_date=first_day, until=last_day)

    assert summary.new == len(ids_between(endpoint, first_day, last_day))
    assert summary.rejected == 0  # the broken page was fetched again, not half-imported
    assert waits == [5.0, 5.0]


@pytest.mark.parametrize(
    ("retry_after", "expected_wait"),
    [
        ("7", 7.0),
        ("Sun, 01 Jan 2017 12:00:30 GMT", 30.0),  # an HTTP date, 30 s after the clock's now
        ("86400", 600.0),  # a day is more than the harvester will wait
    ],
)
def test_503_with_retry_after_waits_as_asked(
    runtime: Runtime,
    endpoint: DayPagesEndpoint,
    url: str,
    http_server: FixtureServer,
    waits: list[float],
    retry_after: str,
    expected_wait: float,
) -> None:
    busy = Response(b"busy", 503, "text/plain", {"Retry-After": retry_after})
    answers = iter([busy])

    def route(path: str, params: dict[str, list[str]]) -> Response | None:
        return next(answers, None) or endpoint.route(path, params)

    http_server.route = route
    now = dt.datetime(2017, 1, 1, 12, 0, tzinfo=dt.UTC)

    day = "2017-01-01"  # (44 records)
    summary = _harvest(runtime, url, waits, from_date=day, until=day, clock=lambda: now)

    assert waits == [expected_wait]
    assert summary.new == len(ids_between(endpoint, day, day))


def test_a_server_that_stays_busy_exhausts_the_retries(
    runtime: Runtime, url: str, http_server: FixtureServer, waits: list[float]
) -> None:
    http_server.route = lambda path, params: Response(b"", 503, "text/plain", {"Retry-After": "2"})

    with pytest.raises(HarvestUnavailable, match="HTTP 503"):
        _harvest(runtime, url, waits, from_date=FIRST)
    assert waits == [2.0, 2.0]
    assert len(http_server.requests) == 3  # settings.http_retries = 2


def test_an_unreachable_endpoint_is_reported_as_unavailable(
    runtime: Runtime, waits: list[float]
) -> None:
    with pytest.raises(HarvestUnavailable, match="ConnectError"):
        _harvest(runtime, "http://127.0.0.1:9/oai", waits, from_date=FIRST)


def test_requests_are_spaced_by_the_polite_delay(
    settings: Settings,
    endpoint: DayPagesEndpoint,
    url: str,
    http_server: FixtureServer,
    waits: list[float],
) -> None:
    # Friday to Sunday: three pages (459 records).
    first_day, last_day = "2017-01-06", "2017-01-08"
    polite = Runtime(settings.model_copy(update={"request_delay": 3.0}))
    try:
        _harvest(polite, url, waits, from_date=first_day, until=last_day)
    finally:
        polite.close()

    assert waits == [3.0] * (len(http_server.requests) - 1)
    assert len(waits) == _window_pages(endpoint, first_day, last_day) - 1 == 2


def test_an_empty_window_completes_without_records(
    runtime: Runtime, endpoint: DayPagesEndpoint, url: str, waits: list[float]
) -> None:
    endpoint.today = "2017-06-01"

    summary = _harvest(runtime, url, waits, from_date="2017-05-01", until="2017-05-31")

    assert summary.records == 0
    assert _state(runtime)["completed_until"] == "2017-05-31"


def test_an_oai_error_stops_the_harvest_with_its_code(
    runtime: Runtime, url: str, waits: list[float]
) -> None:
    with pytest.raises(OAIError, match="cannotDisseminateFormat"):
        harvest_set(runtime, None, endpoint=url, from_date=FIRST, sleep=waits.append)
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(harvest_state)).first() is None


def test_an_oai_error_sent_with_a_4xx_status_is_read_as_an_oai_error(
    runtime: Runtime, url: str, http_server: FixtureServer, waits: list[float]
) -> None:
    answer = oai_error("badArgument", "from is not a date")
    http_server.route = lambda path, params: Response(answer.body, 400)

    with pytest.raises(OAIError, match="badArgument: from is not a date"):
        _harvest(runtime, url, waits, from_date="yesterday")
    assert len(http_server.requests) == 1  # not retried


def test_a_wrong_endpoint_is_reported_without_retrying(
    runtime: Runtime, http_server: FixtureServer, waits: list[float]
) -> None:
    with pytest.raises(HarvestUnavailable, match="answered HTTP 404"):
        _harvest(runtime, f"{http_server.url}/not-oai", waits, from_date=FIRST)
    assert len(http_server.requests) == 1


def test_harvesting_categories_harvests_the_set_of_each(
    runtime: Runtime,
    endpoint: DayPagesEndpoint,
    url: str,
    http_server: FixtureServer,
    waits: list[float],
) -> None:
    summary = harvest_categories(
        runtime,
        ["hep-th", "gr-qc"],
        metadata_prefix="oai_dc",
        from_date="2017-01-01",
        until="2017-01-05",
        endpoint=url,
        sleep=waits.append,
        log=io.StringIO(),
    )

    expected = ids_between(endpoint, "2017-01-01", "2017-01-05", "physics:hep-th")
    expected |= ids_between(endpoint, "2017-01-01", "2017-01-05", "physics:gr-qc")
    assert expected and summary.new == len(expected)
    assert set(_catalog(runtime)) == expected
    first_requests = [p["set"][0] for _, p in http_server.requests if "set" in p]
    assert first_requests == ["physics:hep-th", "physics:gr-qc"]
    with runtime.engine.connect() as conn:
        keys = set(conn.execute(sa.select(harvest_state.c.key)).scalars())
    assert keys == {f"{url}|oai_dc|physics:hep-th", f"{url}|oai_dc|physics:gr-qc"}
