"""Managing an account in Chromium, on the real app with an injected clock: API tokens (named,
optionally expiring, shown once after a redirect, last use, revoked one by one) and what the
API answers to wrong and expired ones; the password; the email address changed by a link to
the new address; the data download; deleting the account; replies, edits and deletions of
comments; error pages with a title and a sign-in link that leads back."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from lxml import html
from playwright.sync_api import Page, expect

from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.db.schema import api_tokens, comments
from paperfeed.runtime import Runtime
from tests.support.accounts import confirmed_user
from tests.support.outbox import body_text, link_token
from tests.support.server import LiveServer, csrf_token, reserve_port
from tests.web.support import PASSWORD, Site, sign_in

PAPER = "2607.27919"  # on the 2026-07-31 list
START = dt.datetime(2026, 8, 1, 9, 30)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def timed_site(
    settings: Settings, seed_hf_daily_list: None, clock: FrozenClock, search_ready: None
) -> Iterator[Site]:
    """The app over one real Hugging Face daily list, on the test's clock."""
    port = reserve_port()
    update = {"base_url": f"http://127.0.0.1:{port}", "rate_limit_scale": 100.0}
    runtime = Runtime(settings.model_copy(update=update), clock=clock)
    server = LiveServer(runtime, port)
    server.start()
    yield Site(server, runtime)
    server.stop()
    runtime.close()


def signed_in(page: Page, site: Site, username: str) -> str:
    address = f"{username}@example.org"
    confirmed_user(site.runtime.accounts, address, username, fullname=f"{username.title()} R")
    sign_in(page, site, address)
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(username)
    return address


def token_items(page: Page) -> list[str]:
    return [" ".join(t.split()) for t in page.locator("section.api-tokens li").all_inner_texts()]


def stored_tokens(site: Site) -> int:
    with site.runtime.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(api_tokens)).scalar_one())


