"""Atom feeds read as a feed reader reads them (feedparser over HTTP from the real app), and
their discovery from the HTML pages. The catalog holds the real Hugging Face daily lists plus
one paper whose title and abstract carry what breaks naive XML writers."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser
import httpx
import pytest
from lxml import html

from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.conftest import DATA, scratch_database
from tests.support.cli import Cli
from tests.support.server import LiveServer, live_server, reserve_port

HF_DAILY = DATA / "fixtures" / "hf_papers"
HOSTILE_ID = "2607.99991"
HOSTILE_DAY = "2026-08-04"
HOSTILE_TITLE = (
    "Breaking feeds\x01\x08\x0b\x0c\x1f\x7f: ]]> <script>alert(1)</script> "
    "& </title></entry> \ufffe\uffff \u202eevil ☃"
)
HOSTILE_ABSTRACT = "Control \x02 characters ]]> and <![CDATA[ markup ]]> & <b>tags</b> \x1b[31m"


@dataclass
class Site:
    runtime: Runtime
    server: LiveServer
    client: httpx.Client

    def feed(self, url: str) -> feedparser.FeedParserDict:
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.text[:300])
        assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
        parsed = feedparser.parse(response.content)
        assert parsed.bozo == 0, (url, parsed.get("bozo_exception"))
        assert parsed.version == "atom10"
        return parsed


def _hostile_daily_file(folder: Path) -> Path:
    """A real HF daily-papers entry given a new id, a later date and a hostile title."""
    entries = json.loads((HF_DAILY / "daily_papers_2026-08-03_3-entries_pretty.json").read_text())
    entry = copy.deepcopy(entries[0])
    entry["paper"]["id"] = HOSTILE_ID
    entry["paper"]["submittedOnDailyAt"] = f"{HOSTILE_DAY}T09:00:00.000Z"
    for holder in (entry, entry["paper"]):
        holder["title"] = HOSTILE_TITLE
        holder["summary"] = HOSTILE_ABSTRACT
    entry["paper"]["authors"][0]["name"] = "Eve \x03<Mallory>"
    path = folder / "hostile_daily.json"
    path.write_text(json.dumps([entry]))
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, catalog_server: str | None) -> Iterator[Site]:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    home = tmp_path_factory.mktemp("feeds")
    databases = ExitStack()
    url = databases.enter_context(scratch_database())
    env = {"PAPERFEED_HOME": str(home), "PAPERFEED_DATABASE_URL": url, "PAPERFEED_CONFIG": None}
    files = [*sorted(HF_DAILY.glob("*.json")), _hostile_daily_file(home.parent)]
    Cli(env)("import", "hf-daily", *files, "--no-progress")
    port = reserve_port()
    base_url = f"http://127.0.0.1:{port}"  # links in feeds point at this very server
    runtime = Runtime(Settings(home=home, database_url=url, base_url=base_url))
    try:
        with (
            live_server(runtime, port) as server,
            httpx.Client(base_url=server.url, timeout=60) as client,
        ):
            yield Site(runtime, server, client)
    finally:
        runtime.close()
        databases.close()  # drops the PostgreSQL database


FEEDS = [
    "/feeds/daily.atom",
    "/feeds/daily.atom?date=2026-06-12",
    "/feeds/daily.atom?date=2026-07-31",
    f"/feeds/daily.atom?date={HOSTILE_DAY}",
    "/feeds/trending.atom",
    "/feeds/search.atom?q=attention",
    "/feeds/search.atom?q=agents&sort=relevance",
    "/feeds/search.atom?q=script+alert",
]


@pytest.mark.parametrize("url", FEEDS)
def test_feed_is_valid_atom_with_complete_entries(site: Site, url: str) -> None:
    feed = site.feed(url)
    assert feed.feed.title.startswith("paperfeed: ")
    assert feed.feed.id and feed.feed.updated_parsed
    assert {link.rel for link in feed.feed.links} >= {"self", "alternate"}
    assert feed.entries
    ids = [entry.id for entry in feed.entries]
    assert len(ids) == len(set(ids))
    for entry in feed.entries:
        assert entry.title.strip()
        assert entry.link.startswith(f"{site.server.url}/papers/")
        assert entry.id == entry.link
        assert entry.updated_parsed is not None
        assert entry.authors and all(author.get("name") for author in entry.authors)
        assert entry.summary


def test_daily_feed_lists_the_papers_of_that_day(site: Site) -> None:
    feed = site.feed("/feeds/daily.atom?date=2026-06-12")
    api = site.client.get("/api/v1/daily", params={"date": "2026-06-12"}).json()["papers"]
    assert len(feed.entries) == 30
    assert [entry.link.rsplit("/papers/", 1)[1] for entry in feed.entries] == [
        paper["id"] for paper in api
    ]
    assert feed.entries[0].title == api[0]["title"]
    arxiv = [link.href for link in feed.entries[0].links if link.rel == "related"]
    assert arxiv == [f"https://arxiv.org/abs/{api[0]['id']}"]
    assert {tag.term for tag in feed.entries[0].get("tags", [])} == set(api[0]["categories"])


def test_daily_feed_without_a_date_is_the_latest_list(site: Site) -> None:
    feed = site.feed("/feeds/daily.atom")
    assert HOSTILE_DAY in feed.feed.title
    assert [entry.link for entry in feed.entries] == [f"{site.server.url}/papers/{HOSTILE_ID}"]


def test_feed_of_a_day_without_a_list_is_empty_but_valid(site: Site) -> None:
    response = site.client.get("/feeds/daily.atom", params={"date": "2020-01-01"})
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0 and feed.entries == []
    assert feed.feed.updated_parsed is not None


@pytest.mark.parametrize("date", ["2026-02-30", "yesterday", "2026-6-1"])
def test_daily_feed_with_a_bad_date_is_400(site: Site, date: str) -> None:
    assert site.client.get("/feeds/daily.atom", params={"date": date}).status_code == 400


def test_feed_links_lead_to_the_pages_they_name(site: Site) -> None:
    feed = site.feed("/feeds/daily.atom?date=2026-07-31")
    for entry in feed.entries[:5]:
        page = html.fromstring(site.client.get(entry.link).text)
        assert entry.title in page.xpath("string(//h1)")
    alternate = next(link.href for link in feed.feed.links if link.rel == "alternate")
    assert site.client.get(alternate).status_code == 200
    own = next(link.href for link in feed.feed.links if link.rel == "self")
    assert feedparser.parse(site.client.get(own).content).entries == feed.entries


def test_hostile_title_does_not_break_the_feeds(site: Site) -> None:
    for url in (f"/feeds/daily.atom?date={HOSTILE_DAY}", "/feeds/search.atom?q=script+alert"):
        entry = next(e for e in site.feed(url).entries if e.link.endswith(HOSTILE_ID))
        # Characters XML cannot carry are dropped; the markup stays text, as written.
        assert "]]> <script>alert(1)</script> & </title></entry>" in entry.title
        assert "Breaking feeds" in entry.title and "☃" in entry.title
        assert "]]> and <![CDATA[ markup ]]> & <b>tags</b>" in entry.summary
        assert entry.summary_detail.type == "text/plain"
        assert any("<Mallory>" in author.name for author in entry.authors)
    body = site.client.get(f"/feeds/daily.atom?date={HOSTILE_DAY}").content
    assert b"<script>" not in body  # escaped as character data, never markup


@pytest.mark.parametrize(
    "query", ["\x01\x02]]>", "<script>alert(1)</script>", "\ufffe", "a & b", '"unbalanced']
)
def test_hostile_search_query_does_not_break_the_search_feed(site: Site, query: str) -> None:
    feed = site.feed(f"/feeds/search.atom?q={_quote(query)}")
    assert feed.feed.title.startswith("paperfeed: search")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


# -- discovery from the HTML pages ---------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "feed_path"),
    [
        ("/", "/feeds/daily.atom"),
        ("/papers/date/2026-06-12", "/feeds/daily.atom"),
        ("/papers/week/2026-W24", "/feeds/daily.atom"),
        ("/papers/month/2026-06", "/feeds/daily.atom"),
        ("/trending", "/feeds/trending.atom"),
        ("/search?q=attention", "/feeds/search.atom"),
        ("/search?q=agents&sort=date&page=2", "/feeds/search.atom"),
    ],
)
def test_page_advertises_its_feed(site: Site, page: str, feed_path: str) -> None:
    response = site.client.get(page)
    assert response.status_code == 200
    links = html.fromstring(response.text).xpath(
        "//head/link[@rel='alternate'][@type='application/atom+xml']"
    )
    assert len(links) == 1
    href = urljoin(f"{site.server.url}{page}", links[0].get("href"))
    assert urlsplit(href).path == feed_path
    assert site.feed(href).entries


def test_daily_page_and_its_feed_list_the_same_papers(site: Site) -> None:
    page = html.fromstring(site.client.get("/papers/date/2026-06-12").text)
    href = page.xpath("//link[@type='application/atom+xml']/@href")[0]
    feed = site.feed(urljoin(site.server.url, href))
    on_page = {
        urlsplit(urljoin(site.server.url, a)).path
        for a in page.xpath("//main//a/@href")
        if urlsplit(a).path.startswith("/papers/2")
    }
    in_feed = {urlsplit(entry.link).path for entry in feed.entries}
    assert in_feed and in_feed <= on_page


def test_week_and_month_feeds_cover_the_whole_period(site: Site) -> None:
    day = site.feed(f"{site.server.url}/feeds/daily.atom?date=2026-06-12")
    week = site.feed(f"{site.server.url}/feeds/daily.atom?week=2026-W24")
    month = site.feed(f"{site.server.url}/feeds/daily.atom?month=2026-06")
    assert "2026-W24" in week.feed.title and "2026-06" in month.feed.title
    ids = {e.id for e in day.entries}
    assert ids and ids <= {e.id for e in week.entries} and ids <= {e.id for e in month.entries}
    assert site.client.get("/feeds/daily.atom?week=2026-W60").status_code == 400


def test_search_page_feed_keeps_the_query(site: Site) -> None:
    page = html.fromstring(site.client.get("/search", params={"q": "sparse attention"}).text)
    href = page.xpath("//link[@type='application/atom+xml']/@href")[0]
    feed = site.feed(urljoin(site.server.url, href))
    assert "sparse attention" in feed.feed.title
    assert "2606.13392" in [entry.link.rsplit("/", 1)[1] for entry in feed.entries]


def test_search_page_without_a_query_advertises_no_feed(site: Site) -> None:
    page = html.fromstring(site.client.get("/search").text)
    assert page.xpath("//link[@type='application/atom+xml']") == []


def test_feed_dates_are_utc(site: Site) -> None:
    feed = site.feed("/feeds/daily.atom?date=2026-06-12")
    for entry in feed.entries:
        updated = dt.datetime(*entry.updated_parsed[:6])
        assert updated.date() == dt.date(2026, 6, 12)
        assert entry.updated.endswith("Z")
