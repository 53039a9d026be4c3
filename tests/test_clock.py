"""One injected clock: what the runtime's services stamp and expire follows `Runtime.clock`
(a FrozenClock moved by hand here), not the wall clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa

from paperfeed.accounts.service import RESET_VALID, AccountError
from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.db.schema import api_tokens, subscriptions, user_sessions, users
from paperfeed.runtime import Runtime
from tests.mail.conftest import parse
from tests.support.accounts import confirmed_user

START = dt.datetime(2026, 3, 1, 9, 30)  # months before the wall clock of any test run
PASSWORD = "correct horse battery staple"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def timed(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    rt = Runtime(settings, clock=clock)
    yield rt
    rt.close()


def test_accounts_and_tokens_are_stamped_with_the_clock(timed: Runtime) -> None:
    user = confirmed_user(timed.accounts, "ada@example.org", "ada", PASSWORD)
    timed.accounts.create_api_token(user)
    with timed.engine.connect() as conn:
        assert conn.execute(sa.select(users.c.created_at)).scalar_one() == START
        assert conn.execute(sa.select(api_tokens.c.created_at)).scalar_one() == START


def test_a_session_lasts_session_days_of_the_clock(timed: Runtime, clock: FrozenClock) -> None:
    user = confirmed_user(timed.accounts, "ada@example.org", "ada", PASSWORD)
    token = timed.accounts.start_session(user)
    with timed.engine.connect() as conn:
        row = conn.execute(sa.select(user_sessions)).mappings().one()
    life = dt.timedelta(days=timed.settings.session_days)
    assert (row["created_at"], row["expires_at"]) == (START, START + life)
    clock.advance(life - dt.timedelta(seconds=1))
    assert timed.accounts.session_user(token) == user
    clock.advance(1)
    assert timed.accounts.session_user(token) is None
    clock.advance(1)
    timed.accounts.start_session(user)  # purges the expired one
    with timed.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(user_sessions)).scalar() == 1


def test_a_reset_link_expires_two_hours_later_on_the_clock(
    timed: Runtime, clock: FrozenClock
) -> None:
    confirmed_user(timed.accounts, "ada@example.org", "ada", PASSWORD)
    started = timed.accounts.start_password_reset("ada@example.org")
    assert started is not None
    clock.advance(RESET_VALID + dt.timedelta(seconds=1))
    with pytest.raises(AccountError, match="expired"):
        timed.accounts.reset_password(started[1], "a new password, long enough")
    clock.set(START)
    started = timed.accounts.start_password_reset("ada@example.org")
    assert started is not None
    clock.advance(RESET_VALID - dt.timedelta(seconds=1))
    assert (
        timed.accounts.reset_password(started[1], "a new password, long enough").username == "ada"
    )


def test_subscriptions_and_their_mail_follow_the_clock(timed: Runtime, clock: FrozenClock) -> None:
    pending = timed.subscriptions.subscribe("ada@example.org")
    clock.advance(dt.timedelta(hours=3))
    timed.subscriptions.confirm(pending.token)
    clock.advance(dt.timedelta(days=2))
    timed.subscriptions.unsubscribe(pending.token)
    with timed.engine.connect() as conn:
        row = conn.execute(sa.select(subscriptions)).mappings().one()
    assert row["created_at"] == START
    assert row["confirmed_at"] == START + dt.timedelta(hours=3)
    assert row["unsubscribed_at"] == START + dt.timedelta(days=2, hours=3)
    [mail] = timed.settings.effective_outbox_dir.glob("*.eml")
    date = parsedate_to_datetime(parse(mail.read_bytes())["Date"])
    assert date == START.replace(tzinfo=dt.UTC)
