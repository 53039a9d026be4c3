"""`paperfeed serve` sends the digests on its schedule (a real server process, a real SMTP
server): today's daily list goes out once to each confirmed subscriber."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.db.schema import daily_papers
from paperfeed.runtime import Runtime
from tests.digest.conftest import DAY, FaultySmtpServer, sender_env, subscribe
from tests.support.server import free_port
from tests.support.waiting import ended, wait_until


def test_serve_sends_the_due_digest_on_its_schedule(
    rt: Runtime, smtp: FaultySmtpServer, digest_settings: Settings
) -> None:
    emails = subscribe(rt, 3)
    today = dt.datetime.now(dt.UTC).date()  # the server's clock is the wall clock
    with rt.engine.begin() as conn:  # the fixture's daily list becomes today's
        conn.execute(
            daily_papers.update()
            .where(daily_papers.c.submitted_on == DAY)
            .values(submitted_on=today)
        )
    port = free_port()
    env = sender_env(digest_settings) | {
        "PAPERFEED_DIGEST_SEND_TIME": "00:00",
        "PAPERFEED_DIGEST_DAILY_DAYS": "mon tue wed thu fri sat sun",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(
            lambda: _sent(rt) >= len(emails),
            within=120,
            every=0.2,
            what="no digests from paperfeed serve",
            gone=ended(process),
        )
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=60)
    assert "digests at 00:00 UTC" in output
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == emails
    with rt.engine.connect() as conn:
        editions = conn.execute(sa.text("select kind, period from digest_editions")).all()
    assert ("daily", today.isoformat()) in editions


def _sent(runtime: Runtime) -> int:
    with runtime.reader.connect() as conn:  # (no write lock taken from the server)
        return int(
            conn.execute(
                sa.text("select count(*) from digest_deliveries where state = 'sent'")
            ).scalar_one()
        )
