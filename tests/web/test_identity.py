"""Identity over real HTTP, as a browser without script meets it: sign-up confirms the address
by the mailed link before the account can do anything, the admin list no longer makes admin
whoever signs up first with an address, sign-up answers the same whether or not the address
has an account, and the reset and password-change pages list the account's API tokens with a
one-click "revoke all"."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import httpx
import pytest
import sqlalchemy as sa
from lxml import html

from paperfeed.config import Settings
from paperfeed.db.schema import comments, users
from paperfeed.runtime import Runtime
from tests.conftest import DATA
from tests.support.accounts import PASSWORD, confirmed_user
from tests.support.cli import Cli
from tests.support.outbox import body_text, link_token, outbox
from tests.support.server import csrf_token, live_server, reserve_port

HF_DAILY = DATA / "fixtures" / "hf_papers" / "daily_papers_2026-06-12.json"
PAPER = "2606.13392"  # "MiniMax Sparse Attention", on that list
ADMIN = "admin@example.org"


@dataclass
class Site:
    runtime: Runtime
    url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def mails(self, to: str) -> list[EmailMessage]:
        return outbox(self.runtime.settings, to)

    def role(self, email: str) -> str | None:
        with self.runtime.engine.connect() as conn:
            return conn.execute(sa.select(users.c.role).where(users.c.email == email)).scalar()


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    """The app over the test's catalog, with admin@example.org on PAPERFEED_ADMIN_EMAILS and
    its own address as the base URL of the links in its mails (written to the outbox)."""
    port = reserve_port()
    url = f"http://127.0.0.1:{port}"
    update = {"base_url": url, "admin_emails": [ADMIN], "rate_limit_scale": 100.0}
    runtime = Runtime(settings.model_copy(update=update))
    with contextlib.closing(runtime), live_server(runtime, port):
        yield Site(runtime, url)


def post(
    client: httpx.Client, path: str, form_page: str = "/signin", **fields: str
) -> httpx.Response:
    return client.post(path, data={**fields, "csrf_token": csrf_token(client, form_page)})


def sign_up(
    client: httpx.Client, email: str, username: str, password: str = PASSWORD
) -> httpx.Response:
    return post(client, "/signup", "/signup", email=email, username=username, password=password)


def text(response: httpx.Response) -> str:
    return " ".join(html.fromstring(response.text).text_content().split())


def role_shown(response: httpx.Response) -> list[str]:
    """The role on the account page."""
    page = html.fromstring(response.text)
    return [str(dd) for dd in page.xpath("//dt[.='Role']/following-sibling::dd[1]/text()")]


def confirm_path(site: Site, message: EmailMessage) -> str:
    return "/signup/confirm/" + link_token(message, site.url, "signup/confirm")


def test_sign_up_then_the_mailed_link_then_a_comment(site: Site, cli: Cli) -> None:
    cli("import", "hf-daily", HF_DAILY, "--no-progress", "--no-index")
    with site.client() as client:
        answer = sign_up(client, "grace@example.org", "grace")
        assert answer.status_code == 200
        assert "We sent a link to grace@example.org" in text(answer)
        assert "pf_session" not in client.cookies
        # Unconfirmed: not signed in, no comment; signing in mails a new link instead.
        assert client.get("/account").status_code == 401
        refused = post(client, f"/papers/{PAPER}/comments", body="first!")
        assert refused.status_code == 401
        signin = post(client, "/signin", email="grace@example.org", password=PASSWORD)
        assert signin.status_code == 400
        assert "confirm your email address first" in text(signin)
        assert "pf_session" not in client.cookies
        first, second = site.mails("grace@example.org")
        assert first["Subject"] == second["Subject"] == "Confirm your paperfeed account"

        # The link asks for the account's password, then signs in.
        path = confirm_path(site, first)
        page = client.get(path)
        assert page.status_code == 200
        assert "Confirm grace@example.org for the account grace" in text(page)
        wrong = post(client, path, path, password="not the password")
        assert wrong.status_code == 400 and "wrong password for this account" in text(wrong)
        confirmed = post(client, path, path, password=PASSWORD)
        assert confirmed.status_code == 303
        assert confirmed.headers["location"] == "/?msg=account-confirmed"
        assert "pf_session" in client.cookies
        assert client.get(path).status_code == 404  # used: every link of the account is void
        assert client.get(confirm_path(site, second)).status_code == 404

        commented = post(client, f"/papers/{PAPER}/comments", "/account", body="first!")
        assert commented.status_code == 303, commented.text
    with site.runtime.engine.connect() as conn:
        posted = conn.execute(sa.select(users.c.username, comments.c.body).join(users)).all()
    assert [tuple(row) for row in posted] == [("grace", "first!")]


def test_signing_up_with_an_admin_address_gives_no_role_until_confirmed(site: Site) -> None:
    """The reproduction: with PAPERFEED_ADMIN_EMAILS=admin@example.org, whoever signed up
    first with that address (any password, no mail read) was signed in as an admin."""
    with site.client() as mallory:
        sign_up(mallory, ADMIN, "mallory", "any password at all")
        account = mallory.get("/account")
        assert account.status_code == 401, text(account)
        assert role_shown(account) == []
    assert site.role(ADMIN) == "user"

    # Whoever reads the mail and knows the password confirms it: only then the role.
    [mail] = site.mails(ADMIN)
    with site.client() as owner:
        path = confirm_path(site, mail)
        assert post(owner, path, path, password="any password at all").status_code == 303
        assert role_shown(owner.get("/account")) == ["admin"]
    assert site.role(ADMIN) == "admin"


def test_sign_up_answers_the_same_for_a_taken_address_and_mails_its_owner(site: Site) -> None:
    with site.client() as client:  # one browser: the pages carry the same CSRF token
        sign_up(client, "ada@example.org", "ada")
        [confirmation] = site.mails("ada@example.org")
        path = confirm_path(site, confirmation)
        post(client, path, path, password=PASSWORD)
        post(client, "/signout", "/account")
        taken = sign_up(client, "ada@example.org", "ada2", "some other password")
        new = sign_up(client, "new@example.org", "newbie", "some other password")
        assert "pf_session" not in client.cookies
    assert "set-cookie" not in taken.headers and "set-cookie" not in new.headers
    assert taken.status_code == new.status_code == 200
    assert taken.text.replace("ada@example.org", "EMAIL") == new.text.replace(
        "new@example.org", "EMAIL"
    )
    assert "already exists" not in taken.text

    confirmation, owner_mail = site.mails("ada@example.org")
    assert owner_mail["Subject"] == "Your paperfeed account"
    assert "already has one: yours, with the username ada" in body_text(owner_mail)
    assert "/signup/confirm/" not in body_text(owner_mail)
    [new_mail] = site.mails("new@example.org")
    assert new_mail["Subject"] == "Confirm your paperfeed account"
    assert site.runtime.accounts.by_username("ada2") is None
    assert site.runtime.accounts.authenticate("ada@example.org", PASSWORD) is not None


def api_token_names(response: httpx.Response) -> list[str]:
    page = html.fromstring(response.text)
    items = page.xpath("//section[@class='api-tokens']//li")
    return [" ".join(str(item.text_content()).split()).split(" (created")[0] for item in items]


def test_the_reset_page_lists_api_tokens_and_revokes_them_all(site: Site) -> None:
    accounts = site.runtime.accounts
    ada = confirmed_user(accounts, "ada@example.org", "ada")
    tokens = [accounts.create_api_token(ada, "laptop"), accounts.create_api_token(ada, "ci")]
    with site.client() as client:
        assert post(client, "/reset", "/reset", email="ada@example.org").status_code == 303
        [mail] = site.mails("ada@example.org")
        path = "/reset/" + link_token(mail, site.url, "reset")
        page = client.get(path)
        assert sorted(api_token_names(page)) == ["ci", "laptop"]
        revoke = html.fromstring(page.text).xpath("//form[.//button='Revoke all API tokens']")
        assert revoke[0].get("action") == f"{path}/revoke-tokens"

        revoked = post(client, f"{path}/revoke-tokens", path)
        assert revoked.status_code == 303
        assert [accounts.token_user(t) for t in tokens] == [None, None]
        assert api_token_names(client.get(path)) == []
        # The link still sets the password (once), and the account page lists no token.
        done = post(client, path, path, password="a brand new passphrase")
        assert done.status_code == 303 and done.headers["location"].startswith("/account")
        assert api_token_names(client.get("/account")) == []


def test_the_password_change_page_lists_api_tokens_and_signs_out_elsewhere(site: Site) -> None:
    accounts = site.runtime.accounts
    ada = confirmed_user(accounts, "ada@example.org", "ada")
    token = accounts.create_api_token(ada, "laptop")
    with site.client() as client, site.client() as elsewhere:
        for browser in (client, elsewhere):
            signed_in = post(browser, "/signin", email="ada@example.org", password=PASSWORD)
            assert signed_in.status_code == 303
        page = client.get("/account/password")
        assert api_token_names(page) == ["laptop"]
        assert "no-store" in page.headers["cache-control"]

        form = "/account/password"
        wrong = post(client, form, form, current="not it", password="a brand new passphrase")
        assert wrong.status_code == 400 and "the current password is wrong" in text(wrong)
        changed = post(client, form, form, current=PASSWORD, password="a brand new passphrase")
        assert changed.status_code == 303
        assert changed.headers["location"] == "/account/password?msg=password-updated"
        assert client.get("/account").status_code == 200  # this browser has a new session
        assert elsewhere.get("/account").status_code == 401  # the other one is out

        revoked = post(client, "/account/tokens/revoke", form, next=form)
        assert revoked.status_code == 303
        assert revoked.headers["location"] == "/account/password?msg=tokens-revoked"
        assert accounts.token_user(token) is None
        assert api_token_names(client.get(form)) == []
