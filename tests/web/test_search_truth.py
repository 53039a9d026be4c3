"""Search that tells the truth, on the real pages (Chromium) and endpoints: a query that matches
nothing says so, an arXiv id not in the catalog offers arXiv and the submission form instead of
a list of everything, both orders list and count the same relevant set (the feed too), the
count says how many results the pages reach, and notices read as sentences."""

from __future__ import annotations

import math
import re
import socket
from collections.abc import Callable
from pathlib import Path

import feedparser
import httpx
from playwright.sync_api import Page, expect

from tests.support.cli import Cli
from tests.web.support import HF_DAILY, Site, sign_up

OTHER_DAILY = "fixtures/hf_papers/daily_papers_2026-06-12.json"
NONSENSE = "xqzv blorptang fnord"
KV_QUERY = "KV cache compression"
# Papers of the two daily lists that hold "compression"/"compressing" but are about something
# else (user simulation for role-play, speech emotion recognition) ...
ONE_WORD_ONLY = {"2607.27816", "2607.25289"}
# ... and one about compressing the KV cache that holds "KV cache" but not "compression".
KV_PAPER = "2606.13594"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def two_lists(serve: Callable[..., Site], cli: Cli, data_dir: Path, **settings: object) -> Site:
    """Both Hugging Face daily lists (60 papers), indexed and embedded by the import."""
    for name in (HF_DAILY, OTHER_DAILY):
        cli("import", "hf-daily", data_dir / name, "--no-progress")
    return serve(**settings)


def api(site: Site, **params: object) -> dict[str, object]:
    response = httpx.get(f"{site.url}/api/v1/search", params=params, timeout=30)
    assert response.status_code == 200, response.text
    found: dict[str, object] = response.json()
    return found


def ids(found: dict[str, object]) -> list[str]:
    results = found["results"]
    assert isinstance(results, list)
    return [str(r["id"]) for r in results]


def test_a_query_that_matches_nothing_says_so(page: Page, indexed_site: Site) -> None:
    page.goto(f"{indexed_site.url}/search?q={NONSENSE.replace(' ', '+')}")
    expect(page.locator("main .empty")).to_contain_text(f"No papers match {NONSENSE}")
    expect(page.locator("ol.papers li")).to_have_count(0)
    expect(page.locator("p.count")).to_have_count(0)
    for sort in ("relevance", "date"):
        found = api(indexed_site, q=NONSENSE, sort=sort)
        assert (found["total"], found["results"]) == (0, [])
    # A real query still finds its papers, by words and by meaning.
    page.goto(f"{indexed_site.url}/search?q=parametric+long-term+memory+decoder")
    expect(page.locator("p.count")).to_contain_text("result")
    expect(page.locator("ol.papers li.paper").first).to_be_visible()


def test_an_arxiv_id_not_in_the_catalog_offers_arxiv_and_the_submission_form(
    page: Page, serve: Callable[..., Site], cli: Cli, data_dir: Path, search_ready: None
) -> None:
    cli("import", "hf-daily", data_dir / HF_DAILY, "--no-progress")
    site = serve(arxiv_api_endpoint=f"http://127.0.0.1:{closed_port()}/api/query")  # offline
    sign_up(page, site, "grace")
    page.goto(f"{site.url}/search?q=1706.03762")
    notice = page.locator("main .notice.missing")
    expect(notice).to_contain_text("arXiv:1706.03762 is not in the catalog.")
    expect(notice.get_by_role("link", name="See it on arXiv")).to_have_attribute(
        "href", "https://arxiv.org/abs/1706.03762"
    )
    expect(page.locator("ol.papers li")).to_have_count(0)  # not a list of everything
    expect(page.locator("main .empty")).to_have_count(0)
    expect(page.locator("p.count")).to_have_count(0)
    assert api(site, q="1706.03762")["total"] == 0

    notice.get_by_role("link", name="Submit it").click()
    page.wait_for_url(re.compile(r"/submit\?paper=1706\.03762$"))
    field = page.get_by_label("arXiv id or URL")
    expect(field).to_have_value("1706.03762")
    with page.expect_response(f"{site.url}/submit") as answer:
        page.locator("main form").get_by_role("button", name="Submit").click()
    assert answer.value.status == 503
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("arXiv:1706.03762 is not in the catalog yet")
    expect(alert).to_contain_text("could not be reached")
    expect(alert).to_contain_text("An administrator can also add the paper")
    text = alert.inner_text()
    assert "paperfeed" not in text and "`" not in text  # no command for a web user


