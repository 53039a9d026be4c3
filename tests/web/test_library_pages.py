"""The library in a real browser with JavaScript off (every control is a plain form post):
saving papers from the daily list with notes, marks, a collection's page (hostile text
escaped, made public and private again, filled from pasted ids), follows from an author's
page and the search page, and their private feeds at secret URLs."""

from __future__ import annotations

from collections.abc import Callable

import feedparser
import httpx
from playwright.sync_api import Page, expect

from tests.web.support import Site, Watch, sign_up

HOSTILE_NAME = "Mine <script>alert(1)</script>"
HOSTILE_NOTE = '<img src=x onerror="alert(2)"> & {braces}'


def paper_ids(page: Page) -> list[str]:
    hrefs = page.locator("li.paper h3 a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    return [h.removeprefix("/papers/") for h in hrefs]


def test_a_reader_saves_marks_and_shares_a_collection(
    new_page: Callable[..., Page], indexed_site: Site, watch: Watch
) -> None:
    site = indexed_site
    page = new_page(java_script_enabled=False)
    sign_up(page, site, "libby")
    page.goto(f"{site.url}/")
    first, second, third, fourth = paper_ids(page)[:4]

    card = page.locator("li.paper").nth(0)
    card.locator("summary").click()
    card.get_by_label("Collection").fill(HOSTILE_NAME)
    card.get_by_label("Note").fill(HOSTILE_NOTE)
    card.get_by_role("button", name="Save to collection").click()
    expect(page.locator(".flash")).to_have_text("Saved to your collection.")
    expect(page.locator("li.paper").nth(0).locator("summary")).to_contain_text("Saved ✓")
    page.locator("li.paper").nth(1).get_by_role("button", name="Mark read").click()
    expect(page.locator(".flash")).to_have_text("Marked read.")
    expect(page.locator("li.paper").nth(1).get_by_role("button", name="Read ✓")).to_be_visible()
    page.locator("li.paper").nth(2).get_by_role("button", name="Not interested").click()
    expect(page.locator(".flash")).to_have_text("Marked not interested.")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Library").click()
    collection = page.locator("ul.collections li")
    expect(collection).to_have_text(f"{HOSTILE_NAME} 1 paper · private")
    for heading, marked in (("#read-h", second), ("#dismissed-h", third)):
        section = page.locator("section", has=page.locator(heading))
        expect(section.locator("li.paper h3 a")).to_have_attribute("href", f"/papers/{marked}")
    collection.get_by_role("link").click()
    expect(page.locator("main h1")).to_have_text(HOSTILE_NAME)
    expect(page.locator(".note")).to_have_text(f"Note: {HOSTILE_NOTE}")
    private_url = page.url

    # Paste ids (one the catalog has, one line with none): saved, and the reader told.
    page.get_by_label("Or paste ids or BibTeX").fill(f"{fourth}\n{first}\nno id on this line\n")
    page.get_by_role("button", name="Import into this collection").click()
    expect(page.locator(".import-report h2")).to_have_text(
        "Imported: 1 saved, 1 already there, 1 not recognised"
    )
    expect(page.locator(".not-recognised")).to_contain_text("no arXiv id, arXiv URL or DOI")
    assert sorted(paper_ids(page)) == sorted([first, fourth])

    # Private: an anonymous visitor gets a 404 for its page, feed and exports.
    visitor = new_page()
    for path in ("", "/export.bib", "/export.json"):
        assert visitor.goto(private_url + path).status == 404
    cid = private_url.rsplit("/", 1)[1]
    assert httpx.get(f"{site.url}/feeds/collections/{cid}.atom").status_code == 404

    # Public: a page and a feed anyone can read; private again: gone.
    page.goto(private_url)
    page.get_by_label("Public: a page and an Atom feed anyone can read").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".flash")).to_have_text("Collection saved.")
    visitor.goto(private_url)
    expect(visitor.locator("main h1")).to_have_text(HOSTILE_NAME)
    expect(visitor.get_by_role("button", name="Save changes")).to_have_count(0)
    feed = feedparser.parse(httpx.get(f"{site.url}/feeds/collections/{cid}.atom").content)
    assert sorted(e.link.rsplit("/", 1)[1] for e in feed.entries) == sorted([first, fourth])
    assert HOSTILE_NAME in feed.feed.title
    page.get_by_label("Public: a page and an Atom feed anyone can read").uncheck()
    page.get_by_role("button", name="Save changes").click()
    assert visitor.goto(private_url).status == 404
    assert watch.dialogs == [] and watch.csp_violations == []


def test_a_reader_follows_an_author_and_a_search_with_private_feeds(
    new_page: Callable[..., Page], indexed_site: Site, watch: Watch
) -> None:
    site = indexed_site
    page = new_page(java_script_enabled=False)
    sign_up(page, site, "fola")
    page.goto(f"{site.url}/")
    paper = paper_ids(page)[0]
    author = page.locator("li.paper").nth(0).locator("a.author").first
    name = author.inner_text()
    author.click()
    page.get_by_role("button", name=f"Follow {name}").click()
    expect(page.locator(".flash")).to_have_text("Followed. Its feed is on your Following page.")
    expect(page.get_by_role("button", name=f"Unfollow {name}")).to_be_visible()

    page.goto(f"{site.url}/search?q=language+model&since=2026-01-01")
    page.get_by_role("button", name="Follow this search").click()
    page.goto(f"{site.url}/following")
    follows = page.locator("ul.follows > li")
    expect(follows).to_have_count(2)
    expect(follows.nth(1)).to_contain_text("search 'language model' (since:2026-01-01)")
    feed_url = follows.nth(0).locator("a.feed").get_attribute("href")
    assert feed_url and feed_url.startswith("/feeds/private/")
    feed = feedparser.parse(httpx.get(site.url + feed_url).content)
    assert paper in [e.link.rsplit("/", 1)[1] for e in feed.entries]
    assert all(name in [a.name for a in e.authors] for e in feed.entries)
    combined = page.locator("a.feed").last.get_attribute("href")
    assert httpx.get(site.url + str(combined)).status_code == 200

    # Another reader (or nobody) learns nothing: no follows, and a wrong token is a 404.
    other = new_page()
    sign_up(other, site, "otto")
    other.goto(f"{site.url}/following")
    expect(other.locator("ul.follows > li")).to_have_count(0)
    wrong = feed_url.replace("/private/", "/private/x")
    assert httpx.get(site.url + wrong).status_code == 404

    page.get_by_role("button", name="New secret URLs").click()
    expect(page.locator(".flash")).to_have_text(
        "New secret feed URLs: the old ones no longer work."
    )
    assert httpx.get(site.url + feed_url).status_code == 404
    new_url = page.locator("ul.follows > li").nth(0).locator("a.feed").get_attribute("href")
    assert httpx.get(site.url + str(new_url)).status_code == 200
    page.get_by_role("button", name="Turn private feeds off").click()
    assert httpx.get(site.url + str(new_url)).status_code == 404
    assert watch.dialogs == [] and watch.csp_violations == []
