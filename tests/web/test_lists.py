"""Daily, weekly and monthly lists in Chromium: the date range of a week or month, previous and
next links that skip to the nearest period with papers, and the upvotes / newest toggle."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from paperfeed.papers.text import normalize_text
from tests.support.cli import Cli
from tests.web.support import HF_DAILY, Site, sign_up

HF_FOLDER = "fixtures/hf_papers"
JUNE_12 = "daily_papers_2026-06-12.json"  # Friday of week 2026-W24
AUGUST_3 = "daily_papers_2026-08-03_3-entries_pretty.json"  # Monday of week 2026-W32


def titles(page: Page) -> list[str]:
    return page.locator("ol.papers > li.paper h3 a").all_inner_texts()


def test_weeks_and_months_show_their_days_and_skip_empty_periods(
    page: Page, serve: Callable[..., Site], cli: Cli, data_dir: Path
) -> None:
    folder = data_dir / HF_FOLDER
    files = [folder / JUNE_12, data_dir / HF_DAILY, folder / AUGUST_3]
    cli("import", "hf-daily", *files, "--no-progress", "--no-index")
    site = serve()

    page.goto(f"{site.url}/papers/week/2026-W31")
    expect(page.locator("main h1")).to_have_text("Papers of week 2026-W31")
    expect(page.locator("main p.span")).to_have_text("27 July – 2 August 2026")
    expect(page.locator("ol.papers > li.paper")).to_have_count(30)
    # Weeks 25 to 30 have no papers: "previous" goes straight to week 24.
    page.get_by_role("link", name="← Previous").click()
    page.wait_for_url(f"{site.url}/papers/week/2026-W24")
    expect(page.locator("main p.span")).to_have_text("8–14 June 2026")
    expect(page.get_by_role("link", name="← Previous")).to_have_count(0)  # nothing earlier
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url(f"{site.url}/papers/week/2026-W31")
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url(f"{site.url}/papers/week/2026-W32")
    expect(page.locator("ol.papers > li.paper")).to_have_count(3)
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)

    # Months: the range, and the month links of the pager.
    page.get_by_role("navigation", name="Dates").get_by_role("link", name="Month").click()
    page.wait_for_url(f"{site.url}/papers/month/2026-08")
    expect(page.locator("main h1")).to_have_text("Papers of August 2026")
    expect(page.locator("main p.span")).to_have_text("1–31 August 2026")
    page.get_by_role("link", name="← Previous").click()
    page.wait_for_url(f"{site.url}/papers/month/2026-07")
    page.get_by_role("link", name="← Previous").click()
    page.wait_for_url(f"{site.url}/papers/month/2026-06")
    expect(page.get_by_role("link", name="← Previous")).to_have_count(0)

    # An empty month still finds its neighbours; a day view shows no range line.
    page.goto(f"{site.url}/papers/month/2026-05")
    expect(page.locator(".empty")).to_contain_text("No papers on this list yet")
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url(f"{site.url}/papers/month/2026-06")
    page.goto(f"{site.url}/papers/date/2026-08-03")
    expect(page.locator("main p.span")).to_have_count(0)
    page.get_by_role("link", name="← Previous").click()
    page.wait_for_url(f"{site.url}/papers/date/2026-07-31")


def test_daily_list_sorts_by_upvotes_or_newest(
    page: Page, serve: Callable[..., Site], cli: Cli, data_dir: Path, tmp_path: Path
) -> None:
    # The real list of 2026-07-31, each entry given its own time on the list (the file has
    # midnight for all): entered in an order unrelated to upvotes or to the file's order.
    entries = json.loads((data_dir / HF_DAILY).read_text())
    midnight = dt.datetime(2026, 7, 31)
    for n, entry in enumerate(entries):
        at = midnight + dt.timedelta(minutes=(n * 7) % 30 * 40)
        entry["paper"]["submittedOnDailyAt"] = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    listed = tmp_path / "daily_papers_timed.json"
    listed.write_text(json.dumps(entries))
    cli("import", "hf-daily", listed, "--no-progress", "--no-index")
    site = serve()

    def key(entry: dict[str, dict[str, str]]) -> str:
        return entry["paper"]["submittedOnDailyAt"]

    newest = [normalize_text(e["paper"]["title"]) for e in sorted(entries, key=key, reverse=True)]
    page.goto(f"{site.url}/papers/date/2026-07-31")
    order = page.get_by_role("navigation", name="Order")
    expect(order.locator("[aria-current]")).to_have_text("Upvotes")
    counts = [int(t) for t in page.locator("ol.papers .count").all_inner_texts()]
    assert counts == sorted(counts, reverse=True)
    assert titles(page) != newest

    order.get_by_role("link", name="Newest").click()
    page.wait_for_url(f"{site.url}/papers/date/2026-07-31?sort=date")
    expect(order.locator("[aria-current]")).to_have_text("Newest")
    assert titles(page) == newest
    # The order stays when moving to the week.
    page.get_by_role("navigation", name="Dates").get_by_role("link", name="Week").click()
    page.wait_for_url(f"{site.url}/papers/week/2026-W31?sort=date")
    assert titles(page) == newest
    order.get_by_role("link", name="Upvotes").click()
    page.wait_for_url(f"{site.url}/papers/week/2026-W31")

    # The native API has the same two orders.
    api = httpx.get(f"{site.url}/api/v1/daily", params={"date": "2026-07-31", "sort": "date"})
    assert [normalize_text(p["title"]) for p in api.json()["papers"]] == newest
    bad = httpx.get(f"{site.url}/papers/date/2026-07-31", params={"sort": "random"})
    assert bad.status_code == 400


ARXIV_ATOM = "fixtures/arxiv_api/query_transformer_cs.LG_2026-06-14.xml"  # 5 papers, no list
SUBMITTED_TITLE = "Multiagent Protocols with Aggregated Confidence Signals"
MANA_TITLE = "Mana: Dexterous Manipulation of Articulated Tools"


def test_trending_keeps_a_full_page_after_one_users_actions(
    page: Page, serve: Callable[..., Site], cli: Cli, data_dir: Path, search_ready: None
) -> None:
    """The catalog's lists are months old (2026-06-12 to 2026-08-03): the page ranks a
    widened window. Two submissions and an upvote by one reader neither collapse the page to
    those papers nor put the fresh submissions above papers with 26 upvotes or more."""
    folder = data_dir / HF_FOLDER
    cli("import", "hf-daily", folder / JUNE_12, data_dir / HF_DAILY, folder / AUGUST_3,
        "--no-progress", "--no-index")  # fmt: skip
    cli("import", "arxiv-atom", data_dir / ARXIV_ATOM, "--no-progress", "--no-index")
    site = serve()
    items = page.locator("ol.papers > li.paper")

    page.goto(f"{site.url}/trending")
    expect(items).to_have_count(50)
    ranking = page.locator("main p.ranking")
    expect(ranking).to_contain_text("Ranked by upvotes (1 each), comments (2 each)")
    expect(ranking).to_contain_text("so the window was widened")
    before = titles(page)

    sign_up(page, site, "ada")
    for paper in ("2606.13591", "2606.13677"):
        page.goto(f"{site.url}/submit")
        page.locator("main form").get_by_label("arXiv id or URL").fill(paper)
        page.locator("main form").get_by_role("button", name="Submit").click()
        page.wait_for_url(f"{site.url}/papers/{paper}?*")
    page.goto(f"{site.url}/trending")
    last = items.last
    last_title = last.locator("h3 a").inner_text()
    last.get_by_role("button", name="Upvote").click()
    expect(last.get_by_role("button", name="Remove upvote")).to_be_visible()

    page.goto(f"{site.url}/trending")
    expect(items).to_have_count(50)
    after = titles(page)
    assert len(set(after) & set(before)) >= 47  # the page is the same ranking, give or take
    counts = [int(t) for t in items.locator(".count").all_inner_texts()]
    fresh = [after.index(t) for t in (SUBMITTED_TITLE, MANA_TITLE) if t in after]
    popular = [n for n, count in enumerate(counts) if count >= 26]
    assert len(fresh) == 2, "a fresh submission ranks among the 50 (above quiet old papers)"
    assert popular and all(p < f for p in popular for f in fresh), (popular, fresh)
    assert last_title in after
