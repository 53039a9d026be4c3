"""A real digest mail, sent by the digest sender to a real SMTP server (aiosmtpd) and read
back: its HTML part opened in Chromium (papers, links, nothing loaded from anywhere, readable
in light and dark mode, on a phone), every link in it fetched as a mail scanner does (nothing
changes), its List-Unsubscribe header used as RFC 8058 says (it unsubscribes), and hostile
papers shown as text in both parts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from lxml import html
from playwright.sync_api import Page, expect

from paperfeed.db.schema import digest_deliveries
from paperfeed.digest.preferences import MAX_PAPERS_LIMIT
from paperfeed.papers.tex_display import readable
from paperfeed.papers.text import normalize_text
from tests.support.cli import Cli
from tests.web.support import HF_DAILY, Site, SmtpServer, Watch, links_in
from tests.web.test_hostile import (
    HOSTILE_ID,
    HOSTILE_TITLE,
    IMG,
    SCRIPT,
    assert_nothing_ran,
    hostile_daily_list,
)
from tests.web.test_journey import subscribe_from_footer

DAY = dt.date(2026, 7, 31)  # the HF daily list the tests import
ADDRESS = "reader@example.org"

# Relative luminance and contrast ratio (WCAG 2), computed in the page from computed styles;
# a text's background is that of its nearest ancestor with an opaque one.
CONTRAST = """
(element) => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let node = element, background = null;
  while (node && node.nodeType === 1) {
    const value = getComputedStyle(node).backgroundColor;
    const parts = rgb(value);
    if (parts.length === 3 || parts[3] > 0) { background = parts.slice(0, 3); break; }
    node = node.parentElement;
  }
  background = background || [255, 255, 255];
  const fg = lum(rgb(getComputedStyle(element).color)), bg = lum(background);
  return {ratio: (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05), background: bg};
}
"""


@dataclass
class Mailed:
    site: Site
    mail: EmailMessage
    token: str


def send_digest(site: Site, smtp_server: SmtpServer, address: str, **prefs: object) -> Mailed:
    """Subscribes `address` (confirmed by its link), sets preferences, sends the daily digest
    of DAY with the digest sender, and returns the one digest mail the SMTP server got."""
    pending = site.runtime.subscriptions.subscribe(address)
    assert site.runtime.subscriptions.confirm(pending.token) is not None
    if prefs:
        found = site.runtime.digest_preferences.get_by_token(pending.token)
        assert found is not None
        site.runtime.digest_preferences.set(found[0], **prefs)  # type: ignore[arg-type]
    report = site.runtime.digest_sender.send(kinds=("daily",), day=DAY, retry_now=True)
    assert (report.sent, report.failed) == (1, 0), report.as_dict()
    digests = [m for m in smtp_server.inbox.messages() if m["List-Id"]]
    assert [m["To"] for m in digests] == [address]
    return Mailed(site, digests[0], pending.token)


@pytest.fixture
def mailed(
    serve: Callable[..., Site],
    seed_hf_daily_list: None,
    smtp_server: SmtpServer,
    search_ready: None,
) -> Mailed:
    """The daily digest of DAY (the HF daily list of 2026-07-31, in the test's catalog from
    the start), mailed to ADDRESS through the SMTP server."""
    site = serve(smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_starttls=False)
    return send_digest(site, smtp_server, ADDRESS)


def test_a_reader_who_subscribes_on_the_page_gets_the_next_edition_once_and_leaves_in_one_click(
    page: Page,
    serve: Callable[..., Site],
    seed_hf_daily_list: None,
    smtp_server: SmtpServer,
    search_ready: None,
) -> None:
    """The whole delivery, as a new reader meets it: the subscribe box, the confirmation
    link mailed over SMTP, the next daily edition (sent by two runs: one mail), and the
    one-click unsubscribe of its List-Unsubscribe header, after which no run mails again."""
    site = serve(smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_starttls=False)
    address = "new.reader@example.org"
    page.goto(f"{site.url}/")
    subscribe_from_footer(page, address)
    (confirmation,) = smtp_server.inbox.messages()
    (confirm,) = [url for url in links_in(confirmation) if "/subscribe/confirm/" in url]
    page.goto(confirm)
    page.get_by_role("button", name="Confirm subscription").click()
    expect(page.locator("main h1")).to_have_text("Subscription confirmed")

    sender = site.runtime.digest_sender
    first = sender.send(kinds=("daily",), day=DAY)
    again = sender.send(kinds=("daily",), day=DAY, retry_now=True)
    assert (first.sent, first.failed, again.sent, again.failed) == (1, 0, 0, 0)
    digests = [m for m in smtp_server.inbox.messages() if m["List-Id"]]
    assert [m["To"] for m in digests] == [address]
    (mail,) = digests
    page.set_content(html_part(mail))
    expect(page.locator("a", has_text="Unsubscribe").first).to_be_visible()

    (url,) = re.findall(r"<(https?://[^>]+)>", mail["List-Unsubscribe"])
    assert url.startswith(f"{site.url}/")
    answer = httpx.post(
        url,
        content=mail["List-Unsubscribe-Post"].encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    found = site.runtime.subscriptions.get(address)
    assert found is not None and found.status == "unsubscribed"
    later = sender.send(kinds=("daily",), day=DAY, retry_now=True)
    assert later.sent == 0
    assert len([m for m in smtp_server.inbox.messages() if m["List-Id"]]) == 1


def html_part(mail: EmailMessage) -> str:
    part = mail.get_body(("html",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def open_mail(new_page: Callable[..., Page], mail: EmailMessage, **options: object) -> Page:
    """The HTML part in a fresh page, as a mail client shows it: every request it would make
    is recorded and refused (there must be none)."""
    page = new_page(**options)
    requests: list[str] = []
    page.route("**/*", lambda route: (requests.append(route.request.url), route.abort()))
    page.set_content(html_part(mail), wait_until="load")
    assert requests == [], f"the mail loads {requests}"
    return page


def test_the_html_part_shows_the_papers_and_links_and_loads_nothing(
    new_page: Callable[..., Page], mailed: Mailed
) -> None:
    site, mail = mailed.site, mailed.mail
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]

    edition = site.runtime.editions.get("daily", DAY.isoformat())
    assert edition is not None
    cards = site.runtime.editions.cards(edition)[:10]
    page = open_mail(new_page, mail, viewport={"width": 900, "height": 1200})

    titles = page.locator("h2.title a")
    expect(titles).to_have_count(10)
    assert titles.all_inner_texts() == [readable(c.title) for c in cards]
    assert [titles.nth(i).get_attribute("href") for i in range(10)] == [
        f"{site.url}/papers/{c.public_id}" for c in cards
    ]
    first = page.locator("td.paper").first
    expect(first.locator(".authors")).to_contain_text(cards[0].authors[0])
    expect(first.locator(".facts")).to_contain_text(f"{cards[0].upvotes} upvote")
    with_code = [i for i, c in enumerate(cards) if c.code_links()]
    assert with_code, "the fixture's list has papers with code"
    code = page.locator("td.paper").nth(with_code[0]).get_by_role("link", name="code")
    expect(code).to_have_attribute("href", cards[with_code[0]].code_links()[0])
    expect(page.locator(".preheader")).to_be_hidden()

    unsubscribe = f"{site.url}/unsubscribe/{mailed.token}"
    assert mail["List-Unsubscribe"].startswith(f"<{unsubscribe}>")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    foot = page.locator("td.foot")
    expect(foot).to_contain_text(f"{ADDRESS} is subscribed")
    for name, href in (
        ("Change your preferences", f"{site.url}/digest/preferences/{mailed.token}"),
        ("Unsubscribe", unsubscribe),
        ("View in browser", f"{site.url}{edition.path}"),
    ):
        expect(foot.get_by_role("link", name=name)).to_have_attribute("href", href)
    # At 900 px the sheet is 600 px wide; nothing is cut off on a phone.
    assert page.locator("table.sheet").bounding_box()["width"] == pytest.approx(600, abs=2)  # type: ignore[index]
    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_html_part_is_readable_in_light_and_dark_mode(
    new_page: Callable[..., Page], mailed: Mailed, scheme: str
) -> None:
    page = open_mail(new_page, mailed.mail, color_scheme=scheme)
    for selector in ("h1.heading", "h2.title a", ".authors", ".summary", ".facts", "td.foot p"):
        found = page.locator(selector).first.evaluate(CONTRAST)
        assert found["ratio"] >= 4.5, (scheme, selector, found)
        # Dark mode really is dark (the @media rules beat the inlined light colours).
        assert (found["background"] < 0.05) == (scheme == "dark"), (scheme, selector, found)


def test_a_scanner_opening_every_link_of_a_digest_changes_nothing(mailed: Mailed) -> None:
    site, mail, token = mailed.site, mailed.mail, mailed.token
    before = site.runtime.digest_preferences.get_by_token(token)
    with site.runtime.engine.connect() as conn:
        deliveries = conn.execute(sa.select(digest_deliveries)).all()
    text_links = links_in(mail)
    html_links = html.document_fromstring(html_part(mail)).xpath("//a/@href")
    header_links = re.findall(r"<(https?://[^>]+)>", mail["List-Unsubscribe"])
    ours = sorted({u for u in [*text_links, *html_links, *header_links] if u.startswith(site.url)})
    assert any("/unsubscribe/" in u for u in ours) and any("/preferences/" in u for u in ours)
    assert any("/digest/daily/" in u for u in ours) and any("/papers/" in u for u in ours)

    with httpx.Client(follow_redirects=True, timeout=30) as scanner:
        for url in ours:
            assert scanner.head(url).status_code < 500, url  # (pages answer GET; HEAD: 405)
            answer = scanner.get(url)
            assert answer.status_code == 200, (url, answer.status_code)

    found = site.runtime.subscriptions.by_token(token)
    assert found is not None and found.status == "confirmed"
    assert site.runtime.digest_preferences.get_by_token(token) == before
    with site.runtime.engine.connect() as conn:
        assert conn.execute(sa.select(digest_deliveries)).all() == deliveries


def test_the_list_unsubscribe_header_unsubscribes_with_one_post(mailed: Mailed) -> None:
    """RFC 8058 as a mailbox provider does it: a POST of `List-Unsubscribe=One-Click` to the
    header's https? URL, with no cookie and nothing fetched before."""
    (url,) = re.findall(r"<(https?://[^>]+)>", mailed.mail["List-Unsubscribe"])
    answer = httpx.post(
        url,
        content=mailed.mail["List-Unsubscribe-Post"].encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    found = mailed.site.runtime.subscriptions.by_token(mailed.token)
    assert found is not None and found.status == "unsubscribed"


def test_hostile_papers_are_text_in_both_parts_of_the_mail_and_on_the_edition_page(
    new_page: Callable[..., Page],
    serve: Callable[..., Site],
    cli: Cli,
    data_dir: Path,
    tmp_path: Path,
    smtp_server: SmtpServer,
    search_ready: None,
    watch: Watch,
) -> None:
    cli("import", "hf-daily", data_dir / HF_DAILY, "--no-progress", "--no-index")
    cli("import", "hf-daily", hostile_daily_list(tmp_path), "--no-progress", "--no-index")
    site = serve(smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_starttls=False)
    mail = send_digest(site, smtp_server, ADDRESS, max_papers=MAX_PAPERS_LIMIT).mail
    title = normalize_text(HOSTILE_TITLE)
    summary = f"Summary {SCRIPT} {IMG}"

    text = mail.get_body(("plain",))
    assert text is not None
    flat = " ".join(str(text.get_content()).split())
    assert f"{title}" in flat and summary in flat
    assert f"{IMG}, Eve {SCRIPT} Attacker" in flat
    assert "javascript:" not in flat  # the hostile code link is not a code link

    doc = html.document_fromstring(html_part(mail))
    assert doc.xpath("//script | //img | //*[@onerror]") == []
    assert not [h for h in doc.xpath("//a/@href") if not h.startswith(("http://", "https://"))]
    page = open_mail(new_page, mail)
    item = page.locator("td.paper", has=page.locator(f"a[href$='/papers/{HOSTILE_ID}']"))
    expect(item.locator("h2.title a")).to_have_text(title)
    expect(item.locator(".summary")).to_have_text(summary)
    expect(item.locator(".authors")).to_have_text(f"{IMG}, Eve {SCRIPT} Attacker")
    assert_nothing_ran(page, watch)

    # The edition's page ("view in browser"): the same text, inert.
    page = new_page()
    page.goto(f"{site.url}/digest/daily/{DAY}")
    item = page.locator("li.paper", has=page.locator(f"a[href='/papers/{HOSTILE_ID}']"))
    expect(item.locator("h3 a")).to_have_text(title)
    expect(item.locator(".snippet")).to_have_text(summary)
    assert_nothing_ran(page, watch)
