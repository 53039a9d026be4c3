"""Password resets end to end: the link is mailed (to the real outbox), its token resets the
password once, within two hours, voids the account's other reset links and signs every
browser out. A password change (with the current password) does the same."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from paperfeed.accounts.service import RESET_VALID, AccountError, User
from paperfeed.clock import utcnow
from paperfeed.db.schema import password_resets
from paperfeed.runtime import Runtime
from tests.support.accounts import confirmed_user
from tests.support.outbox import link_token, outbox, outbox_files, read

OLD = "correct horse battery staple"
NEW = "tr0ub4dor & three more words"


@pytest.fixture
def ada(runtime: Runtime) -> User:
    return confirmed_user(runtime.accounts, "ada@example.org", "ada", OLD)


def mail_reset(runtime: Runtime, address: str) -> str | None:
    """Do what the reset form does; returns the token from the link in the mail sent."""
    before = set(outbox_files(runtime.settings))
    started = runtime.accounts.start_password_reset(address)
    if started is None:
        return None
    user, token = started
    runtime.messages.password_reset(user.email, user.username, token)
    [new] = set(outbox_files(runtime.settings)) - before
    return link_token(read(new), runtime.settings.base_url, "reset")


def test_the_mailed_link_resets_the_password(runtime: Runtime, ada: User) -> None:
    token = mail_reset(runtime, "ADA@example.org")
    assert token is not None
    [message] = outbox(runtime.settings)
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == "Reset your paperfeed password"
    assert "Hello ada," in message.get_content()

    assert runtime.accounts.reset_password(token, NEW) == ada
    assert runtime.accounts.authenticate("ada@example.org", NEW) == ada
    assert runtime.accounts.authenticate("ada@example.org", OLD) is None


def test_a_reset_link_works_once(runtime: Runtime, ada: User) -> None:
    token = mail_reset(runtime, "ada@example.org")
    assert token is not None
    runtime.accounts.reset_password(token, NEW)
    with pytest.raises(AccountError, match="expired or was already used"):
        runtime.accounts.reset_password(token, "an attacker's new password")
    assert runtime.accounts.authenticate("ada@example.org", NEW) == ada


def test_an_expired_link_is_refused(runtime: Runtime, ada: User) -> None:
    token = mail_reset(runtime, "ada@example.org")
    assert token is not None
    with runtime.engine.begin() as conn:
        conn.execute(password_resets.update().values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    with pytest.raises(AccountError, match="expired or was already used"):
        runtime.accounts.reset_password(token, NEW)
    assert runtime.accounts.authenticate("ada@example.org", OLD) == ada


def test_a_link_is_valid_for_two_hours(runtime: Runtime, ada: User) -> None:
    before = utcnow()
    assert mail_reset(runtime, "ada@example.org") is not None
    with runtime.engine.connect() as conn:
        expires = conn.execute(sa.select(password_resets.c.expires_at)).scalar_one()
    assert before + RESET_VALID <= expires <= utcnow() + RESET_VALID


def test_a_reset_signs_out_every_browser(runtime: Runtime, ada: User) -> None:
    accounts = runtime.accounts
    bob = confirmed_user(accounts, "bob@example.org", "bob", OLD)
    sessions = [accounts.start_session(ada), accounts.start_session(ada)]
    bobs = accounts.start_session(bob)
    token = mail_reset(runtime, "ada@example.org")
    assert token is not None

    accounts.reset_password(token, NEW)

    assert [accounts.session_user(s) for s in sessions] == [None, None]
    assert accounts.session_user(bobs) == bob  # other accounts are untouched
    assert accounts.session_user(accounts.start_session(ada)) == ada


def test_a_too_short_new_password_keeps_the_link_usable(runtime: Runtime, ada: User) -> None:
    token = mail_reset(runtime, "ada@example.org")
    assert token is not None
    with pytest.raises(AccountError, match="at least 10 characters"):
        runtime.accounts.reset_password(token, "short")
    assert runtime.accounts.reset_password(token, NEW) == ada


@pytest.mark.parametrize("token", ["", "made-up-token", "a" * 500])
def test_unknown_tokens_are_refused(runtime: Runtime, ada: User, token: str) -> None:
    with pytest.raises(AccountError, match="expired or was already used"):
        runtime.accounts.reset_password(token, NEW)


def test_unknown_or_invalid_emails_get_no_token_and_no_mail(runtime: Runtime, ada: User) -> None:
    assert mail_reset(runtime, "nobody@example.org") is None
    assert mail_reset(runtime, "not an email") is None
    assert outbox(runtime.settings) == []
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(password_resets)).scalar() == 0


def test_each_request_mails_a_different_link(runtime: Runtime, ada: User) -> None:
    first = mail_reset(runtime, "ada@example.org")
    second = mail_reset(runtime, "ada@example.org")
    assert first and second and first != second
    assert len(outbox(runtime.settings)) == 2
    assert runtime.accounts.reset_password(second, NEW) == ada


def test_the_stored_reset_token_is_only_a_hash(runtime: Runtime, ada: User) -> None:
    token = mail_reset(runtime, "ada@example.org")
    assert token is not None
    with runtime.engine.connect() as conn:
        stored = conn.execute(sa.select(password_resets.c.token_hash)).scalar_one()
    assert token not in stored


def test_using_one_reset_link_voids_every_other(runtime: Runtime, ada: User) -> None:
    """Two requests, T1 then T2: once T1 has set the password, T2 (a mail someone else may
    read) changes nothing."""
    first = mail_reset(runtime, "ada@example.org")
    second = mail_reset(runtime, "ada@example.org")
    assert first and second
    assert runtime.accounts.reset_password(first, NEW) == ada
    with pytest.raises(AccountError, match="expired or was already used"):
        runtime.accounts.reset_password(second, "an attacker's new password")
    assert runtime.accounts.authenticate("ada@example.org", NEW) == ada
    assert runtime.accounts.reset_user(second) is None


def test_a_password_change_asks_for_the_current_one_and_voids_reset_links(
    runtime: Runtime, ada: User
) -> None:
    accounts = runtime.accounts
    session = accounts.start_session(ada)
    pending = mail_reset(runtime, "ada@example.org")
    assert pending is not None
    with pytest.raises(AccountError, match="current password is wrong"):
        accounts.change_password(ada, "not the password", NEW)
    with pytest.raises(AccountError, match="at least 10 characters"):
        accounts.change_password(ada, OLD, "short")
    assert accounts.session_user(session) == ada  # nothing changed yet
    assert accounts.change_password(ada, OLD, NEW) == ada
    assert accounts.authenticate("ada@example.org", NEW) == ada
    assert accounts.authenticate("ada@example.org", OLD) is None
    assert accounts.session_user(session) is None  # every browser signed out
    with pytest.raises(AccountError, match="expired or was already used"):
        accounts.reset_password(pending, "an attacker's new password")
