"""The schedule of `paperfeed serve`, preferences shaping each digest (and never resending
one), DKIM signatures that verify, and the `paperfeed digest` commands, on a real catalog and
a real SMTP server (or the outbox, the default)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.db.schema import daily_papers, digest_sender_lease, papers, subscriptions
from paperfeed.digest.preferences import BadPreferences, Candidates, Preferences
from paperfeed.digest.schedule import DigestSchedule
from paperfeed.digest.sender import LEASE, DigestSender, DkimSigner
from paperfeed.runtime import Runtime
from tests.digest.conftest import DAY, FaultySmtpServer, subscribe
from tests.mail.conftest import body_text
from tests.support.cli import Cli
from tests.support.outbox import link_token, outbox


def numbered_titles(text: str) -> list[str]:
    return [line.split(". ", 1)[1] for line in text.splitlines() if line[:1].isdigit()]


# -- the schedule ----------------------------------------------------------------------------


def test_the_schedule_sends_at_the_send_time_in_its_time_zone(
    rt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    emails = subscribe(rt, 3)
    # 07:00 in Berlin is 05:00 UTC in June; the subscribers confirmed at 06:00 UTC, so the
    # schedule is set to 09:00 Berlin (07:00 UTC).
    schedule = DigestSchedule(
        rt.digest_sender, send_time="09:00", timezone="Europe/Berlin", clock=clock
    )
    clock.set(dt.datetime(2026, 6, 12, 6, 59))
    assert schedule.run_once().sent == 0
    assert rt.editions.get("daily", DAY.isoformat()) is None  # not built before its time
    clock.set(dt.datetime(2026, 6, 12, 7, 0))
    assert schedule.run_once().sent == 3
    assert rt.editions.get("daily", DAY.isoformat()) is not None
    clock.advance(60)
    assert schedule.run_once().sent == 0  # every minute after: nothing more
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == emails


def test_daily_editions_go_out_only_on_the_configured_days(
    rt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    subscribe(rt, 2)
    clock.set(dt.datetime(2026, 6, 12, 8, 0))  # a Friday
    mondays = DigestSender.from_settings(
        rt.settings.model_copy(update={"digest_daily_days": ["mon"]}),
        rt.engine,
        type(rt.editions)(rt.engine, rt.cards, clock=clock, daily_days=["mon"]),
        rt.mailer,
        clock=clock,
    )
    assert mondays.due(("daily",)) == []
    assert mondays.send(kinds=("daily",)).sent == 0
    assert rt.digest_sender.due(("daily",)) == [("daily", "2026-06-12")]
    assert rt.digest_sender.send(kinds=("daily",)).sent == 2


# -- preferences -----------------------------------------------------------------------------


def _paper_ids(runtime: Runtime) -> list[int]:
    with runtime.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(daily_papers.c.paper_id)
                .where(daily_papers.c.submitted_on == DAY)
                .order_by(daily_papers.c.paper_id)
            ).scalars()
        )


def test_preferences_shape_each_digest_and_changing_them_never_resends(
    rt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    everything, coders, vision, weekly = subscribe(rt, 4)
    ids = _paper_ids(rt)
    with rt.engine.begin() as conn:  # three of the day's papers are cs.CV
        conn.execute(
            papers.update().where(papers.c.id.in_(ids[:3])).values(categories=["cs.CV", "cs.LG"])
        )
    prefs = rt.digest_preferences
    with rt.engine.connect() as conn:
        sub_id = dict(conn.execute(sa.select(subscriptions.c.email, subscriptions.c.id)).all())
    prefs.set(sub_id[coders], code_only=True, max_papers=5)
    prefs.set(sub_id[vision], categories=["cs.CV"])
    prefs.set(sub_id[weekly], frequency="weekly")
    with pytest.raises(BadPreferences, match="not an arXiv category"):
        prefs.set(sub_id[vision], categories=["cs.CV", "<script>"])
    with pytest.raises(BadPreferences, match="from 1 to 50"):
        prefs.set(sub_id[vision], max_papers=0)
    assert prefs.get(sub_id[vision]).categories == ("cs.CV",)  # unchanged by the bad ones
    clock.advance(3600)

    report = rt.digest_sender.send(day=DAY)
    assert report.sent == 4  # three daily digests and the week's
    mails = {r.rcpt_tos[0]: r.message for r in smtp.received}
    assert len(numbered_titles(body_text(mails[everything]))) == 10
    coder_titles = numbered_titles(body_text(mails[coders]))
    assert len(coder_titles) == 5
    cards = {c.title: c for c in rt.editions.cards(rt.editions.get("daily", "2026-06-12"))}  # type: ignore[arg-type]
    assert all(cards[t].code_links() for t in coder_titles)
    vision_titles = numbered_titles(body_text(mails[vision]))
    assert len(vision_titles) == 3 and all("cs.CV" in cards[t].categories for t in vision_titles)
    assert mails[weekly]["Subject"].startswith("Papers of the week 2026-W24")

    # Changing preferences never resends: not the daily one, not a weekly built before.
    clock.advance(60)
    prefs.set(sub_id[everything], max_papers=3)
    prefs.set(sub_id[vision], frequency="weekly")  # after this week's edition was built
    clock.advance(60)
    again = rt.digest_sender.send(day=DAY)
    assert again.sent == 0
    assert len(smtp.received) == 4


# -- DKIM ------------------------------------------------------------------------------------


def test_dkim_signed_digests_verify(
    rt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock, tmp_path: Path
) -> None:
    dkim = pytest.importorskip("dkim")
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a key")
    key = tmp_path / "dkim.pem"
    subprocess.run([openssl, "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        [openssl, "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    settings = rt.settings.model_copy(update={"dkim_selector": "pf2026", "dkim_key_file": key})
    signer = DkimSigner.from_settings(settings)
    assert signer is not None and signer.domain == "papers.example.org"
    sender = DigestSender.from_settings(settings, rt.engine, rt.editions, rt.mailer, clock=clock)
    subscribe(rt, 2)
    clock.advance(3600)
    assert sender.send(day=DAY, kinds=("daily",)).sent == 2

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"pf2026._domainkey.papers.example.org."
        return record

    for raw in smtp.raw:
        assert raw.startswith(b"DKIM-Signature:")
        assert dkim.verify(raw, dnsfunc=dns)
        assert not dkim.verify(raw.replace(b"Daily papers", b"Daily paperz", 1), dnsfunc=dns)


# -- the commands ----------------------------------------------------------------------------


def test_subscribers_commands(cli: Cli, settings: Settings) -> None:
    added = cli("digest", "subscribers", "add", "Ada@Example.org", "bob@example.org", "--confirmed")
    assert added.stdout.splitlines() == ["ada@example.org: confirmed", "bob@example.org: confirmed"]
    pending = cli("digest", "subscribers", "add", "cy@example.org", "not an address", ok=False)
    assert pending.exit_code == 1
    assert "cy@example.org: pending: confirmation link sent" in pending.stdout
    assert "not an address: enter a valid email address" in pending.stderr
    [confirmation] = outbox(settings, to="cy@example.org")
    assert "subscribe/confirm/" in body_text(confirmation)
    token = link_token(confirmation, settings.base_url, "subscribe/confirm")

    listed = json.loads(cli("digest", "subscribers", "list", "--json").stdout)
    assert [(r["email"], r["status"], r["confirmed_via"]) for r in listed] == [
        ("ada@example.org", "confirmed", "operator"),
        ("bob@example.org", "confirmed", "operator"),
        ("cy@example.org", "pending", None),
    ]
    runtime = Runtime(settings)
    try:  # the link confirms, and that is recorded too
        assert runtime.subscriptions.confirm(token) is not None
    finally:
        runtime.close()
    listed = json.loads(cli("digest", "subscribers", "list", "--json").stdout)
    assert (listed[2]["status"], listed[2]["confirmed_via"]) == ("confirmed", "link")
    assert cli("digest", "subscribers", "remove", "BOB@example.org").stdout == (
        "bob@example.org: unsubscribed\n"
    )
    missing = cli("digest", "subscribers", "remove", "nobody@example.org", ok=False)
    assert "nobody@example.org is not subscribed" in missing.stderr
    text = cli("digest", "subscribers", "list").stdout
    assert text.splitlines() == [
        "ada@example.org\tconfirmed (added by the operator)",
        "bob@example.org\tunsubscribed (added by the operator)",
        "cy@example.org\tconfirmed",
    ]


def test_send_preview_and_status_through_the_outbox(
    hf_catalog: Cli, settings: Settings, tmp_path: Path
) -> None:
    """Without an SMTP server the digests go to the outbox folder (the default mailer)."""
    cli = hf_catalog
    cli("digest", "subscribers", "add", "ada@example.org", "bob@example.org", "--confirmed")
    bad = cli("digest", "send", "--date", "2026-02-30", ok=False)
    assert bad.exit_code == 2 and "not a day as YYYY-MM-DD" in bad.stderr
    dry = json.loads(cli("digest", "send", "--date", "2026-06-12", "--dry-run", "--json").stdout)
    assert (dry["dry_run"], dry["sent"]) == (True, 2)
    assert outbox(settings) == [] or all("Confirm" in str(m["Subject"]) for m in outbox(settings))

    html = tmp_path / "digest.html"
    shown = cli("digest", "preview", "--email", "ada@example.org", "--date", "2026-06-12",
                "--html", str(html))  # fmt: skip
    assert shown.stdout.startswith("Subject: Daily papers, Friday 12 June 2026: 10 papers")
    assert "<!DOCTYPE html>" in html.read_text()

    sent = cli("digest", "send", "--date", "2026-06-12")
    assert sent.stdout.splitlines()[-1] == "sent 2, skipped 0, failed 0"
    digests = [m for m in outbox(settings) if str(m["Subject"]).startswith("Daily papers")]
    assert sorted(str(m["To"]) for m in digests) == ["ada@example.org", "bob@example.org"]
    assert all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in digests)
    assert cli("digest", "send", "--date", "2026-06-12").stdout.splitlines()[-1] == (
        "sent 0, skipped 0, failed 0"
    )
    status = cli("digest", "status").stdout
    assert "2026-06-12" in status and "30 papers: sent 2, pending 0, failed 0" in status
    empty = cli("digest", "send", "--date", "2026-01-05")
    assert "daily 2026-01-05: no papers, no edition" in empty.stdout


# -- the lock and escaping -------------------------------------------------------------------


def test_a_lease_of_another_machine_is_taken_over_only_when_it_expires(
    rt: Runtime, clock: FrozenClock
) -> None:
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL uses an advisory lock, released when its session ends")
    subscribe(rt, 1)
    clock.advance(3600)
    with rt.engine.begin() as conn:
        conn.execute(
            digest_sender_lease.insert().values(
                name="digest-sender", holder="another-host:4242:abcd", expires_at=clock() + LEASE
            )
        )
    report = rt.digest_sender.send(day=DAY, kinds=("daily",))
    assert report.busy and report.sent == 0
    clock.advance(LEASE.total_seconds() + 1)  # the other machine's lease expired
    assert rt.digest_sender.send(day=DAY, kinds=("daily",)).sent == 1
    with rt.engine.connect() as conn:  # released at the end of the run
        assert conn.execute(sa.select(digest_sender_lease)).all() == []


def test_markup_in_catalog_text_is_escaped_in_the_html_part(
    rt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    first = rt.editions.rank("daily", DAY.isoformat())[0][0]  # the edition's top paper
    with rt.engine.begin() as conn:
        conn.execute(
            papers.update()
            .where(papers.c.id == first)
            .values(title='<script>alert("x")</script> & <b>bold</b>')
        )
    subscribe(rt, 1)
    clock.advance(3600)
    assert rt.digest_sender.send(day=DAY, kinds=("daily",)).sent == 1
    message = smtp.received[0].message
    part = message.get_body(("html",))
    assert part is not None
    html = part.get_content()
    assert "<script>" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert '<script>alert("x")</script> & <b>bold</b>' in body_text(message)  # plain text


def test_choosing_from_candidates_picks_what_the_card_by_card_rule_picks(
    rt: Runtime, clock: FrozenClock
) -> None:
    """The sender chooses each subscriber's papers from the edition's cards worked out once
    (`Candidates`); that choice is the one `Preferences.wants` makes paper by paper."""
    shapes = [["cs.CV", "cs.LG"], ["cs.CL"], ["math.AP"], ["stat.ML", "cs.LG"], []]
    ids = _paper_ids(rt)
    with rt.engine.begin() as conn:
        for n, paper_id in enumerate(ids):
            conn.execute(
                papers.update().where(papers.c.id == paper_id).values(categories=shapes[n % 5])
            )
    clock.advance(3600)
    edition = rt.editions.build("daily", DAY.isoformat())
    assert edition is not None
    cards = rt.editions.cards(edition)
    categories = sorted({c for card in cards for c in card.categories})
    archives = sorted({c.partition(".")[0] for c in categories})
    assert len(categories) > 3 and any(card.code_links() for card in cards)
    candidates = Candidates(cards)
    tried = 0
    for wanted in [(), *((c,) for c in categories), *((a,) for a in archives),
                   tuple(categories[:2]), ("no.such",)]:  # fmt: skip
        for code_only in (False, True):
            for max_papers in (1, 3, 50):
                prefs = Preferences(categories=wanted, code_only=code_only, max_papers=max_papers)
                by_rule = [card for card in cards if prefs.wants(card)][:max_papers]
                assert prefs.choose(candidates) == by_rule, prefs
                assert prefs.choose(cards) == by_rule, prefs
                tried += bool(by_rule)
    assert tried > 20  # most of these choose something
