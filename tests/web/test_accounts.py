"""Accounts in a real browser: sign out, sign in (wrong and right password, back to where the
reader was going), and a password reset through the link in the mail."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

from tests.web.support import PASSWORD, Site, links_in, sign_in, sign_out, sign_up

NEW_PASSWORD = "a brand new passphrase"


def nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def test_sign_out_then_wrong_and_right_password(page: Page, site: Site) -> None:
    address = sign_up(page, site, "margaret")
    sign_out(page)
    expect(nav(page).get_by_role("link", name="Sign in")).to_be_visible()
    expect(nav(page)).not_to_contain_text("margaret")
    page.goto(f"{site.url}/account")
    expect(page.locator("main h1")).to_have_text("Sign in first")

    # Going to submit a paper, signed out: sign in, and be back there.
    page.goto(f"{site.url}/submit")
    page.locator("main").get_by_role("link", name="Sign in").click()
    sign_in_form = page.locator("main form")
    sign_in_form.get_by_label("Email").fill(address)
    sign_in_form.get_by_label("Password").fill("not the password")
    with page.expect_response(f"{site.url}/signin") as answer:
        sign_in_form.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 400
    expect(page.get_by_role("alert")).to_have_text("wrong email or password")
    expect(sign_in_form.get_by_label("Email")).to_have_value(address)
    expect(sign_in_form.get_by_label("Password")).to_have_value("")
    expect(nav(page).get_by_role("link", name="Sign in")).to_be_visible()

    sign_in_form.get_by_label("Password").fill(PASSWORD)
    sign_in_form.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash")).to_have_text("Signed in.")
    assert page.url.startswith(f"{site.url}/submit?")
    expect(page.locator("main").get_by_label("arXiv id or URL")).to_be_visible()
    expect(nav(page).get_by_role("link", name="margaret")).to_be_visible()


def test_password_reset_through_the_mailed_link(new_page: Callable[..., Page], site: Site) -> None:
    page = new_page()
    address = sign_up(page, site, "barbara")
    elsewhere = new_page()  # another browser, signed in before the reset
    sign_in(elsewhere, site, address)
    expect(elsewhere.locator(".flash")).to_have_text("Signed in.")
    sign_out(page)

    # Asking for a reset for an unknown address answers the same and sends nothing.
    before = len(site.outbox())  # the sign-up's confirmation
    for email in ("nobody@example.org", address):
        page.goto(f"{site.url}/signin")
        page.get_by_role("link", name="Forgot your password?").click()
        page.locator("main").get_by_label("Email of your account").fill(email)
        page.get_by_role("button", name="Email me a reset link").click()
        expect(page.locator(".flash")).to_have_text(
            "If an account has this email, a reset link is on its way."
        )
    mails = site.outbox()[before:]
    assert [m["To"] for m in mails] == [address]
    links = [url for url in links_in(mails[0]) if "/reset/" in url]
    assert len(links) == 1 and links[0].startswith(f"{site.url}/reset/"), links

    page.goto(links[0])
    expect(page.locator("main h1")).to_have_text("Choose a new password")
    page.locator("main").get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.locator(".flash")).to_have_text("Password changed; you are signed in.")
    expect(nav(page).get_by_role("link", name="barbara")).to_be_visible()

    # The reset signed out the other browser; the link works once; the old password is gone.
    elsewhere.reload()
    expect(nav(elsewhere).get_by_role("link", name="Sign in")).to_be_visible()
    sign_out(page)
    page.goto(links[0])
    page.locator("main").get_by_label("New password").fill("yet another passphrase")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("alert")).to_have_text(
        "this reset link has expired or was already used"
    )
    sign_in(page, site, address, PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("wrong email or password")
    sign_in(page, site, address, NEW_PASSWORD)
    expect(page.locator(".flash")).to_have_text("Signed in.")
    expect(nav(page).get_by_role("link", name="barbara")).to_be_visible()
