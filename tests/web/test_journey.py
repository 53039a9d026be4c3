"""A reader's journey in a real browser: sign up, the daily list, search, a paper page,
upvotes (with and without JavaScript), submissions, comments, the e-mail subscription and the
Atom feeds."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import feedparser
from playwright.sync_api import Locator, Page, expect

from paperfeed.papers.text import normalize_text
from tests.support.cli import Cli
from tests.web.support import HF_DAILY, Site, SmtpServer, Watch, links_in, sign_up

PAPER = "2607.27919"
PAPER_TITLE = "Memory Decoder at Scale: A Pretrained, Parametric Long-Term Memory"
ARXIV_ATOM = "fixtures/arxiv_api/query_transformer_cs.LG_2026-06-14.xml"  # 5 papers, no list
SUBMITTED = "2606.13591"
SUBMITTED_TITLE = "Multiagent Protocols with Aggregated Confidence Signals"


def hf_papers(data_dir: Path) -> dict[str, dict[str, object]]:
    """The HF daily list's papers by arXiv id, as the file has them."""
    entries = json.loads((data_dir / HF_DAILY).read_text())
    return {entry["paper"]["id"]: entry["paper"] for entry in entries}


def paper_item(page: Page, title: str) -> Locator:
    """The list item of the paper with this title."""
    return page.locator("li.paper").filter(has=page.get_by_role("link", name=title, exact=True))


def test_reader_signs_up_searches_reads_and_upvotes(
    page: Page, indexed_site: Site, data_dir: Path, watch: Watch
) -> None:
    site = indexed_site
    papers = hf_papers(data_dir)
    sign_up(page, site, "ada")

    # The daily list: every paper of the imported list with its upvotes, most upvoted first.
    expect(page.locator("main h1")).to_have_text("Friday, 31 July 2026")
    items = page.locator("ol.papers > li.paper")
    expect(items).to_have_count(len(papers))
    shown = {
        item.locator("h3 a").inner_text(): int(item.locator(".count").inner_text())
        for item in items.all()
    }
    assert shown == {normalize_text(str(p["title"])): p["upvotes"] for p in papers.values()}
    counts = [int(text) for text in items.locator(".count").all_inner_texts()]
    assert counts == sorted(counts, reverse=True)

    # Search from the box in the header.
    query = "parametric long-term memory decoder"
    box = page.get_by_role("search").first.get_by_label("Search papers")
    box.fill(query)
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?"))
    assert parse_qs(urlsplit(page.url).query)["q"] == [query]
    expect(page.locator("main #q")).to_have_value(query)
    expect(page.locator("#top-q")).to_have_value(query)
    expect(page.locator("p.count")).to_contain_text("result")
    first = page.locator("ol.papers > li.paper").first
    expect(first.locator("h3 a")).to_have_text(PAPER_TITLE)
    marked = [text.lower() for text in first.locator(".snippet mark").all_inner_texts()]
    assert marked, "the snippet marks no matched word"
    stems = [word[:5] for word in re.findall(r"\w+", query)]  # "memories" for "memory"
    assert all(text.startswith(tuple(stems)) for text in marked), marked
    assert {"parametric", "memory", "decoder"} <= set(marked)

    # The paper page.
    first.locator("h3 a").click()
    page.wait_for_url(f"{site.url}/papers/{PAPER}")
    paper = papers[PAPER]
    expect(page.locator("main h1")).to_have_text(PAPER_TITLE)
    authors = ", ".join(a["name"] for a in paper["authors"])  # type: ignore[attr-defined]
    expect(page.locator(".authors")).to_have_text(authors)
    expect(page.locator(".abstract")).to_have_text(normalize_text(str(paper["summary"])))
    links = page.get_by_role("navigation", name="Links")
    expect(links.get_by_role("link", name="arXiv page")).to_have_attribute(
        "href", f"https://arxiv.org/abs/{PAPER}"
    )
    expect(links.get_by_role("link", name="PDF")).to_have_attribute(
        "href", f"https://arxiv.org/pdf/{PAPER}"
    )

    # Upvote: the script posts it with fetch and updates the count in place (no page load).
    upvotes = int(str(paper["upvotes"]))
    button = page.locator("main .actions form.upvote button")
    expect(button).to_have_text(f"▲ {upvotes}")
    page.evaluate("window.__samePage = true")
    with page.expect_response(f"{site.url}/papers/{PAPER}/upvote") as answer:
        button.click()
    assert answer.value.status == 200
    assert answer.value.json() == {"upvotes": upvotes + 1, "voted": True}
    expect(button.locator(".count")).to_have_text(str(upvotes + 1))
    expect(button).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.__samePage") is True, "the upvote reloaded the page"

    # It was stored: a new page load shows it, and on the daily list too.
    page.reload()
    expect(button.locator(".count")).to_have_text(str(upvotes + 1))
    expect(button).to_have_attribute("aria-pressed", "true")
    page.goto(site.url)
    expect(paper_item(page, PAPER_TITLE).locator(".count")).to_have_text(str(upvotes + 1))

    # A second click takes the upvote back.
    item_button = paper_item(page, PAPER_TITLE).locator("form.upvote button")
    item_button.click()
    expect(item_button.locator(".count")).to_have_text(str(upvotes))
    expect(item_button).to_have_attribute("aria-pressed", "false")
    assert watch == Watch(), "a page opened a dialog, broke the CSP or threw an error"


