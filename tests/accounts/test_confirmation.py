"""Sign-up confirms the address by an emailed link: until then the account cannot sign in,
hold an API token or a role, and the admin list applies only to confirmed addresses. A
sign-up with an address that has an account changes nothing (its owner is told by mail)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from paperfeed.accounts.service import CONFIRM_VALID, AccountError, AccountService
from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.db.schema import api_tokens, email_confirmations, users
from paperfeed.runtime import Runtime
from tests.support.accounts import PASSWORD, confirmed_user

START = dt.datetime(2026, 8, 3, 9, 0)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def timed(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    """The runtime on a clock the test moves, with root@example.org on the admin list."""
    rt = Runtime(settings.model_copy(update={"admin_emails": ["Root@Example.org"]}), clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def accounts(timed: Runtime) -> AccountService:
    return timed.accounts


def count(runtime: Runtime, table: sa.Table) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_an_unconfirmed_account_cannot_sign_in_hold_a_token_or_a_role(
    accounts: AccountService,
) -> None:
    done = accounts.sign_up("ada@example.org", "ada", PASSWORD)
    ada = done.user
    assert done.confirm_token is not None
    assert not ada.confirmed and ada.role == "user"
    # The password is right, and the caller learns the account is unconfirmed.
    found = accounts.authenticate("ada@example.org", PASSWORD)
    assert found is not None and not found.confirmed
    with pytest.raises(AccountError, match="confirm your email address first"):
        accounts.start_session(ada)
    with pytest.raises(AccountError, match="not confirmed"):
        accounts.create_api_token(ada)
    with pytest.raises(AccountError, match="not confirmed"):
        accounts.set_role("ada", "admin")
    assert accounts.set_role("ada", "user").role == "user"  # taking a role away is fine

    confirmed = accounts.confirm_email(done.confirm_token, PASSWORD)
    assert confirmed.confirmed and confirmed.id == ada.id
    token = accounts.create_api_token(confirmed)
    assert accounts.token_user(token) == confirmed
    assert accounts.session_user(accounts.start_session(confirmed)) == confirmed
    assert accounts.set_role("ada", "admin").is_admin


def test_the_admin_list_applies_only_to_confirmed_addresses(
    timed: Runtime, accounts: AccountService
) -> None:
    """The takeover: whoever signed up first with an address on PAPERFEED_ADMIN_EMAILS was an
    admin at once, without ever reading that address's mail."""
    done = accounts.sign_up("root@example.ORG", "mallory", "any password at all")
    assert (done.user.role, done.user.is_admin) == ("user", False)
    assert accounts.by_username("mallory") == done.user
    assert done.confirm_token is not None
    with pytest.raises(AccountError, match="wrong password"):
        accounts.confirm_email(done.confirm_token, "not the password")
    root = accounts.confirm_email(done.confirm_token, "any password at all")
    assert (root.role, root.is_admin) == ("admin", True)
    assert confirmed_user(accounts, "ada@example.org", "ada").role == "user"


def test_the_link_needs_the_accounts_password_and_works_once(
    accounts: AccountService,
) -> None:
    done = accounts.sign_up("ada@example.org", "ada", PASSWORD)
    token = done.confirm_token
    assert token is not None
    assert accounts.confirmation_user(token) == done.user
    with pytest.raises(AccountError, match="wrong password for this account"):
        accounts.confirm_email(token, PASSWORD.upper())
    ada = accounts.confirm_email(token, PASSWORD)  # a wrong password left the link usable
    assert ada.confirmed
    assert accounts.confirmation_user(token) is None
    with pytest.raises(AccountError, match="expired or was already used"):
        accounts.confirm_email(token, PASSWORD)
    for made_up in ("", "made-up", "a" * 500):
        with pytest.raises(AccountError, match="expired or was already used"):
            accounts.confirm_email(made_up, PASSWORD)


