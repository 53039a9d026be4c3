"""Delivery exactly once, against a real SMTP server on 127.0.0.1: each subscriber gets one
mail per edition across a server answering 421 mid-run, a server down for a run, `kill -9`
of the sender, an unsubscribe mid-run, two senders at once, and a recipient refused with 550.
The clock is the test's (FrozenClock); nothing sleeps on the wall clock."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import threading
from collections import Counter
from email.message import EmailMessage

import sqlalchemy as sa

from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.db.schema import digest_deliveries, subscriptions
from paperfeed.digest.sender import SendReport
from paperfeed.runtime import Runtime
from tests.digest.conftest import DAY, FaultySmtpServer, Gate, start_sender, subscribe
from tests.mail.conftest import body_text
from tests.support.cli import Cli
from tests.support.waiting import wait_until


def deliveries(runtime: Runtime) -> list[dict[str, object]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.select(digest_deliveries, subscriptions.c.email)
            .join(subscriptions, subscriptions.c.id == digest_deliveries.c.subscription_id)
            .order_by(digest_deliveries.c.id)
        ).mappings()
        return [dict(row) for row in rows]


def once_each(smtp: FaultySmtpServer, emails: list[str]) -> None:
    assert smtp.counts() == Counter({address: 1 for address in emails})


def send(runtime: Runtime, *, retry_now: bool = False) -> SendReport:
    return runtime.digest_sender.send(day=DAY, kinds=("daily",), retry_now=retry_now)


# -- the mail --------------------------------------------------------------------------------


def test_each_confirmed_subscriber_gets_the_edition_once_with_list_headers(
    rt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    emails = subscribe(rt, 5)
    rt.subscriptions.subscribe("pending@example.org")  # never confirmed
    smtp.received.clear()
    gone = subscribe(rt, 1, prefix="gone")[0]
    rt.subscriptions.remove(gone)
    clock.advance(3600)

    report = send(rt)
    assert (report.sent, report.skipped, report.failed) == (5, 0, 0)
    once_each(smtp, emails)

    got = smtp.received[0].message
    token = rt.subscriptions.get(got["To"]).token  # type: ignore[union-attr]
    assert got.get_content_type() == "multipart/alternative"
    assert got["List-Unsubscribe"] == f"<https://papers.example.org/unsubscribe/{token}>"
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert got["List-Id"] == "paperfeed digest <paperfeed.papers.example.org>"
    assert got["Subject"] == "Daily papers, Friday 12 June 2026: 10 papers"
    assert re.fullmatch(r"<digest\.daily\.2026-06-12\.\d+\.[0-9a-f]{8}@papers\.example\.org>",
                        str(got["Message-ID"]))  # fmt: skip
    text = body_text(got)
    assert f"https://papers.example.org/unsubscribe/{token}" in text
    assert f"https://papers.example.org/digest/preferences/{token}" in text
    assert "https://papers.example.org/digest/daily/2026-06-12" in text
    html = got.get_body(("html",))
    assert html is not None and f"/unsubscribe/{token}" in html.get_content()
    # The Message-ID sent is the one recorded, and every row is sent.
    rows = deliveries(rt)
    assert {r["message_id"] for r in rows} == {str(r.message["Message-ID"]) for r in smtp.received}
    assert {(r["state"], r["attempts"]) for r in rows} == {("sent", 1)}

    # Again: nothing more. A subscriber confirmed after the edition was built gets none.
    subscribe(rt, 1, prefix="late")
    clock.advance(3600)
    again = send(rt)
    assert (again.sent, again.failed) == (0, 0)
    once_each(smtp, emails)


# -- faults ----------------------------------------------------------------------------------


def test_a_server_answering_421_mid_run_and_a_retry_with_the_same_message_id(
    rt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    emails = subscribe(rt, 8)
    clock.advance(3600)
    seen: dict[str, str] = {}

    def closing(n: int, message: EmailMessage) -> str | None:
        if n == 4:  # the fourth message is read, then the server says it is closing
            seen[str(message["To"])] = str(message["Message-ID"])
            return "421 4.3.2 service shutting down"
        return None

    smtp.on_data = closing
    first = send(rt, retry_now=False)
    assert (first.sent, first.failed) == (7, 1)
    [(victim, message_id)] = seen.items()
    [row] = [r for r in deliveries(rt) if r["state"] == "failed"]
    assert (row["email"], row["permanent"], row["attempts"]) == (victim, False, 1)
    assert "421" in str(row["last_error"])
    assert row["next_attempt_at"] == clock() + dt.timedelta(seconds=300)

    # The schedule waits for the backoff ...
    smtp.on_data = None
    assert send(rt, retry_now=False).sent == 0
    clock.advance(301)
    retried = send(rt, retry_now=False)
    assert (retried.sent, retried.failed) == (1, 0)
    once_each(smtp, emails)
    assert smtp.message_ids(victim) == [message_id]  # the same Message-ID as the first try


def test_a_server_down_for_a_run_gets_everything_in_the_next(
    rt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock, cli: Cli
) -> None:
    emails = subscribe(rt, 6)
    clock.advance(3600)
    smtp.stop()
    down = send(rt, retry_now=True)
    assert down.sent == 0
    assert down.stopped and f"127.0.0.1:{smtp.port}" in down.stopped
    smtp.start()
    clock.advance(60)
    back = send(rt, retry_now=True)
    assert (back.sent, back.failed, back.stopped) == (6, 0, None)
    once_each(smtp, emails)


def test_kill_9_of_the_sender_mid_run_resumes_where_it_stopped(
    rt: Runtime, smtp: FaultySmtpServer, digest_settings: Settings
) -> None:
    emails = subscribe(rt, 12)
    victim: list[subprocess.Popen[str]] = []

    sixth, killed = threading.Event(), threading.Event()

    def kill_at_fifth(n: int, message: EmailMessage) -> str | None:
        # The sender dies with the fifth and sixth messages in flight, one on each of its
        # two connections, neither accepted: every message accepted before was recorded
        # (a connection marks its message sent before it takes the next).
        if n == 5:
            assert sixth.wait(60)
            victim[0].send_signal(signal.SIGKILL)
            victim[0].wait(60)
            killed.set()
        elif n == 6:
            sixth.set()
        if n >= 5:
            killed.wait(60)
            return "451 4.3.0 try again"
        return None

    smtp.on_data = kill_at_fifth
    process = start_sender(digest_settings, "--date", DAY.isoformat(), "--kind", "daily")
    victim.append(process)
    process.wait(120)
    assert process.returncode == -signal.SIGKILL
    assert len(smtp.received) == 4
    assert any(r["state"] == "pending" for r in deliveries(rt))  # written before sending

    smtp.on_data = None
    resumed = start_sender(digest_settings, "--date", DAY.isoformat(), "--json")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert json.loads(out)["sent"] == 8
    once_each(smtp, emails)
    assert {r["state"] for r in deliveries(rt)} == {"sent"}


def test_two_connections_send_at_once_and_each_digest_goes_once(
    rt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    """A run sends over two SMTP connections at once (PAPERFEED_DIGEST_SMTP_CONNECTIONS):
    the first message is held until a second one arrives, which only the other connection
    can send; every subscriber gets one message, every row is sent on its first attempt."""
    emails = subscribe(rt, 12)
    clock.advance(3600)
    second = threading.Event()
    waited: list[bool] = []

    def hold_first(n: int, message: EmailMessage) -> str | None:
        if n == 1:
            waited.append(second.wait(60))
        elif n == 2:
            second.set()
        return None

    smtp.on_data = hold_first
    report = send(rt)
    assert waited == [True]  # the second message came while the first was in flight
    assert (report.sent, report.skipped, report.failed) == (12, 0, 0)
    once_each(smtp, emails)
    assert smtp.connections() == 2  # both connections carried messages
    rows = deliveries(rt)
    assert {(r["state"], r["attempts"]) for r in rows} == {("sent", 1)}
    assert {r["message_id"] for r in rows} == {str(r.message["Message-ID"]) for r in smtp.received}


def test_one_connection_when_configured(
    digest_settings: Settings, hf_catalog: Cli, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    runtime = Runtime(
        digest_settings.model_copy(update={"digest_smtp_connections": 1}), clock=clock
    )
    try:
        emails = subscribe(runtime, 6)
        clock.advance(3600)
        assert send(runtime).sent == 6
        once_each(smtp, emails)
        assert smtp.connections() == 1
    finally:
        runtime.close()


def test_a_421_on_one_connection_leaves_the_other_sending(
    rt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    """One of the two connections is closed with 421 while the other has a message in flight:
    that message is delivered and recorded; the closed one's is retried once, with its
    Message-ID; the closed connection is opened again for the rest."""
    emails = subscribe(rt, 12)
    clock.advance(3600)
    in_flight = threading.Event()
    answered = threading.Event()
    closed: list[tuple[str, str]] = []

    def close_one(n: int, message: EmailMessage) -> str | None:
        if n == 4:  # held until the other connection's message has come in
            assert in_flight.wait(60)
            closed.append((str(message["To"]), str(message["Message-ID"])))
            answered.set()
            return "421 4.3.2 service shutting down"
        if n == 5:
            in_flight.set()
            answered.wait(60)  # accepted after the other connection was closed
        if n == 6:  # held until the next one is in: one line alone could send all the rest
            wait_until(lambda: smtp.datas >= 7, within=60, what="a message on the other line")
        return None

    smtp.on_data = close_one
    first = send(rt)
    assert (first.sent, first.failed, first.stopped) == (11, 1, None)
    [(victim, message_id)] = closed
    assert smtp.connections() == 3  # two connections, one of them opened again
    [row] = [r for r in deliveries(rt) if r["state"] == "failed"]
    assert (row["email"], row["permanent"], row["attempts"]) == (victim, False, 1)

    smtp.on_data = None
    clock.advance(301)
    retried = send(rt)
    assert (retried.sent, retried.failed) == (1, 0)
    once_each(smtp, emails)
    assert smtp.message_ids(victim) == [message_id]
    assert {r["state"] for r in deliveries(rt)} == {"sent"}


def test_an_unsubscribe_mid_run_takes_effect_at_once(
    rt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    emails = subscribe(rt, 10)
    leaving = emails[7]
    clock.advance(3600)

    removed = threading.Event()

    def unsubscribe_at_third(n: int, message: EmailMessage) -> str | None:
        if n == 3:
            rt.subscriptions.remove(leaving)
            removed.set()
        # No message is answered before the unsubscribe is done (the run's two connections
        # send at once). The eighth message is taken when at least six were answered, one
        # of them the third or later: its status is read after the unsubscribe.
        if n > 3:
            removed.wait(60)
        return None

    smtp.on_data = unsubscribe_at_third
    report = send(rt)
    assert (report.sent, report.skipped, report.failed) == (9, 1, 0)
    once_each(smtp, [e for e in emails if e != leaving])
    assert leaving not in {r["email"] for r in deliveries(rt)}  # nothing pending for them
    assert send(rt).sent == 0


def test_two_senders_started_at_once_send_each_digest_once(
    rt: Runtime, smtp: FaultySmtpServer, digest_settings: Settings
) -> None:
    """Two processes (on SQLite the lease row, on PostgreSQL the advisory lock): the one that
    gets the lock sends everything; the other finds it held and sends nothing."""
    emails = subscribe(rt, 6)
    gate = Gate()

    def hold_first(n: int, message: EmailMessage) -> str | None:
        if n == 1:
            gate.wait()  # the first message waits until the other sender has given up
        return None

    smtp.on_data = hold_first
    both = [start_sender(digest_settings, "--date", DAY.isoformat(), "--json") for _ in "ab"]
    assert gate.reached.wait(120), [p.communicate() for p in both]
    finished = _first_to_finish(both)
    out, err = finished.communicate()
    assert finished.returncode == 0, err
    skipped = json.loads(out)
    assert skipped["busy"] and skipped["sent"] == 0
    gate.opened.set()
    [other] = [p for p in both if p is not finished]
    out, err = other.communicate(timeout=120)
    assert other.returncode == 0, err
    assert json.loads(out)["sent"] == 6
    once_each(smtp, emails)


def _first_to_finish(processes: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    import selectors

    with selectors.DefaultSelector() as selector:
        for process in processes:
            assert process.stdout is not None
            selector.register(process.stdout, selectors.EVENT_READ, process)
        # A process's stdout becomes readable (EOF at least) when it exits.
        events = selector.select(timeout=120)
    assert events, "neither sender finished"
    first: subprocess.Popen[str] = events[0][0].data
    first.wait(60)
    return first


def test_a_recipient_refused_with_550_fails_for_good_while_the_rest_are_delivered(
    rt: Runtime, smtp: FaultySmtpServer, cli: Cli, digest_settings: Settings
) -> None:
    emails = subscribe(rt, 5)
    refused = emails[2]
    smtp.refuse.add(refused)
    env = {
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(smtp.port),
        "PAPERFEED_SMTP_STARTTLS": "false",
        "PAPERFEED_EMBEDDER": "none",
    }
    cli.env |= env
    result = cli("digest", "send", "--date", DAY.isoformat(), "--json", ok=False)
    assert result.exit_code == 1
    assert (json.loads(result.stdout)["sent"], json.loads(result.stdout)["failed"]) == (4, 1)
    once_each(smtp, [e for e in emails if e != refused])
    [row] = [r for r in deliveries(rt) if r["email"] == refused]
    assert (row["state"], row["permanent"], row["next_attempt_at"]) == ("failed", True, None)
    assert "550" in str(row["last_error"])

    # By hand again: a permanent failure is not retried; nothing else is sent.
    again = cli("digest", "send", "--date", DAY.isoformat())
    assert "sent 0, skipped 0, failed 0" in again.stdout
    status = cli("digest", "status")
    assert (
        "daily  2026-06-12" in status.stdout
        and "sent 4, pending 0, failed 0 (+1 permanently)" in status.stdout
    )
    once_each(smtp, [e for e in emails if e != refused])
