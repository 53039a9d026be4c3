"""The pages behind a digest mail's links, over real HTTP and in Chromium: the edition pages
and feeds, preferences by the mail's link and on the account page, the unsubscribe page with
its one button, and RFC 8058's one-click POST (the only post without a CSRF token)."""

from __future__ import annotations

import re

import feedparser
import httpx
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from paperfeed.db.schema import digest_deliveries
from paperfeed.digest.preferences import Preferences
from tests.web.support import Site, sign_up

DAY = "2026-07-31"  # the date of the HF daily list the `site` fixture imports
WEEK = "2026-W31"


def confirmed_subscriber(site: Site, address: str) -> str:
    """A confirmed subscription (through its confirmation mail's link); its token."""
    pending = site.runtime.subscriptions.subscribe(address)
    assert site.runtime.subscriptions.confirm(pending.token) is not None
    return pending.token


def subscription_state(site: Site, token: str) -> tuple[str, Preferences]:
    found = site.runtime.subscriptions.by_token(token)
    prefs = site.runtime.digest_preferences.get_by_token(token)
    assert found is not None and prefs is not None
    return found.status, prefs[1]


def deliveries(site: Site) -> int:
    with site.runtime.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(digest_deliveries)).scalar_one()
        )


# -- editions ---------------------------------------------------------------------------------


def test_edition_pages_show_the_stored_editions_and_their_feeds(page: Page, site: Site) -> None:
    daily = site.runtime.editions.build("daily", DAY)
    weekly = site.runtime.editions.build("weekly", WEEK)
    assert daily is not None and weekly is not None
    top = site.runtime.editions.cards(daily)[0]

    page.goto(f"{site.url}/digest/daily/{DAY}")
    expect(page.locator("main h1")).to_have_text(daily.title)
    items = page.locator("ol.digest > li.paper")
    expect(items).to_have_count(min(len(daily.paper_ids), 50))
    first = items.first.locator("h3 a")
    expect(first).to_have_attribute("href", f"/papers/{top.public_id}")

    page.goto(f"{site.url}/digest/weekly/{WEEK}")
    expect(page.locator("main h1")).to_have_text(weekly.title)

    for kind, edition in (("daily", daily), ("weekly", weekly)):
        response = httpx.get(f"{site.url}/feeds/digest/{kind}.atom")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/atom+xml")
        feed = feedparser.parse(response.content)
        assert not feed.bozo, feed.bozo_exception
        cards = site.runtime.editions.cards(edition)[:10]
        assert [e.link for e in feed.entries] == [f"{site.url}/papers/{c.public_id}" for c in cards]
        assert feed.feed.link == f"{site.url}{edition.path}"


def test_an_edition_not_built_is_a_404_and_a_bad_period_a_400(site: Site) -> None:
    assert httpx.get(f"{site.url}/digest/daily/2026-08-01").status_code == 404
    assert httpx.get(f"{site.url}/digest/daily/2026-13-01").status_code == 400
    assert httpx.get(f"{site.url}/digest/monthly/2026-07").status_code == 400
    assert httpx.get(f"{site.url}/feeds/digest/hourly.atom").status_code == 400


# -- one-click unsubscribe (RFC 8058) ----------------------------------------------------------