def test_the_link_expires_and_the_unconfirmed_account_frees_its_names(
    timed: Runtime, accounts: AccountService, clock: FrozenClock
) -> None:
    squatter = accounts.sign_up("ada@example.org", "ada", "the squatter's password")
    assert squatter.confirm_token is not None
    clock.advance(CONFIRM_VALID)
    assert accounts.confirmation_user(squatter.confirm_token) == squatter.user  # still valid
    # Within its link's life the account keeps its names.
    with pytest.raises(AccountError, match="username already exists"):
        accounts.sign_up("other@example.org", "ada", PASSWORD)
    assert accounts.sign_up("ada@example.org", "ada2", PASSWORD).confirm_token is None

    clock.advance(dt.timedelta(seconds=1))
    with pytest.raises(AccountError, match="expired or was already used"):
        accounts.confirm_email(squatter.confirm_token, "the squatter's password")
    fresh = accounts.sign_up("ada@example.org", "ada", PASSWORD)
    assert fresh.confirm_token is not None
    assert accounts.authenticate("ada@example.org", "the squatter's password") is None
    assert accounts.confirm_email(fresh.confirm_token, PASSWORD).username == "ada"
    assert count(timed, users) == 1
    assert count(timed, email_confirmations) == 0


def test_a_sign_up_with_a_taken_address_changes_nothing(
    timed: Runtime, accounts: AccountService
) -> None:
    ada = confirmed_user(accounts, "ada@example.org", "ada")
    again = accounts.sign_up("ADA@example.org", "someone", "another password")
    assert again.confirm_token is None  # the caller mails ada instead
    assert again.user == ada
    assert accounts.authenticate("ada@example.org", PASSWORD) == ada
    assert accounts.authenticate("ada@example.org", "another password") is None
    assert accounts.by_username("someone") is None
    assert count(timed, users) == 1


def test_a_taken_username_is_refused_whatever_the_address(accounts: AccountService) -> None:
    """Checked first, so that the error never depends on whether the address has an account."""
    confirmed_user(accounts, "ada@example.org", "ada")
    for email in ("ada@example.org", "new@example.org"):
        with pytest.raises(AccountError, match="account with this username already exists"):
            accounts.sign_up(email, "ADA", PASSWORD)


def test_signing_in_unconfirmed_gets_a_new_link_and_old_ones_keep_working(
    accounts: AccountService,
) -> None:
    done = accounts.sign_up("ada@example.org", "ada", PASSWORD)
    again = accounts.resend_confirmation(done.user)
    assert again is not None and again != done.confirm_token
    assert accounts.confirmation_user(again) == done.user
    assert done.confirm_token is not None
    ada = accounts.confirm_email(done.confirm_token, PASSWORD)
    assert accounts.confirmation_user(again) is None  # confirming voids every link
    assert accounts.resend_confirmation(ada) is None


def test_a_reset_link_confirms_and_shuts_the_squatter_out(accounts: AccountService) -> None:
    """Someone signed up with ada's address: ada's reset link confirms the account with the
    password ada chooses (and the squatter's password is gone)."""
    accounts.sign_up("ada@example.org", "squat", "the squatter's password")
    started = accounts.start_password_reset("ada@example.org")
    assert started is not None
    ada = accounts.reset_password(started[1], "ada's own new password")
    assert ada.confirmed and ada.username == "squat"
    assert accounts.authenticate("ada@example.org", "the squatter's password") is None


def test_operators_add_confirmed_accounts_and_confirm_addresses(
    timed: Runtime, accounts: AccountService
) -> None:
    first = accounts.add_user("boss@example.org", "boss", PASSWORD, role="admin")
    assert first.confirmed and first.is_admin
    assert accounts.session_user(accounts.start_session(first)) == first
    listed = accounts.add_user("root@example.org", "root", PASSWORD)
    assert listed.is_admin  # an operator's account on the admin list
    with pytest.raises(AccountError, match="email already exists"):
        accounts.add_user("boss@example.org", "boss2", PASSWORD)

    done = accounts.sign_up("ada@example.org", "ada", PASSWORD)
    ada = accounts.mark_confirmed("ada")
    assert ada.confirmed and ada.id == done.user.id and not ada.is_admin
    assert done.confirm_token is not None
    assert accounts.confirmation_user(done.confirm_token) is None
    with pytest.raises(AccountError, match="no user named 'nobody'"):
        accounts.mark_confirmed("nobody")
    assert count(timed, api_tokens) == 0