def api_upvote(site: Site, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(f"{site.url}/api/v1/papers/{PAPER}/upvote", headers=headers, timeout=30)


def test_api_tokens_are_named_shown_once_expire_and_are_revoked_one_by_one(
    page: Page, timed_site: Site, clock: FrozenClock
) -> None:
    site = timed_site
    signed_in(page, site, "ada")
    page.goto(f"{site.url}/account")
    expect(page).to_have_title("Your account · paperfeed")
    expect(page.locator("section.api-tokens")).to_contain_text("None")
    page.get_by_label("Token name").fill("laptop")
    page.get_by_label("Expires").select_option(label="in 7 days")
    page.get_by_role("button", name="Create token").click()

    # A POST answered by a redirect: the page shows the token once.
    expect(page).to_have_url(f"{site.url}/account?msg=token-created")
    expect(page.locator(".flash")).to_have_text("API token created.")
    token = page.locator("#new-token code.token").inner_text()
    assert token.startswith("pf_")
    [item] = token_items(page)
    assert item.startswith(
        "laptop (created 2026-08-01 09:30 UTC; never used; expires 2026-08-08 09:30 UTC; key "
    )
    page.reload()
    expect(page.locator("#new-token")).to_have_count(0)  # shown only once
    assert token not in page.content()
    assert len(token_items(page)) == 1 and stored_tokens(site) == 1  # no second token

    clock.advance(dt.timedelta(hours=1))
    assert api_upvote(site, token).status_code == 200
    page.reload()
    assert "last used 2026-08-01 10:30 UTC" in token_items(page)[0]

    wrong = api_upvote(site, token[:-2] + "xx")
    assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid API token"})
    missing = api_upvote(site, None)
    assert missing.status_code == 401 and "an API token is required" in missing.json()["error"]
    clock.advance(dt.timedelta(days=7))
    expired = api_upvote(site, token)
    assert expired.status_code == 401
    assert expired.json()["error"].startswith("this API token expired on 2026-08-08 09:30 UTC")
    page.reload()
    assert "expired 2026-08-08 09:30 UTC" in token_items(page)[0]

    page.get_by_label("Token name").fill("ci")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token code.token")).to_have_text(re.compile("^pf_"))
    assert [i.split(" (")[0] for i in token_items(page)] == ["ci", "laptop"]
    assert "does not expire" in token_items(page)[0]
    page.get_by_role("button", name=re.compile(r"^Revoke laptop \(")).click()
    expect(page.locator(".flash")).to_have_text("API token revoked.")
    assert [i.split(" (")[0] for i in token_items(page)] == ["ci"]
    assert stored_tokens(site) == 1


def test_password_change_signs_out_other_browsers(
    new_page: Callable[..., Page], timed_site: Site
) -> None:
    site = timed_site
    here, elsewhere = new_page(), new_page()
    address = signed_in(here, site, "ada")
    sign_in(elsewhere, site, address)
    here.goto(f"{site.url}/account")
    here.get_by_role("link", name="Change your password").click()
    expect(here).to_have_title("Change your password · paperfeed")
    here.get_by_label("Current password").fill(PASSWORD)
    here.get_by_label("New password (at least 10 characters)").fill("a brand new passphrase")
    here.get_by_role("button", name="Change password").click()
    expect(here.locator(".flash")).to_have_text(
        "Password changed; every other browser is signed out."
    )
    elsewhere.goto(f"{site.url}/account")
    expect(elsewhere.locator("main h1")).to_have_text("Sign in first")


def test_the_email_address_changes_when_the_new_one_confirms(
    new_page: Callable[..., Page], timed_site: Site
) -> None:
    site = timed_site
    page = new_page()
    signed_in(page, site, "ada")
    page.goto(f"{site.url}/account")
    page.get_by_role("link", name="Change your email address").click()
    page.get_by_label("New email address").fill("ada@new.example")
    page.get_by_label("Your password").fill("not the password")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("alert")).to_have_text("the current password is wrong")
    expect(page.get_by_label("New email address")).to_have_value("ada@new.example")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("main h1")).to_have_text("Check your inbox")
    expect(page.get_by_role("status")).to_contain_text(
        "Until then the account keeps ada@example.org"
    )

    # Until the link is opened, the old address is the account's.
    page.goto(f"{site.url}/account")
    expect(page.locator("dl.facts dd").nth(1)).to_have_text(
        "ada@example.org (changing to ada@new.example: waiting for its link to be opened)"
    )
    [mail] = [m for m in site.outbox() if m["To"] == "ada@new.example"]
    assert mail["Subject"] == "Confirm your new paperfeed email address"
    token = link_token(mail, site.url, "account/email")

    # Opened in another browser (no session needed): one click confirms.
    other = new_page()
    other.goto(f"{site.url}/account/email/{token}")
    expect(other.locator("main")).to_contain_text("Make ada@new.example the address")
    other.get_by_role("button", name="Use this address").click()
    expect(other.locator("main h1")).to_have_text("Email address changed")
    page.goto(f"{site.url}/account")
    expect(page.locator("dl.facts dd").nth(1)).to_have_text("ada@new.example")
    [notice] = [m for m in site.outbox() if m["To"] == "ada@example.org"]
    assert "now uses the address ada@new.example" in body_text(notice)
    other.goto(f"{site.url}/account/email/{token}")  # used: gone
    expect(other.locator("main h1")).to_have_text("Not found")


