"""Digest fixtures: the real Hugging Face daily lists in the catalog, a clock the test moves,
confirmed subscribers, and a real SMTP server (aiosmtpd on 127.0.0.1) that can be told to
fail in the ways mail servers do."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.mail.conftest import SmtpServer, parse
from tests.support.cli import Cli

# The catalog: the three real HF daily lists (`seed_hf_daily_lists`, tests/support/catalogs.py):
# 30 papers listed on 2026-06-12 (a Friday), 30 on 2026-07-31 (a Friday), 3 on 2026-08-03.
DAY = dt.date(2026, 6, 12)
START = dt.datetime(2026, 6, 12, 6, 0)  # subscribers confirm at 06:00, the digest at 07:00


@dataclass
class FaultySmtpServer(SmtpServer):
    """The local SMTP server, with hooks the tests set: `on_mail(n)` may answer the n-th
    MAIL FROM (from 1) with an error; `on_data(n, message)` runs before the n-th message is
    kept and may answer instead of accepting it."""

    on_mail: Callable[[int], str | None] | None = None
    on_data: Callable[[int, Any], str | None] | None = None
    raw: list[bytes] = field(default_factory=list)
    # The SMTP session (one per connection, kept alive here) of each message kept: a port
    # number may come back for a new connection when the server closed the old one first.
    sessions: list[Any] = field(default_factory=list)
    mails: int = 0
    datas: int = 0

    async def handle_MAIL(  # aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.mails += 1
        if self.on_mail is not None:
            answer = self.on_mail(self.mails)
            if answer is not None:
                return answer
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.datas += 1
        if self.on_data is not None:
            data = envelope.original_content or envelope.content
            answer = await asyncio.to_thread(self.on_data, self.datas, parse(data))
            if answer is not None:
                return answer
        self.raw.append(envelope.original_content or envelope.content)
        self.sessions.append(session)
        return await super().handle_DATA(server, session, envelope)

    def connections(self) -> int:
        """How many connections carried the messages kept."""
        return len({id(session) for session in self.sessions})

    def counts(self) -> Counter[str]:
        """Messages received per recipient."""
        return Counter(rcpt for r in self.received for rcpt in r.rcpt_tos)

    def message_ids(self, to: str) -> list[str]:
        return [str(r.message["Message-ID"]) for r in self.received if to in r.rcpt_tos]


@pytest.fixture
def smtp() -> Iterator[FaultySmtpServer]:
    server = FaultySmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def hf_catalog(cli: Cli, seed_hf_daily_lists: None) -> Cli:
    return cli


@pytest.fixture
def digest_settings(settings: Settings, smtp: FaultySmtpServer) -> Settings:
    return smtp.settings(
        settings,
        smtp_starttls=False,
        embedder="none",
        base_url="https://papers.example.org",
        mail_from="paperfeed <digest@papers.example.org>",
    )


@pytest.fixture
def rt(digest_settings: Settings, hf_catalog: Cli, clock: FrozenClock) -> Iterator[Runtime]:
    """A runtime on the test's clock, its mail going to the local SMTP server."""
    runtime = Runtime(digest_settings, clock=clock)
    yield runtime
    runtime.close()


def subscribe(runtime: Runtime, count: int, prefix: str = "reader") -> list[str]:
    """`count` confirmed subscribers (confirmed by an operator, at the runtime's clock)."""
    emails = [f"{prefix}{n:03d}@example.org" for n in range(count)]
    for address in emails:
        runtime.subscriptions.add_confirmed(address)
    return emails


def sender_env(settings: Settings) -> dict[str, str]:
    """The environment of a `paperfeed` process using these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    src = str(Path(__file__).parents[2] / "src")
    env |= {
        "PYTHONPATH": os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p),
        "PAPERFEED_HOME": str(settings.home),
        "PAPERFEED_CONFIG": str(settings.home / "none.toml"),
        "PAPERFEED_SMTP_HOST": str(settings.smtp_host),
        "PAPERFEED_SMTP_PORT": str(settings.smtp_port),
        "PAPERFEED_SMTP_STARTTLS": "false",
        "PAPERFEED_EMBEDDER": "none",
        "PAPERFEED_BASE_URL": settings.base_url,
        "PAPERFEED_MAIL_FROM": settings.mail_from,
    }
    if settings.database_url:
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
    return env


def start_sender(settings: Settings, *args: str) -> subprocess.Popen[str]:
    """`paperfeed digest send ARGS` as a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "digest", "send", *args],
        env=sender_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Gate:
    """A point the SMTP server's handler waits at until the test opens it."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.opened = threading.Event()

    def wait(self, timeout: float = 60) -> None:
        self.reached.set()
        self.opened.wait(timeout)