def test_upvote_without_javascript_posts_the_form(
    new_page: Callable[..., Page], site: Site, data_dir: Path
) -> None:
    page = new_page(java_script_enabled=False)
    sign_up(page, site, "noscript")
    upvotes = int(str(hf_papers(data_dir)[PAPER]["upvotes"]))
    item = paper_item(page, PAPER_TITLE)
    expect(item.locator(".count")).to_have_text(str(upvotes))

    with page.expect_navigation():
        item.locator("form.upvote button").click()
    # The form post redirects to the paper page, which shows the new count.
    assert page.url == f"{site.url}/papers/{PAPER}"
    button = page.locator("main .actions form.upvote button")
    expect(button.locator(".count")).to_have_text(str(upvotes + 1))
    expect(button).to_have_attribute("aria-pressed", "true")

    # Signed out, the button leads to an explanation instead of counting a vote.
    anonymous = new_page(java_script_enabled=False)
    anonymous.goto(f"{site.url}/papers/{PAPER}")
    anonymous.locator("main .actions form.upvote button").click()
    expect(anonymous.locator("main h1")).to_have_text("Sign in first")
    anonymous.goto(f"{site.url}/papers/{PAPER}")
    expect(anonymous.locator("main .actions .count")).to_have_text(str(upvotes + 1))


def test_submitted_catalog_paper_is_on_todays_list_once(
    page: Page, site: Site, cli: Cli, data_dir: Path
) -> None:
    # In the catalog (from the arXiv API) but on no daily list.
    cli("import", "arxiv-atom", data_dir / ARXIV_ATOM, "--no-progress", "--no-index")
    sign_up(page, site, "grace")
    page.get_by_role("link", name="Submit", exact=True).click()
    form = page.locator("main form")
    form.get_by_label("arXiv id or URL").fill(f"https://arxiv.org/abs/{SUBMITTED}v1")
    form.get_by_role("button", name="Submit").click()

    today = dt.datetime.now(dt.UTC).date()
    page.wait_for_url(re.compile(rf"/papers/{SUBMITTED}\?"))
    expect(page.locator(".flash")).to_have_text("Thanks! The paper is on today's list.")
    expect(page.locator("main h1")).to_have_text(SUBMITTED_TITLE)
    expect(page.locator(".actions .meta")).to_have_text(
        f"Submitted by grace to the daily list of {today.isoformat()}"
    )

    page.get_by_role("link", name="Daily", exact=True).click()
    expect(page.locator("main h1")).to_have_text(f"{today:%A, %-d %B %Y}")
    item = paper_item(page, SUBMITTED_TITLE)
    expect(item).to_have_count(1)
    expect(item.locator(".count")).to_have_text("0")
    expect(item).to_contain_text("submitted by grace")

    # The same paper again: refused, with the reason, and the input kept.
    page.goto(f"{site.url}/submit")
    form.get_by_label("arXiv id or URL").fill(SUBMITTED)
    with page.expect_response(f"{site.url}/submit") as answer:
        form.get_by_role("button", name="Submit").click()
    assert answer.value.status == 409  # Conflict: the one error mapping, as in the API
    expect(page.get_by_role("alert")).to_have_text(
        f"arXiv:{SUBMITTED} is already on the daily list of {today.isoformat()}"
    )
    expect(form.get_by_label("arXiv id or URL")).to_have_value(SUBMITTED)
    page.goto(site.url)
    expect(paper_item(page, SUBMITTED_TITLE)).to_have_count(1)


def test_comment_is_rendered_from_markdown(page: Page, site: Site) -> None:
    sign_up(page, site, "linus")
    page.goto(f"{site.url}/papers/{PAPER}")
    expect(page.locator("#comments-h")).to_have_text("Comments (0)")
    page.get_by_label(re.compile("^Your comment")).fill(
        "This is *really* neat: see `decoder.py` and [the code](https://example.org/code)."
    )
    page.get_by_role("button", name="Post comment").click()

    expect(page.locator(".flash")).to_have_text("Comment posted.")
    expect(page.locator("#comments-h")).to_have_text("Comments (1)")
    comment = page.locator("article.comment")
    expect(comment.locator(".meta strong")).to_have_text("Linus Reader")
    body = comment.locator(".comment-body")
    expect(body).to_have_text("This is really neat: see decoder.py and the code.")
    expect(body.locator("em")).to_have_text("really")
    expect(body.locator("code")).to_have_text("decoder.py")
    link = body.get_by_role("link", name="the code")
    expect(link).to_have_attribute("href", "https://example.org/code")
    expect(link).to_have_attribute("rel", re.compile(r"\bnofollow\b"))