def test_the_data_download_and_deleting_the_account(
    new_page: Callable[..., Page], timed_site: Site
) -> None:
    site = timed_site
    ada, bob = new_page(), new_page()
    signed_in(ada, site, "ada")
    signed_in(bob, site, "bob")
    for page in (ada, bob):
        page.goto(f"{site.url}/papers/{PAPER}")
    vote = ada.locator(".actions form.upvote button")
    vote.click()
    expect(vote).to_have_attribute("aria-pressed", "true")
    ada.get_by_label(re.compile("^Your comment")).fill("ada's question")
    ada.get_by_role("button", name="Post comment").click()
    expect(ada.locator(".flash")).to_have_text("Comment posted.")
    bob.reload()
    bob.get_by_text("Reply", exact=True).click()
    bob.get_by_label("Your reply to Ada R").fill("bob's answer")
    bob.get_by_role("button", name="Post reply").click()
    expect(bob.locator(".flash")).to_have_text("Comment posted.")

    ada.goto(f"{site.url}/account")
    with ada.expect_download() as download:
        ada.get_by_role("link", name="Download your data (JSON)").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert data["account"]["username"] == "ada"
    assert [c["body"] for c in data["comments"]] == ["ada's question"]
    assert [v["paper"] for v in data["upvotes"]] == [PAPER]

    ada.get_by_role("link", name="Delete your account").click()
    expect(ada).to_have_title("Delete your account · paperfeed")
    expect(ada.locator("main")).to_contain_text(
        "your comments: they are removed, not kept under another name; "
        "replies others wrote to them stay"
    )
    ada.get_by_label("Your password").fill("wrong password")
    ada.get_by_role("button", name="Delete my account").click()
    expect(ada.get_by_role("alert")).to_have_text(
        "the password is wrong: the account is not deleted"
    )
    ada.get_by_label("Your password").fill(PASSWORD)
    ada.get_by_role("button", name="Delete my account").click()
    expect(ada.locator(".flash")).to_have_text("Your account is deleted.")
    expect(ada.get_by_role("navigation", name="Main")).to_contain_text("Sign in")
    assert site.runtime.accounts.by_username("ada") is None

    bob.goto(f"{site.url}/papers/{PAPER}")
    expect(bob.locator("article.comment")).to_have_count(1)
    expect(bob.locator("article.comment .comment-body")).to_have_text("bob's answer")
    expect(bob.locator("article.comment .meta")).not_to_contain_text("reply to")


def test_replies_edits_and_deletions_of_comments_in_the_page(
    new_page: Callable[..., Page], timed_site: Site, clock: FrozenClock
) -> None:
    site = timed_site
    ada, bob = new_page(), new_page()
    signed_in(ada, site, "ada")
    signed_in(bob, site, "bob")
    ada.goto(f"{site.url}/papers/{PAPER}")
    ada.get_by_label(re.compile("^Your comment")).fill("Is the *memory* pretrained?")
    ada.get_by_role("button", name="Post comment").click()
    expect(ada.locator(".flash")).to_have_text("Comment posted.")
    first = ada.locator("article.comment").first
    first_id = first.get_attribute("id")
    assert ada.url.endswith(f"#{first_id}")

    bob.goto(f"{site.url}/papers/{PAPER}")
    bob_first = bob.locator(f"#{first_id}")
    expect(bob_first.get_by_text("Edit", exact=True)).to_have_count(0)  # not his
    expect(bob_first.get_by_text("Delete", exact=True)).to_have_count(0)
    bob_first.get_by_text("Reply", exact=True).click()
    bob_first.get_by_label("Your reply to Ada R").fill("Yes, <b>see</b> section 3.")
    bob_first.get_by_role("button", name="Post reply").click()
    expect(bob.locator(".flash")).to_have_text("Comment posted.")
    reply = bob.locator("article.comment").nth(1)
    expect(reply.locator(".comment-body")).to_have_text("Yes, <b>see</b> section 3.")
    expect(reply.locator(".meta").first).to_contain_text("reply to")
    expect(reply.locator(".meta a")).to_have_attribute("href", f"#{first_id}")

    clock.advance(dt.timedelta(minutes=5))
    ada.reload()
    mine = ada.locator(f"#{first_id}")
    mine.get_by_text("Edit", exact=True).click()
    edit = mine.get_by_label("Edit your comment")
    expect(edit).to_have_value("Is the *memory* pretrained?")
    edit.fill("Is the *memory module* pretrained?")
    mine.get_by_role("button", name="Save changes").click()
    expect(ada.locator(".flash")).to_have_text("Comment updated.")
    expect(mine.locator(".comment-body em")).to_have_text("memory module")
    expect(mine).to_contain_text("edited 2026-08-01 09:35 UTC")

    # Bob cannot edit Ada's comment by posting the form himself.
    forged = bob.request.post(
        f"{site.url}/comments/{first_id.removeprefix('comment-')}/edit",
        form={
            "body": "hijacked",
            "csrf_token": bob.locator("input[name=csrf_token]").first.input_value(),
        },
    )
    assert forged.status == 403 and "only its author" in forged.text()

    mine.get_by_text("Delete", exact=True).click()
    mine.get_by_role("button", name="Delete this comment").click()
    expect(ada.locator(".flash")).to_have_text("Comment deleted.")
    expect(ada.locator("article.comment")).to_have_count(1)
    expect(ada.locator("article.comment .comment-body")).to_have_text("Yes, <b>see</b> section 3.")
    with site.runtime.engine.connect() as conn:
        assert conn.execute(sa.select(comments.c.body, comments.c.parent_id)).all() == [
            ("Yes, <b>see</b> section 3.", None)
        ]


