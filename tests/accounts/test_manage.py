"""What a user manages of their account, on a real database and the injected clock: named API
tokens that expire and record their last use, revoked one by one; the email address changed
by a link mailed to the new address."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from paperfeed.accounts.service import (
    MAX_TOKEN_LIFE,
    AccountError,
    AccountService,
    ApiTokenError,
    User,
)
from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.support.accounts import PASSWORD, confirmed_user

START = dt.datetime(2026, 3, 1, 9, 30)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def timed(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    rt = Runtime(settings, clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def accounts(timed: Runtime) -> AccountService:
    return timed.accounts


@pytest.fixture
def ada(accounts: AccountService) -> User:
    return confirmed_user(accounts, "ada@example.org", "ada")


def test_a_token_expires_by_the_clock_and_says_so(
    accounts: AccountService, ada: User, clock: FrozenClock
) -> None:
    token = accounts.create_api_token(ada, "ci", expires_in=dt.timedelta(days=7))
    [listed] = accounts.api_tokens(ada)
    assert (listed.name, listed.created_at, listed.expires_at) == (
        "ci",
        START,
        START + dt.timedelta(days=7),
    )
    assert not listed.expired
    clock.advance(dt.timedelta(days=7) - dt.timedelta(seconds=1))
    assert accounts.check_api_token(token) == ada
    clock.advance(1)
    with pytest.raises(ApiTokenError, match="expired on 2026-03-08 09:30 UTC"):
        accounts.check_api_token(token)
    assert accounts.token_user(token) is None
    assert accounts.api_tokens(ada)[0].expired
    for wrong in ("pf_nope", token + "x", "", None):
        with pytest.raises(ApiTokenError, match=r"^invalid API token$"):
            accounts.check_api_token(wrong)


def test_a_token_lifetime_is_bounded(accounts: AccountService, ada: User) -> None:
    for life in (dt.timedelta(0), -dt.timedelta(days=1), MAX_TOKEN_LIFE + dt.timedelta(days=1)):
        with pytest.raises(AccountError, match="expires after 1 to 366 days"):
            accounts.create_api_token(ada, "x", expires_in=life)
    assert accounts.api_tokens(ada) == []


def test_a_token_records_its_last_use_to_the_minute(
    accounts: AccountService, ada: User, clock: FrozenClock
) -> None:
    token = accounts.create_api_token(ada, "laptop")
    assert accounts.api_tokens(ada)[0].last_used_at is None
    clock.advance(60)
    assert accounts.token_user(token) == ada
    assert accounts.api_tokens(ada)[0].last_used_at == START + dt.timedelta(minutes=1)
    clock.advance(30)  # within the minute: not written again
    accounts.token_user(token)
    assert accounts.api_tokens(ada)[0].last_used_at == START + dt.timedelta(minutes=1)
    clock.advance(30)
    accounts.token_user(token)
    assert accounts.api_tokens(ada)[0].last_used_at == START + dt.timedelta(minutes=2)
    # Showing a new token on the account page is not a use of it.
    fresh = accounts.create_api_token(ada, "fresh")
    assert accounts.new_api_token(ada, fresh) is not None
    assert [t.last_used_at for t in accounts.api_tokens(ada) if t.name == "fresh"] == [None]


def test_tokens_are_revoked_one_by_one_by_key_or_unique_name(
    accounts: AccountService, ada: User, clock: FrozenClock
) -> None:
    bob = confirmed_user(accounts, "bob@example.org", "bob")
    laptop = accounts.create_api_token(ada, "laptop")
    clock.advance(1)
    ci_one = accounts.create_api_token(ada, "ci")
    clock.advance(1)
    ci_two = accounts.create_api_token(ada, "ci")
    bobs = accounts.create_api_token(bob, "laptop")
    keys = [t.key for t in accounts.api_tokens(ada)]
    assert len(set(keys)) == 3 and all(len(k) == 12 for k in keys)

    with pytest.raises(AccountError, match="2 tokens are named 'ci': revoke one by key"):
        accounts.revoke_api_token(ada, "ci")
    assert accounts.revoke_api_token(ada, "laptop").name == "laptop"
    assert accounts.token_user(laptop) is None
    assert accounts.token_user(bobs) == bob  # bob's token of that name stays
    newest = accounts.api_tokens(ada)[0]
    assert accounts.revoke_api_token(ada, newest.key).key == newest.key
    assert accounts.token_user(ci_two) is None and accounts.token_user(ci_one) == ada
    with pytest.raises(AccountError, match="ada has no API token 'laptop'"):
        accounts.revoke_api_token(ada, "laptop")
    with pytest.raises(AccountError, match="has no API token"):
        accounts.revoke_api_token(bob, accounts.api_tokens(ada)[0].key)  # not bob's
    assert [t.name for t in accounts.api_tokens(ada)] == ["ci"]


def test_a_new_token_is_shown_only_to_its_owner_for_ten_minutes(
    accounts: AccountService, ada: User, clock: FrozenClock
) -> None:
    bob = confirmed_user(accounts, "bob@example.org", "bob")
    token = accounts.create_api_token(ada, "laptop")
    assert accounts.new_api_token(bob, token) is None
    assert accounts.new_api_token(ada, "pf_made_up") is None
    clock.advance(dt.timedelta(minutes=10))
    assert accounts.new_api_token(ada, token) is not None
    clock.advance(1)
    assert accounts.new_api_token(ada, token) is None


def test_the_email_changes_when_the_link_to_the_new_address_is_opened(
    accounts: AccountService, ada: User, clock: FrozenClock
) -> None:
    with pytest.raises(AccountError, match="the current password is wrong"):
        accounts.request_email_change(ada, "not it", "ada@new.example")
    with pytest.raises(AccountError, match="already your address"):
        accounts.request_email_change(ada, PASSWORD, "ADA@example.org")
    reset = accounts.start_password_reset("ada@example.org")
    assert reset is not None
    token = accounts.request_email_change(ada, PASSWORD, " Ada@New.Example ")
    assert token is not None
    # The old address stays the account's until the link is opened.
    assert accounts.get(ada.id) == ada
    assert accounts.authenticate("ada@example.org", PASSWORD) == ada
    assert accounts.email_change(token) == (ada, "ada@new.example")

    changed = accounts.confirm_email_change(token)
    assert changed.email == "ada@new.example"
    assert accounts.authenticate("ada@new.example", PASSWORD) == changed
    assert accounts.authenticate("ada@example.org", PASSWORD) is None
    assert accounts.reset_user(reset[1]) is None  # mailed to the old address: void
    with pytest.raises(AccountError, match="expired or was already used"):
        accounts.confirm_email_change(token)


def test_an_email_change_link_expires_and_a_taken_address_is_not_mailed(
    accounts: AccountService, ada: User, clock: FrozenClock
) -> None:
    confirmed_user(accounts, "bob@example.org", "bob")
    assert accounts.request_email_change(ada, PASSWORD, "bob@example.org") is None
    token = accounts.request_email_change(ada, PASSWORD, "ada@new.example")
    assert token is not None
    clock.advance(dt.timedelta(days=3, seconds=1))
    with pytest.raises(AccountError, match="expired"):
        accounts.confirm_email_change(token)
    assert accounts.get(ada.id) == ada


def test_an_address_taken_meanwhile_is_refused_at_confirmation(
    accounts: AccountService, ada: User
) -> None:
    token = accounts.request_email_change(ada, PASSWORD, "carol@example.org")
    assert token is not None
    confirmed_user(accounts, "carol@example.org", "carol")
    with pytest.raises(AccountError, match=r"another account uses carol@example\.org now"):
        accounts.confirm_email_change(token)
    assert accounts.get(ada.id) == ada