def subscribe_from_footer(page: Page, address: str) -> None:
    footer = page.locator("footer")
    footer.get_by_label("Email", exact=True).fill(address)
    footer.get_by_role("button", name="Subscribe").click()
    expect(page.locator("main h1")).to_have_text("Check your inbox")
    expect(page.get_by_role("status")).to_contain_text(f"We sent a confirmation link to {address}")


def confirm_and_unsubscribe(page: Page, site: Site, links: list[str], address: str) -> None:
    confirm = [url for url in links if "/subscribe/confirm/" in url]
    unsubscribe = [url for url in links if "/unsubscribe/" in url]
    assert len(confirm) == 1 and len(unsubscribe) == 1, links
    assert confirm[0].startswith(f"{site.url}/"), "mailed links must lead to this site"

    page.goto(confirm[0])  # a page with one button: opening the link changes nothing
    found = site.runtime.subscriptions.get(address)
    assert found is not None and found.status == "pending"
    page.get_by_role("button", name="Confirm subscription").click()
    expect(page.locator("main h1")).to_have_text("Subscription confirmed")
    expect(page.get_by_role("status")).to_contain_text(f"Trending papers will come to {address}")
    found = site.runtime.subscriptions.get(address)
    assert found is not None and found.status == "confirmed"

    page.goto(unsubscribe[0])  # a page with one button: opening the link changes nothing
    found = site.runtime.subscriptions.get(address)
    assert found is not None and found.status == "confirmed"
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("main h1")).to_have_text("Unsubscribed")
    expect(page.get_by_role("status")).to_contain_text(f"{address} will get no more")
    found = site.runtime.subscriptions.get(address)
    assert found is not None and found.status == "unsubscribed"


def test_subscription_is_confirmed_from_the_mail_in_the_outbox(page: Page, site: Site) -> None:
    address = "reader@example.org"
    page.goto(f"{site.url}/papers/{PAPER}")
    subscribe_from_footer(page, address)

    mails = site.outbox()
    assert [m["To"] for m in mails] == [address]
    assert "Confirm your paperfeed" in mails[0]["Subject"]
    confirm_and_unsubscribe(page, site, links_in(mails[0]), address)


def test_subscription_is_confirmed_from_the_mail_sent_over_smtp(
    page: Page, serve: Callable[..., Site], seed_hf_daily_list: None, smtp_server: SmtpServer
) -> None:
    site = serve(smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_starttls=False)
    address = "smtp.reader@example.org"
    page.goto(f"{site.url}/trending")
    subscribe_from_footer(page, address)

    assert [rcpt for rcpt, _ in smtp_server.inbox.delivered] == [[address]]
    assert site.outbox() == [], "with an SMTP server, nothing goes to the outbox"
    (mail,) = smtp_server.inbox.messages()
    assert mail["To"] == address
    confirm_and_unsubscribe(page, site, links_in(mail), address)


def read_feed(page: Page) -> feedparser.FeedParserDict:
    """The Atom feed the page announces, fetched and parsed as a feed reader would."""
    link = page.locator('head link[rel="alternate"][type="application/atom+xml"]')
    expect(link).to_have_count(1)
    href = urljoin(page.url, link.get_attribute("href") or "")
    response = page.request.get(href)
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.body())
    assert not feed.bozo, feed.bozo_exception
    return feed


def test_feeds_announced_by_pages_list_their_papers(
    page: Page, indexed_site: Site, data_dir: Path
) -> None:
    site = indexed_site
    papers = hf_papers(data_dir)
    page.goto(site.url)
    feed = read_feed(page)
    assert feed.feed.title == "paperfeed: daily papers 2026-07-31"
    titles = {normalize_text(str(p["title"])) for p in papers.values()}
    assert {entry.title for entry in feed.entries} == titles
    entry = next(e for e in feed.entries if e.title == PAPER_TITLE)
    assert entry.link == f"{site.url}/papers/{PAPER}"

    # A search's feed has its matches, newest first: what the page shows sorted by date.
    page.goto(f"{site.url}/search?q=parametric+long-term+memory")
    feed = read_feed(page)
    assert feed.feed.title == "paperfeed: search 'parametric long-term memory'"
    page.get_by_label("Sort").select_option("Newest")
    page.locator("main form").get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"sort=date"))
    shown = page.locator("ol.papers h3 a").all_inner_texts()
    assert PAPER_TITLE in shown
    assert sorted(entry.title for entry in feed.entries) == sorted(shown)
    published = [entry.published for entry in feed.entries]
    assert published == sorted(published, reverse=True)