def test_error_pages_have_titles_and_sign_in_leads_back_with_the_query(
    page: Page, timed_site: Site
) -> None:
    site = timed_site
    confirmed_user(site.runtime.accounts, "ada@example.org", "ada")
    page.goto(f"{site.url}/papers/no-such-paper-here")
    expect(page).to_have_title("Not found · paperfeed")
    page.goto(f"{site.url}/account?tab=tokens")
    expect(page).to_have_title("Sign in first · paperfeed")
    link = page.get_by_role("link", name="Sign in", exact=True).last
    expect(link).to_have_attribute("href", "/signin?next=/account%3Ftab%3Dtokens")
    link.click()
    form = page.locator("main form")
    form.get_by_label("Email").fill("ada@example.org")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site.url}/account?tab=tokens&msg=signed-in")

    # next= with a query and a fragment keeps both; another site's address is not followed.
    for target, landing in (
        (f"/papers/{PAPER}?x=1#comments-h", f"/papers/{PAPER}?x=1&msg=signed-in#comments-h"),
        ("//evil.example/x?y=1", "/?msg=signed-in"),
        ("https://evil.example/", "/?msg=signed-in"),
        ("/\\evil.example", "/?msg=signed-in"),
    ):
        page.context.clear_cookies()
        page.goto(f"{site.url}/signin?" + str(httpx.QueryParams({"next": target})))
        form = page.locator("main form")
        form.get_by_label("Email").fill("ada@example.org")
        form.get_by_label("Password").fill(PASSWORD)
        form.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{site.url}{landing}")


def test_a_signed_out_form_post_offers_sign_in_back_to_the_form_page(timed_site: Site) -> None:
    site = timed_site
    with httpx.Client(base_url=site.url, timeout=30) as client:
        fields = {"csrf_token": csrf_token(client)}
        own = client.post(
            f"/papers/{PAPER}/upvote",
            data=fields,
            headers={"referer": f"{site.url}/papers/{PAPER}?from=list"},
        )
        foreign = client.post(
            f"/papers/{PAPER}/upvote",
            data=fields,
            headers={"referer": "https://evil.example/papers/x"},
        )
    for response, back in ((own, f"/papers/{PAPER}%3Ffrom%3Dlist"), (foreign, "/")):
        assert response.status_code == 401
        page = html.fromstring(response.text)
        assert page.findtext(".//title") == "Sign in first · paperfeed"
        assert page.xpath("//main//a[.='Sign in']/@href") == [f"/signin?next={back}"]