def test_the_rfc8058_one_click_post_unsubscribes_with_no_page_in_between(site: Site) -> None:
    urlencoded = confirmed_subscriber(site, "form@example.org")
    multipart = confirmed_subscriber(site, "multipart@example.org")
    # As a mail provider sends it: no cookies, no Origin, no CSRF token, nothing before it.
    with httpx.Client() as client:
        answer = client.post(
            f"{site.url}/unsubscribe/{urlencoded}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200, answer.text
        answer = client.post(
            f"{site.url}/unsubscribe/{multipart}",
            files={"List-Unsubscribe": (None, "One-Click")},  # multipart/form-data
        )
        assert answer.status_code == 200, answer.text
    assert subscription_state(site, urlencoded)[0] == "unsubscribed"
    assert subscription_state(site, multipart)[0] == "unsubscribed"


def test_other_posts_to_the_unsubscribe_url_need_the_forms_csrf_token(site: Site) -> None:
    token = confirmed_subscriber(site, "kept@example.org")
    url = f"{site.url}/unsubscribe/{token}"
    for body in (
        b"",
        b"List-Unsubscribe=One-Click&x=1",
        b"List-Unsubscribe=Yes",
        b"list-unsubscribe=one-click",
        b"List-Unsubscribe=One-Click&List-Unsubscribe=One-Click",
    ):
        answer = httpx.post(
            url, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert answer.status_code == 403, (body, answer.status_code)
    answer = httpx.post(url, content=b"List-Unsubscribe=One-Click")  # not a form at all
    assert answer.status_code == 403
    assert subscription_state(site, token)[0] == "confirmed"
    # A token that names no subscription: nothing to unsubscribe.
    answer = httpx.post(
        f"{site.url}/unsubscribe/{'x' * 43}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 404


def test_the_unsubscribe_link_opens_a_page_whose_button_unsubscribes(
    page: Page, site: Site
) -> None:
    token = confirmed_subscriber(site, "button@example.org")
    page.goto(f"{site.url}/unsubscribe/{token}")
    expect(page.locator("main")).to_contain_text("button@example.org")
    assert subscription_state(site, token)[0] == "confirmed", "opening the page changed it"
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("main h1")).to_have_text("Unsubscribed")
    assert subscription_state(site, token)[0] == "unsubscribed"
    page.goto(f"{site.url}/unsubscribe/{token}")
    expect(page.get_by_role("status")).to_contain_text("is not subscribed")
    expect(page.get_by_role("button", name="Unsubscribe")).to_have_count(0)


# -- preferences --------------------------------------------------------------------------------


def test_preferences_change_from_the_mails_link_without_signing_in(page: Page, site: Site) -> None:
    token = confirmed_subscriber(site, "prefs@example.org")
    edition = site.runtime.editions.build("daily", DAY)
    assert edition is not None
    before = deliveries(site)

    page.goto(f"{site.url}/digest/preferences/{token}")
    expect(page.locator("main")).to_contain_text("prefs@example.org")
    form = page.locator("form.digest-preferences")
    expect(form.get_by_label("Daily (on weekdays)")).to_be_checked()
    expect(form.get_by_label("How many papers (1 to 50)")).to_have_value("10")
    form.get_by_label("Weekly").check()
    form.get_by_label(re.compile(r"^Categories")).fill("cs.CL, cs.LG math")
    form.get_by_label("How many papers (1 to 50)").fill("5")
    form.get_by_label("Only papers with code").check()
    form.get_by_role("button", name="Save preferences").click()
    expect(page.locator(".flash")).to_contain_text("Preferences saved")

    status, prefs = subscription_state(site, token)
    assert status == "confirmed"
    assert (prefs.frequency, prefs.categories, prefs.max_papers, prefs.code_only) == (
        "weekly",
        ("cs.CL", "cs.LG", "math"),
        5,
        True,
    )
    # The page shows what is stored.
    expect(form.get_by_label("Weekly")).to_be_checked()
    expect(form.get_by_label(re.compile(r"^Categories"))).to_have_value("cs.CL cs.LG math")
    assert deliveries(site) == before, "a preference change sent something"

    # Bad values: a clear message, the values kept in the form, nothing stored.
    form.get_by_label("How many papers (1 to 50)").evaluate("e => e.removeAttribute('max')")
    form.get_by_label("How many papers (1 to 50)").fill("500")
    form.get_by_label(re.compile(r"^Categories")).fill("cs.CL <b>bold</b>")
    form.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("alert")).to_contain_text("is not an arXiv category")
    expect(form.get_by_label(re.compile(r"^Categories"))).to_have_value("cs.CL <b>bold</b>")
    assert subscription_state(site, token)[1] == prefs


def test_preference_posts_need_the_forms_csrf_token(site: Site) -> None:
    token = confirmed_subscriber(site, "csrf@example.org")
    answer = httpx.post(
        f"{site.url}/digest/preferences/{token}",
        data={"frequency": "weekly", "max_papers": "3"},
    )
    assert answer.status_code == 403
    assert subscription_state(site, token)[1] == Preferences()


def test_a_signed_in_subscriber_changes_the_same_preferences_on_the_account_page(
    page: Page, site: Site
) -> None:
    address = sign_up(page, site, "ada")
    token = confirmed_subscriber(site, address)
    page.goto(f"{site.url}/account")
    section = page.locator("section.digest")
    expect(section).to_contain_text(address)
    section.get_by_label("Weekly").check()
    section.get_by_label("How many papers (1 to 50)").fill("3")
    section.get_by_role("button", name="Save preferences").click()
    expect(page.locator(".flash")).to_contain_text("Preferences saved")
    prefs = subscription_state(site, token)[1]
    assert (prefs.frequency, prefs.max_papers, prefs.code_only) == ("weekly", 3, False)

    # A bad value: the account page again, with the message and the values sent.
    section.get_by_label(re.compile(r"^Categories")).fill("cs.CL, not a category!")
    section.get_by_role("button", name="Save preferences").click()
    expect(section.get_by_role("alert")).to_contain_text("is not an arXiv category")
    expect(section.get_by_label(re.compile(r"^Categories"))).to_have_value("cs.CL, not a category!")
    assert subscription_state(site, token)[1] == prefs


def test_the_account_page_of_a_user_without_a_subscription_has_no_digest_section(
    page: Page, site: Site
) -> None:
    sign_up(page, site, "grace")
    page.goto(f"{site.url}/account")
    expect(page.locator("main h1")).to_have_text("Your account")
    expect(page.locator("section.digest")).to_have_count(0)


def test_pages_named_by_a_token_are_not_cached_and_unknown_tokens_are_404(site: Site) -> None:
    token = confirmed_subscriber(site, "private@example.org")
    for path in (f"/digest/preferences/{token}", f"/unsubscribe/{token}"):
        answer = httpx.get(f"{site.url}{path}")
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "private, no-store"
        assert answer.headers["referrer-policy"] == "same-origin"
        unknown = httpx.get(f"{site.url}{path.replace(token, 'y' * 43)}")
        assert unknown.status_code == 404


def test_opening_a_confirmation_link_does_not_confirm_the_subscription(site: Site) -> None:
    """Mail scanners open the link of a confirmation mail too: only the page's button (a
    form post with its CSRF token) confirms."""
    pending = site.runtime.subscriptions.subscribe("scanned@example.org")
    url = f"{site.url}/subscribe/confirm/{pending.token}"
    with httpx.Client(follow_redirects=True) as scanner:
        assert scanner.get(url).status_code == 200
        assert scanner.post(url).status_code == 403  # no CSRF token: not a person's click
    found = site.runtime.subscriptions.by_token(pending.token)
    assert found is not None and found.status == "pending"
