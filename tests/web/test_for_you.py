"""For you in a real browser, with JavaScript off (every control is a plain form post), on the
real app over real papers embedded with the real model, on the test's clock: a reader who
upvotes and saves a few papers sees related papers first, each with its reason; "Not
interested" takes a paper away for good; a new reader starts by picking categories,
following an author and saving a paper found by search. The rating pages behind a personal
digest's links: opening one shows a button and changes nothing; the button rates."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from paperfeed.clock import FrozenClock
from tests.mail.conftest import body_text
from tests.support.accounts import confirmed_user
from tests.support.cli import HEAD200, Cli
from tests.web.support import HF_DAILY, Site, Watch, sign_up

MEMORY = ("2607.27958", "2607.26637")  # Σ-Mem; Filesystem-Based Memory for LLM Agents
AGENTS = {
    "2607.27919",
    "2607.28227",
    "2607.18806",
    "2607.28074",
    "2607.27652",
    "2607.28374",
    "2607.28595",
    "2607.20891",
    "2607.28568",
    "2607.27816",
}  # fmt: skip  (papers on LLM agents and their memory, of the same list)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2026, 8, 1, 9, 0))  # the morning after the list


@pytest.fixture
def start(
    serve: Callable[..., Site], clock: FrozenClock, search_ready: None
) -> Callable[..., Site]:
    """Starts the app over the test's catalog on `clock`; keyword arguments change settings."""
    return functools.partial(serve, clock=clock)


@pytest.fixture
def daily_site(start: Callable[..., Site], cli: Cli, data_dir: Path) -> Site:
    """The HF daily list of 2026-07-31, imported, indexed and embedded."""
    cli("import", "hf-daily", data_dir / HF_DAILY, "--no-progress")
    return start()


def listed(page: Page, selector: str = "ol.for-you li.paper") -> list[str]:
    hrefs = page.locator(f"{selector} h3 a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    return [h.removeprefix("/papers/") for h in hrefs]


def card(page: Page, arxiv_id: str) -> Any:
    return page.locator("li.paper", has=page.locator(f'h3 a[href="/papers/{arxiv_id}"]'))


def test_a_reader_who_upvotes_and_saves_a_few_papers_sees_related_ones_first_with_reasons(
    new_page: Callable[..., Page], daily_site: Site, clock: FrozenClock, watch: Watch
) -> None:
    site = daily_site
    visitor = new_page(java_script_enabled=False)
    visitor.goto(f"{site.url}/for-you")
    assert visitor.url == f"{site.url}/signin?next=%2Ffor-you"

    page = new_page(java_script_enabled=False)
    sign_up(page, site, "taste")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="For you").click()
    expect(page.locator("main h2").first).to_have_text("Tell us what you read")

    page.goto(f"{site.url}/papers/date/2026-07-31")
    card(page, MEMORY[0]).get_by_role("button", name=re.compile("^Upvote")).click()
    expect(page.get_by_role("button", name=re.compile("^Remove upvote"))).to_be_visible()
    page.goto(f"{site.url}/papers/date/2026-07-31")
    saving = card(page, MEMORY[1])
    saving.locator("summary").click()
    saving.get_by_role("button", name="Save to collection").click()
    expect(page.locator(".flash")).to_have_text("Saved to your collection.")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="For you").click()
    expect(page.locator("main .meta").first).to_contain_text("from the 2 papers you upvoted")
    shown = listed(page)
    assert len(shown) == 28 and not set(shown) & set(MEMORY)  # the other papers of the list
    assert len(set(shown[:5]) & AGENTS) >= 3, shown
    titles = {
        a: site.runtime.cards.card(site.runtime.catalog.ids_for_arxiv([a])[a]).title for a in MEMORY
    }
    for n in range(5):
        reason = page.locator("ol.for-you li.paper").nth(n).locator(".reason")
        expect(reason).to_have_text(re.compile("^Because you liked "))
        href = reason.locator("a").get_attribute("href")
        assert href in {f"/papers/{a}" for a in MEMORY}
        expect(reason.locator("a")).to_have_text(titles[href.removeprefix("/papers/")])

    # "Not interested" on the first: it goes, and stays gone after a reload.
    dismissed = shown[0]
    card(page, dismissed).get_by_role("button", name="Not interested").click()
    expect(page.locator(".flash")).to_have_text("Marked not interested.")
    assert page.url.startswith(f"{site.url}/for-you")
    assert dismissed not in listed(page)
    page.reload()
    assert dismissed not in listed(page)
    kept = listed(page)

    # The next day nothing shown before comes back (and no version of it: one row a paper).
    clock.advance(dt.timedelta(days=1))
    page.goto(f"{site.url}/for-you")
    expect(page.locator("main")).to_contain_text("Nothing new for you right now")
    assert not set(listed(page)) & (set(kept) | {dismissed})
    assert watch.dialogs == [] and watch.csp_violations == []


