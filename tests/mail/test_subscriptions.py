"""Double opt-in subscriptions to the trending-papers email, end to end: the confirmation is
sent through a real SMTP server (or the outbox), read back with the `email` package, and its
links confirm and unsubscribe."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from paperfeed.accounts.service import AccountError
from paperfeed.db.schema import subscriptions
from paperfeed.mail.service import MailError
from paperfeed.runtime import Runtime
from tests.mail.conftest import Received, SmtpServer, link, parse

CONFIRM = "subscribe/confirm"


def confirm_token(runtime: Runtime, received: Received) -> str:
    return link(received.message, runtime.settings.base_url, CONFIRM)


def unsubscribe_token(runtime: Runtime, received: Received) -> str:
    return link(received.message, runtime.settings.base_url, "unsubscribe")


def stamps(runtime: Runtime) -> tuple[dt.datetime | None, dt.datetime | None]:
    with runtime.engine.connect() as conn:
        row = conn.execute(
            sa.select(subscriptions.c.confirmed_at, subscriptions.c.unsubscribed_at)
        ).one()
    return row.confirmed_at, row.unsubscribed_at


def test_double_opt_in_over_smtp(smtp_runtime: Runtime, smtp_server: SmtpServer) -> None:
    subs = smtp_runtime.subscriptions
    pending = subs.subscribe("  Reader@Example.ORG ")
    assert (pending.email, pending.status) == ("reader@example.org", "pending")
    assert subs.get("reader@example.org") == pending

    [received] = smtp_server.received
    assert received.rcpt_tos == ["reader@example.org"]
    assert received.mail_from == "paperfeed@localhost"
    assert received.message["Subject"] == "Confirm your paperfeed trending-papers subscription"
    token = confirm_token(smtp_runtime, received)
    assert token == pending.token
    assert unsubscribe_token(smtp_runtime, received) == token

    confirmed = subs.confirm(token)
    assert confirmed is not None
    assert (confirmed.email, confirmed.status) == ("reader@example.org", "confirmed")
    assert subs.get("READER@example.org") == confirmed
    assert stamps(smtp_runtime)[0] is not None


def test_double_opt_in_through_the_outbox(runtime: Runtime) -> None:
    runtime.subscriptions.subscribe("reader@example.org")
    [path] = list(runtime.settings.effective_outbox_dir.glob("*.eml"))
    message = parse(path.read_bytes())
    assert message["To"] == "reader@example.org"
    token = link(message, runtime.settings.base_url, CONFIRM)
    confirmed = runtime.subscriptions.confirm(token)
    assert confirmed is not None and confirmed.status == "confirmed"


def test_nothing_is_active_until_the_link_is_opened(
    smtp_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    smtp_runtime.subscriptions.subscribe("reader@example.org")
    sub = smtp_runtime.subscriptions.get("reader@example.org")
    assert sub is not None and sub.status == "pending"
    assert stamps(smtp_runtime) == (None, None)


def test_confirming_twice_keeps_the_first_confirmation(
    smtp_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    subs = smtp_runtime.subscriptions
    subs.subscribe("reader@example.org")
    token = confirm_token(smtp_runtime, smtp_server.received[0])
    subs.confirm(token)
    first = stamps(smtp_runtime)[0]
    again = subs.confirm(token)
    assert again is not None and again.status == "confirmed"
    assert stamps(smtp_runtime)[0] == first


def test_subscribing_again_once_confirmed_sends_nothing(
    smtp_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    subs = smtp_runtime.subscriptions
    subs.subscribe("reader@example.org")
    token = confirm_token(smtp_runtime, smtp_server.received[0])
    subs.confirm(token)
    again = subs.subscribe("Reader@example.org")
    assert (again.status, again.token) == ("confirmed", token)
    assert len(smtp_server.received) == 1


def test_subscribing_again_while_pending_resends_a_working_link(
    smtp_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    subs = smtp_runtime.subscriptions
    subs.subscribe("reader@example.org")
    subs.subscribe("reader@example.org")
    assert len(smtp_server.received) == 2
    first = confirm_token(smtp_runtime, smtp_server.received[0])
    latest = confirm_token(smtp_runtime, smtp_server.received[-1])
    assert first == latest  # the link in the first mail keeps working
    confirmed = subs.confirm(latest)
    assert confirmed is not None and confirmed.status == "confirmed"
    with smtp_runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(subscriptions)).scalar() == 1


def test_the_unsubscribe_link_stops_it_and_a_new_subscription_starts_over(
    smtp_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    subs = smtp_runtime.subscriptions
    subs.subscribe("reader@example.org")
    first = smtp_server.received[0]
    subs.confirm(confirm_token(smtp_runtime, first))

    gone = subs.unsubscribe(unsubscribe_token(smtp_runtime, first))
    assert gone is not None and gone.status == "unsubscribed"
    # The old confirmation mail does not subscribe the reader again.
    assert subs.confirm(confirm_token(smtp_runtime, first)) is None
    assert subs.get("reader@example.org") == gone
    assert subs.get("reader@example.org") == gone
    assert stamps(smtp_runtime)[1] is not None

    back = subs.subscribe("reader@example.org")
    assert back.status == "pending"
    assert back.token != gone.token  # a fresh capability
    assert stamps(smtp_runtime)[1] is None
    assert len(smtp_server.received) == 2
    confirmed = subs.confirm(confirm_token(smtp_runtime, smtp_server.received[1]))
    assert confirmed is not None and confirmed.status == "confirmed"


def test_a_pending_subscription_can_be_declined(
    smtp_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    subs = smtp_runtime.subscriptions
    subs.subscribe("reader@example.org")
    gone = subs.unsubscribe(unsubscribe_token(smtp_runtime, smtp_server.received[0]))
    assert gone is not None and gone.status == "unsubscribed"


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 65, "x" * 10_000])
def test_unknown_tokens_change_nothing(
    smtp_runtime: Runtime, smtp_server: SmtpServer, token: str
) -> None:
    subs = smtp_runtime.subscriptions
    subs.subscribe("reader@example.org")
    assert subs.confirm(token) is None
    assert subs.unsubscribe(token) is None
    sub = subs.get("reader@example.org")
    assert sub is not None and sub.status == "pending"


def test_an_invalid_address_is_refused_before_anything_is_sent(
    smtp_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    with pytest.raises(AccountError, match="valid email address"):
        smtp_runtime.subscriptions.subscribe("reader@example")
    assert smtp_server.received == []
    assert smtp_runtime.subscriptions.get("nobody@example.org") is None


def test_a_mail_server_outage_leaves_the_request_pending_and_a_retry_sends_it(
    smtp_runtime: Runtime, smtp_server: SmtpServer
) -> None:
    subs = smtp_runtime.subscriptions
    smtp_server.stop()
    with pytest.raises(MailError, match=f"mail server 127.0.0.1:{smtp_server.port}"):
        subs.subscribe("reader@example.org")
    pending = subs.get("reader@example.org")
    assert pending is not None and pending.status == "pending"
    assert smtp_server.received == []

    smtp_server.start()  # the server is back
    retried = subs.subscribe("reader@example.org")
    assert retried.status == "pending"
    [received] = smtp_server.received
    token = confirm_token(smtp_runtime, received)
    assert token == retried.token
    confirmed = subs.confirm(token)
    assert confirmed is not None and confirmed.status == "confirmed"


def test_the_outbox_is_used_when_no_smtp_host_is_set(runtime: Runtime) -> None:
    assert runtime.mailer.describe() == f"outbox {runtime.settings.home / 'outbox'}"
    runtime.subscriptions.subscribe("a@example.org")
    runtime.subscriptions.subscribe("b@example.org")
    recipients = sorted(
        str(parse(p.read_bytes())["To"])
        for p in runtime.settings.effective_outbox_dir.glob("*.eml")
    )
    assert recipients == ["a@example.org", "b@example.org"]
