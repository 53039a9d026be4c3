"""One rule for periods through every channel: W53 is a week in 2020 (which has 53 ISO
weeks) and not in 2021, alike on pages, feeds, the native API and the HF-compatible API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.support.server import live_server

CHANNELS = [
    "/papers/week/{week}",
    "/feeds/daily.atom?week={week}",
    "/api/v1/daily?week={week}",
    "/api/daily_papers?week={week}",
]


@pytest.fixture
def client(runtime: Runtime) -> Iterator[httpx.Client]:
    with live_server(runtime) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


@pytest.mark.parametrize("path", CHANNELS)
def test_week_53_of_2020_is_a_week_everywhere(client: httpx.Client, path: str) -> None:
    assert client.get(path.format(week="2020-W53")).status_code == 200


@pytest.mark.parametrize("path", CHANNELS)
def test_week_53_of_2021_is_refused_everywhere_with_one_message(
    client: httpx.Client, path: str
) -> None:
    response = client.get(path.format(week="2021-W53"))
    assert response.status_code == 400
    assert "week &#39;2021-W53&#39; is not an ISO week as YYYY-Www" in response.text or (
        "week '2021-W53' is not an ISO week as YYYY-Www" in response.text
    )


def test_native_daily_week_gives_its_days(client: httpx.Client) -> None:
    body = client.get("/api/v1/daily", params={"week": "2020-W53"}).json()
    assert (body["start"], body["end"]) == ("2020-12-28", "2021-01-03")


def test_the_default_daily_list_is_today_by_the_clock_when_there_is_none(
    settings: Settings,
) -> None:
    runtime = Runtime(settings, clock=FrozenClock(dt.datetime(2031, 5, 6, 23, 59)))
    try:
        with live_server(runtime) as server, httpx.Client(base_url=server.url, timeout=60) as http:
            assert http.get("/api/v1/daily").json()["start"] == "2031-05-06"
            assert "2031-05-06" in http.get("/feeds/daily.atom").text
            assert "Tuesday, 6 May 2031" in http.get("/").text
    finally:
        runtime.close()