def test_a_new_reader_picks_categories_follows_an_author_and_saves_a_found_paper(
    new_page: Callable[..., Page],
    start: Callable[..., Site],
    cli: Cli,
    data_dir: Path,
    clock: FrozenClock,
    watch: Watch,
) -> None:
    """The Kaggle snapshot head: 200 papers with arXiv categories, of 31 March-2 April 2007."""
    cli("import", "snapshot", data_dir / HEAD200, "--no-progress")
    clock.set(dt.datetime(2007, 4, 3, 12, 0))
    site = start(categories=["hep-ph", "astro-ph", "hep-th"])
    page = new_page(java_script_enabled=False)
    sign_up(page, site, "newbie")
    page.goto(f"{site.url}/for-you")
    expect(page.locator("main h2").first).to_have_text("Tell us what you read")

    page.get_by_label("hep-ph").check()
    page.get_by_role("button", name="Save categories").click()
    expect(page.locator(".flash")).to_have_text(
        "Categories saved: their new papers are on your list."
    )
    items = page.locator("ol.for-you li.paper")
    expect(items.first).to_be_visible()
    assert items.count() >= 10
    for n in range(items.count()):
        expect(items.nth(n).locator(".reason")).to_have_text("You follow hep-ph")
        expect(items.nth(n).locator(".categories")).to_contain_text("hep-ph")

    # Follow an author, then find a paper by search and save it: it becomes the taste.
    page.locator("summary", has_text="Add to your taste").click()
    page.get_by_label("Follow an author").fill("Stephen Hawking")
    page.get_by_role("button", name="Follow author").click()
    expect(page.locator(".flash")).to_have_text("Followed. Its feed is on your Following page.")
    page.locator("summary", has_text="Add to your taste").click()
    page.get_by_label("Find papers you like").fill("dark matter galaxies")
    page.get_by_role("button", name="Find papers").click()
    expect(page.locator(".found li.paper").first).to_be_visible()  # (the results page loaded)
    found = listed(page, ".found li.paper")
    assert found
    first = card(page, found[0])
    first.locator("summary").click()
    first.get_by_role("button", name="Save to collection").click()
    expect(page.locator(".flash")).to_have_text("Saved to your collection.")
    page.goto(f"{site.url}/for-you")
    reasons = page.locator("ol.for-you li.paper .reason").all_inner_texts()
    assert any(r.startswith("Because you liked ") for r in reasons)
    assert found[0] not in listed(page)
    expect(page.get_by_label("hep-ph")).to_be_checked()
    assert watch.dialogs == [] and watch.csp_violations == []


def test_a_digest_rating_link_opens_a_page_with_one_button_and_only_the_button_rates(
    new_page: Callable[..., Page], daily_site: Site, clock: FrozenClock, watch: Watch
) -> None:
    rt = daily_site.runtime
    reader = confirmed_user(rt.accounts, "rater@example.org", "rater")
    rt.subscriptions.add_confirmed("rater@example.org")
    for arxiv_id in MEMORY:
        rt.discussion.upvote(reader, rt.catalog.ids_for_arxiv([arxiv_id])[arxiv_id])
    clock.advance(dt.timedelta(hours=1))
    report = rt.digest_sender.send(kinds=("daily",), day=dt.date(2026, 7, 31), retry_now=True)
    assert report.sent == 1
    [mail] = [m for m in daily_site.outbox() if m["List-Id"]]
    text = body_text(mail)
    assert "FOR YOU" in text
    less = re.findall(r"Not for me: (\S+)", text)
    more = re.findall(r"More like this: (\S+)", text)
    assert less and len(less) == len(more)

    # A scanner fetching the links changes nothing.
    for url in less[:3] + more[:3]:
        assert httpx.get(url).status_code == 200
    assert rt.library.marked(reader, "dismissed") == []
    assert rt.library.collections(reader) == []

    page = new_page(java_script_enabled=False)  # not signed in: the link is the authority
    page.goto(less[0])
    expect(page.locator("main h1")).to_have_text("Not for you?")
    paper = page.locator("main p a").first.get_attribute("href")
    assert paper is not None
    page.get_by_role("button", name="Not for me").click()
    expect(page.locator("main h1")).to_have_text("Thanks")
    expect(page.locator("main [role=status]")).to_contain_text("Marked not interested")
    paper_id = rt.paper_ids.resolve(paper.removeprefix("/papers/"))
    assert [pid for pid, _ in rt.library.marked(reader, "dismissed")] == [paper_id]

    page.goto(more[1])
    expect(page.locator("main h1")).to_have_text("More like this?")
    page.get_by_role("button", name="More like this").click()
    expect(page.locator("main [role=status]")).to_contain_text("Saved to your Reading list")
    [reading] = rt.library.collections(reader)
    assert reading.name == "Reading list" and reading.size == 1

    # A link changed by hand is no link.
    forged = less[0].replace("-less-", "-more-")
    assert httpx.get(forged).status_code == 404
    assert httpx.post(forged, data={}).status_code in (403, 404)
    assert watch.dialogs == [] and watch.csp_violations == []


def test_the_preferences_page_turns_the_personal_sections_on_and_off(
    new_page: Callable[..., Page], daily_site: Site
) -> None:
    rt = daily_site.runtime
    sub, _ = rt.subscriptions.add_confirmed("sections@example.org")
    page = new_page(java_script_enabled=False)
    page.goto(f"{daily_site.url}/digest/preferences/{sub.token}")
    form = page.locator("form.digest-preferences")
    for label in ("For you: new papers", "New papers of the authors", "Trending papers"):
        expect(form.get_by_label(re.compile(label))).to_be_checked()
    form.get_by_label(re.compile("For you: new papers")).uncheck()
    form.get_by_label(re.compile("Trending papers")).uncheck()
    form.get_by_role("button", name="Save preferences").click()
    expect(page.locator(".flash")).to_contain_text("Preferences saved.")
    found = rt.digest_preferences.get_by_token(sub.token)
    assert found is not None
    prefs = found[1]
    assert (prefs.for_you, prefs.follows, prefs.trending) == (False, True, False)
    expect(form.get_by_label(re.compile("For you: new papers"))).not_to_be_checked()
    expect(form.get_by_label(re.compile("New papers of the authors"))).to_be_checked()