def test_both_orders_and_the_feed_list_the_papers_that_really_match(
    page: Page, serve: Callable[..., Site], cli: Cli, data_dir: Path, search_ready: None
) -> None:
    site = two_lists(serve, cli, data_dir)
    by_relevance = api(site, q=KV_QUERY, limit=100)
    by_date = api(site, q=KV_QUERY, limit=100, sort="date")
    assert by_relevance["total"] == by_date["total"] == len(ids(by_date)) > 0
    assert set(ids(by_relevance)) == set(ids(by_date))
    assert KV_PAPER in ids(by_date)
    assert not ONE_WORD_ONLY & set(ids(by_date))
    dates = [r["submitted"] for r in by_date["results"]]  # type: ignore[union-attr]
    assert dates == sorted(dates, reverse=True)
    # Every paper of a one-word query's set holds the word: "compression" alone is honest.
    assert set(ids(api(site, q="compression", limit=100, sort="date"))) >= ONE_WORD_ONLY

    page.goto(f"{site.url}/search?q=KV+cache+compression&sort=date")
    expect(page.locator("p.count")).to_contain_text(f"{by_date['total']} result")
    shown = page.locator("ol.papers li.paper h3 a").all_inner_texts()
    titles = [str(r["title"]) for r in by_date["results"]]  # type: ignore[union-attr]
    assert len(shown) == len(titles)
    page.goto(f"{site.url}/search?q=KV+cache+compression")
    expect(page.locator("p.count")).to_contain_text(f"{by_date['total']} result")

    # The search feed: the newest relevant papers, not noise; nothing for nonsense.
    feed = feedparser.parse(
        httpx.get(f"{site.url}/feeds/search.atom", params={"q": KV_QUERY}, timeout=30).content
    )
    assert [e.link.rsplit("/", 1)[-1] for e in feed.entries] == ids(by_date)
    nothing = httpx.get(f"{site.url}/feeds/search.atom", params={"q": NONSENSE}, timeout=30)
    assert nothing.status_code == 200 and feedparser.parse(nothing.content).entries == []


def test_the_count_says_how_many_results_the_pages_reach(
    page: Page, serve: Callable[..., Site], cli: Cli, data_dir: Path
) -> None:
    folder = data_dir / "arxiv" / "oaipmh_oai_dc_2017Q1"
    files = sorted(folder.glob("*.xml.gz"))[:6]
    cli("import", "oai-pmh", *files, "--no-progress", "--no-index")
    cli("index", "update", "--no-embed")
    site = serve(embedder="none")  # words alone: every paper holding the word is listed
    total = int(api(site, q="the")["total"])  # type: ignore[call-overload]
    assert total > 1000
    count = page.locator("p.count")
    for sort, which in (("relevance", "best"), ("date", "newest")):
        page.goto(f"{site.url}/search?q=the&sort={sort}")
        expect(count).to_contain_text(f"Showing the {which} 1,000 of {total:,} results")
        expect(count).to_contain_text("page 1 of 50")
        page.goto(f"{site.url}/search?q=the&sort={sort}&page=50")
        expect(page.locator("ol.papers li.paper")).to_have_count(20)
        expect(page.get_by_role("link", name="Next →")).to_have_count(0)
    # A page past the last one of a shorter list says so.
    few = int(api(site, q="superconductivity")["total"])  # type: ignore[call-overload]
    assert 0 < few < 980
    past = math.ceil(few / 20) + 1
    page.goto(f"{site.url}/search?q=superconductivity&page={past}")
    expect(page.locator("main .empty")).to_contain_text(f"There is no page {past}")


def test_notices_and_refused_parameters_read_as_sentences(
    page: Page, serve: Callable[..., Site], cli: Cli, data_dir: Path, search_ready: None
) -> None:
    # Papers imported, not yet embedded or indexed: the notice tells what happens, no command.
    cli("import", "hf-daily", data_dir / HF_DAILY, "--no-progress", "--no-index")
    site = serve()
    page.goto(f"{site.url}/search?q=memory")
    notices = page.locator("main .notice").all_inner_texts()
    assert any("not ready yet" in text for text in notices), notices
    assert not any("paperfeed" in text or "`" in text for text in notices), notices
    page.goto(f"{site.url}/papers/date/2020-01-06")  # a day without papers
    empty = page.locator("main .empty")
    expect(empty).to_contain_text("an administrator can also import")
    assert "paperfeed" not in empty.inner_text()

    for query, sentence in (
        ("q=memory&page=51", "The page number must be at most 50."),
        ("q=memory&page=zero", "The page number must be a whole number."),
        ("q=memory&sort=newest", "The sort order must be “relevance” or “date”."),
    ):
        response = page.goto(f"{site.url}/search?{query}")
        assert response is not None and response.status == 400
        expect(page.locator("main")).to_contain_text(sentence)
        assert "Input should" not in page.locator("main").inner_text()
    refused = httpx.get(f"{site.url}/api/v1/search", params={"q": "x", "limit": 0}, timeout=30)
    assert refused.json() == {"error": "The number of results must be at least 1."}


def test_snippets_mark_the_query_content_words_not_stopwords(indexed_site: Site) -> None:
    found = api(indexed_site, q="memory for the decoder of a language model", limit=10)
    results = found["results"]
    assert isinstance(results, list) and results
    marked = {
        word.lower()
        for hit in results
        for word in re.findall(r"<mark>(.*?)</mark>", hit["snippet_html"] or "")
    }
    assert {"memory", "decoder"} & marked
    assert not {"for", "the", "of", "a"} & marked, marked
