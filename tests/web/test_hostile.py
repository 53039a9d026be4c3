"""Hostile input in a real browser: markup in imported titles, abstracts, authors and links,
in search queries and in comments is shown as text and never runs; form posts without the
CSRF token, or from another origin, are refused."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urljoin

import httpx
import pytest
from lxml import etree
from playwright.sync_api import Page, expect

from paperfeed.papers.text import normalize_text
from tests.support.cli import Cli
from tests.support.http import FixtureServer, Response
from tests.web.support import Site, Watch, sign_up

# Each payload, were it markup, would set window.__pwned and open a dialog.
SCRIPT = '<script>window.__pwned=1;alert("script ran")</script>'
IMG = "<img src=x onerror=\"window.__pwned=1;alert('img ran')\">"
JS_URL = "javascript:window.__pwned=1;alert('link ran')"
LINK = f'<a href="{JS_URL}">open me</a>'
PROSE = (
    "We study how a paper catalog shows text that looks like markup to the people who read "
    "it, and whether any of it runs in their browsers."
)

HOSTILE_ID = "2607.99001"
HOSTILE_TITLE = f"Hostile {SCRIPT} paper {IMG} title"
HOSTILE_ABSTRACT = f"{PROSE} {SCRIPT} More {IMG} and {LINK} text."
LISTING_TITLE = f"{SCRIPT} A hostile listing title {IMG}"
LISTING_ABSTRACT = f"{PROSE} It carries {IMG} and {LINK} inside."
PAPER = "2607.27919"  # from the real HF daily list


def hostile_daily_list(tmp_path: Path) -> Path:
    """A Hugging Face daily_papers response whose one entry is markup wherever there is text."""
    entry = {
        "paper": {
            "id": HOSTILE_ID,
            "title": HOSTILE_TITLE,
            "summary": HOSTILE_ABSTRACT,
            "authors": [{"name": IMG}, {"name": f"Eve {SCRIPT} Attacker"}],
            "publishedAt": "2026-07-29T00:00:00.000Z",
            "submittedOnDailyAt": "2026-07-31T00:00:00.000Z",
            "submittedOnDailyBy": {"user": f"eve{SCRIPT}", "name": f"eve{SCRIPT}"},
            "upvotes": 7,
            "githubRepo": JS_URL,
            "projectPage": f"{JS_URL}//https://example.org/",
            "ai_summary": f"Summary {SCRIPT} {IMG}",
            "ai_keywords": [IMG, "markup"],
        },
        "numComments": 0,
    }
    path = tmp_path / "hostile_daily.json"
    path.write_text(json.dumps([entry]))
    return path


def hostile_listing(tmp_path: Path) -> Path:
    """A reading list copied from a web page (format `listing`): a title line, then its
    abstract."""
    path = tmp_path / "hostile_listing.txt"
    path.write_text(f"{LISTING_TITLE}\n\n{LISTING_ABSTRACT}\n")
    return path


def assert_nothing_ran(page: Page, watch: Watch) -> None:
    """No injected element exists, no injected script ran, and the page's policy did not
    have to stop anything (the escaping did)."""
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert watch == Watch(), "a page opened a dialog, broke the CSP or threw an error"
    assert page.locator("img[src='x'], [onerror], [onclick], [onload]").count() == 0
    sources = page.locator("script").evaluate_all("all => all.map(s => s.getAttribute('src'))")
    assert all(src and src.startswith("/static/app.js") for src in sources), sources
    assert page.locator("[href^='javascript:' i], [src^='javascript:' i]").count() == 0


@pytest.fixture
def hostile_site(serve: Callable[..., Site], cli: Cli, tmp_path: Path, search_ready: None) -> Site:
    """A catalog holding hostile papers, imported through real import paths and indexed."""
    cli("import", "hf-daily", hostile_daily_list(tmp_path), "--no-progress")
    cli("import", "listing", hostile_listing(tmp_path), "--no-progress")
    return serve()


def test_hostile_paper_text_is_shown_as_text_and_never_runs(
    page: Page, hostile_site: Site, watch: Watch
) -> None:
    site = hostile_site
    title = normalize_text(HOSTILE_TITLE)
    page.goto(site.url)
    item = page.locator("ol.papers > li.paper")
    expect(item).to_have_count(1)
    expect(item.locator("h3 a")).to_have_text(title)
    expect(item.locator(".meta").first).to_contain_text(f"Eve {SCRIPT} Attacker")
    expect(item).to_contain_text(f"submitted by eve{SCRIPT}")
    assert_nothing_ran(page, watch)

    item.locator("h3 a").click()
    page.wait_for_url(f"{site.url}/papers/{HOSTILE_ID}")
    expect(page.locator("main h1")).to_have_text(title)
    expect(page).to_have_title(f"{title} · paperfeed")
    expect(page.locator(".authors")).to_have_text(f"{IMG}, Eve {SCRIPT} Attacker")
    expect(page.locator(".abstract")).to_have_text(normalize_text(HOSTILE_ABSTRACT))
    summary = page.get_by_role("region", name="AI summary")
    expect(summary).to_contain_text(f"Summary {SCRIPT} {IMG}")
    expect(summary).to_contain_text(f"{IMG} · markup")
    links = page.get_by_role("navigation", name="Links").get_by_role("link")
    hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
    assert hrefs == [
        f"https://arxiv.org/abs/{HOSTILE_ID}",
        f"https://arxiv.org/pdf/{HOSTILE_ID}",
    ], "only http(s) links may be shown"
    assert_nothing_ran(page, watch)

    # Search finds both hostile papers (the listing's became a title-only paper).
    box = page.locator("#top-q")
    box.fill("hostile markup")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=hostile"))
    results = page.locator("ol.papers > li.paper h3 a")
    expect(results).to_have_count(2)
    assert sorted(results.all_inner_texts()) == sorted([title, normalize_text(LISTING_TITLE)])
    snippets = page.locator(".snippet")
    expect(snippets).to_have_count(2)
    for snippet in snippets.all():
        expect(snippet.locator("mark").first).to_have_text("markup")
        expect(snippet).to_contain_text(IMG)
    assert_nothing_ran(page, watch)

    page.get_by_role("link", name=normalize_text(LISTING_TITLE), exact=True).click()
    page.wait_for_url(re.compile(r"/papers/pf-\d+$"))
    expect(page.locator("main h1")).to_have_text(normalize_text(LISTING_TITLE))
    assert_nothing_ran(page, watch)

    # The feed carries the title as text, not markup.
    page.goto(site.url)
    href = page.locator("head link[type='application/atom+xml']").get_attribute("href") or ""
    response = page.request.get(urljoin(page.url, href))
    assert response.status == 200
    feed = etree.fromstring(response.body())
    atom = "{http://www.w3.org/2005/Atom}"
    assert [e.findtext(f"{atom}title") for e in feed.iter(f"{atom}entry")] == [title]
    assert feed.find(f"{atom}entry/{atom}summary").get("type") == "text"


def test_hostile_search_query_is_shown_as_text(
    page: Page, hostile_site: Site, watch: Watch
) -> None:
    site = hostile_site
    query = f"{SCRIPT}{IMG}"
    page.goto(site.url)
    box = page.locator("#top-q")
    box.fill(query)
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    expect(page.locator("main #q")).to_have_value(query)
    expect(page.locator("#top-q")).to_have_value(query)
    expect(page).to_have_title(f"{query} - search · paperfeed")
    assert_nothing_ran(page, watch)

    # Its feed link is a same-site path that serves a feed.
    href = page.locator("head link[type='application/atom+xml']").get_attribute("href") or ""
    assert href.startswith("/feeds/search.atom?")
    response = page.request.get(urljoin(page.url, href))
    assert response.status == 200
    feed = etree.fromstring(response.body())
    assert feed.findtext("{http://www.w3.org/2005/Atom}title") == f"paperfeed: search {query!r}"

    # A query that matches nothing (no paper in the category) is echoed back as text.
    page.goto(f"{site.url}/search?{urlencode({'q': query, 'cat': 'math.AG'})}")
    expect(page.locator(".empty strong")).to_have_text(query)
    assert_nothing_ran(page, watch)


def test_comment_markup_is_shown_as_text_and_links_stay_safe(
    new_page: Callable[..., Page], site: Site, watch: Watch
) -> None:
    page = new_page()
    sign_up(page, site, "mallory")
    page.goto(f"{site.url}/papers/{PAPER}")
    source = f"{SCRIPT}\n\n{IMG} {LINK} [markdown link]({JS_URL}) *still emphasis*"
    page.get_by_label(re.compile("^Your comment")).fill(source)
    page.get_by_role("button", name="Post comment").click()
    expect(page.locator(".flash")).to_have_text("Comment posted.")

    body = page.locator("article.comment .comment-body")
    expect(body).to_contain_text(SCRIPT)
    expect(body).to_contain_text(f"{IMG} {LINK}")
    expect(body.locator("em")).to_have_text("still emphasis")
    assert body.locator("script, img, a").count() == 0
    assert_nothing_ran(page, watch)

    # Another reader, signed out, sees the same inert text.
    other = new_page()
    other.goto(f"{site.url}/papers/{PAPER}")
    expect(other.locator("article.comment .comment-body")).to_contain_text(SCRIPT)
    assert_nothing_ran(other, watch)


def test_foreign_csrf_cookie_is_replaced_not_echoed(page: Page, site: Site, watch: Watch) -> None:
    """The CSRF cookie is echoed into every form; another app on the same host can set it.
    A value that is not one of our tokens must neither inject markup nor be used."""
    value = '"><img src=x onerror=alert(1)>'
    value += "a" * (43 - len(value))  # a token's length
    page.context.add_cookies([{"name": "pf_csrf", "value": value, "url": site.url}])
    page.goto(f"{site.url}/papers/{PAPER}")
    tokens = set(
        page.locator("input[name='csrf_token']").evaluate_all("all => all.map(i => i.value)")
    )
    assert len(tokens) == 1 and re.fullmatch(r"[A-Za-z0-9_-]{43}", tokens.pop())
    assert_nothing_ran(page, watch)

    # The fresh token replaced the cookie: forms work.
    page.locator("footer").get_by_label("Email", exact=True).fill("neighbour@example.org")
    page.locator("footer").get_by_role("button", name="Subscribe").click()
    expect(page.locator("main h1")).to_have_text("Check your inbox")


# -- CSRF -------------------------------------------------------------------------------------


def comment_count(page: Page, site: Site) -> str:
    page.goto(f"{site.url}/papers/{PAPER}")
    return page.locator("#comments-h").inner_text()


def test_form_posts_without_the_csrf_token_are_refused(page: Page, site: Site) -> None:
    sign_up(page, site, "trudy")
    page.goto(f"{site.url}/papers/{PAPER}")
    token = page.locator("main input[name='csrf_token']").first.input_value()
    upvotes = page.locator("main .actions .count").inner_text()
    comments = f"{site.url}/papers/{PAPER}/comments"

    # The browser's cookies, but no token or a wrong one.
    for form in ({"body": "forged"}, {"body": "forged", "csrf_token": "x" * 43}):
        refused = page.request.post(comments, form=form, max_redirects=0)
        assert refused.status == 403
        assert "this form expired or came from another site" in refused.text()
    refused = page.request.post(f"{site.url}/papers/{PAPER}/upvote", form={"up": "1"})
    assert refused.status == 403

    # The right token but posted from another origin.
    refused = page.request.post(
        comments,
        form={"body": "forged", "csrf_token": token},
        headers={"Origin": "http://evil.example"},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "cross-site form post refused" in refused.text()

    # The token without the browser's cookie (a forger who read a page of ours).
    session = next(c for c in page.context.cookies() if c["name"] == "pf_session")
    refused_response = httpx.post(
        comments,
        data={"body": "forged", "csrf_token": token},
        cookies={"pf_session": session["value"]},
    )
    assert refused_response.status_code == 403

    assert comment_count(page, site) == "Comments (0)"
    expect(page.locator("main .actions .count")).to_have_text(upvotes)

    # The same post with the token and the cookie goes through (so the refusals above were
    # the CSRF checks at work, not a broken request).
    accepted = page.request.post(
        comments, form={"body": "genuine", "csrf_token": token}, max_redirects=0
    )
    assert accepted.status == 303
    assert comment_count(page, site) == "Comments (1)"


def test_a_page_of_another_origin_cannot_post_into_the_site(
    page: Page, site: Site, http_server: FixtureServer
) -> None:
    sign_up(page, site, "victor")
    page.goto(f"{site.url}/papers/{PAPER}")
    token = page.locator("main input[name='csrf_token']").first.input_value()

    # Another origin on the same host (so the same "site" for SameSite cookies: the browser
    # sends our cookies with its post) that even knows the token.
    attack = f"""<!doctype html><title>win a prize</title>
<form method="post" action="{site.url}/papers/{PAPER}/comments">
<input type="hidden" name="csrf_token" value="{token}">
<input type="hidden" name="body" value="forged by another origin">
<button type="submit">Claim</button></form>"""
    http_server.route = lambda path, params: Response(
        attack.encode(), content_type="text/html; charset=utf-8"
    )
    page.goto(f"{http_server.url}/prize")
    with page.expect_response(f"{site.url}/papers/{PAPER}/comments") as answer:
        page.get_by_role("button", name="Claim").click()
    assert answer.value.status == 403
    expect(page.locator("main h1")).to_have_text("Not allowed")
    expect(page.get_by_role("alert")).to_have_text("cross-site form post refused")
    assert comment_count(page, site) == "Comments (0)"
