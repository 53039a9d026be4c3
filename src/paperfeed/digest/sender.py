"""Delivery of digest editions, exactly once per (edition, subscriber).

A run (DigestSender.send) holds the sender lock: an advisory lock on PostgreSQL, the lease
row on SQLite; a second process or node that finds it held sends nothing (`busy`). It then

1. sends again what an earlier run left: deliveries still `pending` (the run was killed
   between writing them and sending) and transient failures whose retry is due (by hand:
   all of them at once);
2. builds the due editions (editions.py) and, for each confirmed subscriber who has not had
   it, confirmed before it was built and chose its kind, writes a `pending` delivery row with
   the message's Message-ID in one transaction per batch, then sends the batch over the
   run's mail connections (`connections`, two by default, each in a thread of its own and
   carrying many messages), marking each row `sent` (or `failed`) in a transaction of its
   own as soon as the server answered, before that connection takes its next message.

Just before each message the subscription's status is read again: an unsubscribe takes
effect at once, even in the middle of a run (the pending row goes; nothing is sent). A
failure is *permanent* when the server refuses the recipient or the message with a 5xx
answer: it is not retried and the run goes on with the others. Any other failure is
*transient*: retried later with a backoff that doubles from `retry_seconds` (up to a day),
`max_attempts` times in all, always with the same Message-ID. When the connection is lost
(421, the server gone) the run connects again; after three losses in a row on one
connection it stops, and what is left stays pending for the next run.

A run killed with `kill -9` leaves its rows pending; the next run resumes with them (on
SQLite the lease of a process that is gone on this machine is taken over at once; one on
another machine when it expires). The one window left is between the server's acceptance of
a message and the row's update, at most one message per connection (two with the default):
a message in it is sent again with the same Message-ID, which mailbox providers treat as
one message.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import secrets
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from paperfeed.clock import Clock, utcnow
from paperfeed.community.cards import PaperCard
from paperfeed.config import Settings
from paperfeed.db.schema import (
    digest_deliveries,
    digest_editions,
    digest_preferences,
    digest_sender_lease,
    subscriptions,
    users,
)
from paperfeed.digest import preferences as prefs_module
from paperfeed.digest.editions import KINDS, Edition, EditionService, Kind, period_key
from paperfeed.digest.personal import Personal, PersonalDigests
from paperfeed.digest.preferences import Candidates, Preferences
from paperfeed.digest.render import (
    Fragments,
    MailSection,
    Recipient,
    RenderedDigest,
    digest_links,
    render_digest,
)
from paperfeed.mail.service import (
    MailConnection,
    Mailer,
    MailError,
    RawMessage,
    alternative_message,
)
from paperfeed.recommend.foryou import record_impressions_of
from paperfeed.workers import exit_with_parent

log = logging.getLogger("paperfeed.digest")

BATCH = 200  # delivery rows written per transaction, then sent
MAX_BACKOFF = dt.timedelta(days=1)
CONNECTIONS = 2  # SMTP connections a run sends over at once
CONNECTION_LOSSES = 3  # in a row on one connection: the run stops
LEASE = dt.timedelta(minutes=2)  # SQLite: renewed while a run goes on
ADVISORY_KEY = 0x70667467_64696773 & 0x7FFFFFFFFFFFFFFF  # "pftgdigs": PostgreSQL bigint
LEASE_NAME = "digest-sender"
# Readers with an account in an edition's run from which other processes choose their
# personal sections (digest_processes; each process starts and reads the candidates once).
PARALLEL_MIN = 1000
CHOOSER_WAIT = 600  # seconds for a batch's sections (~200 readers: a few seconds) at most


# -- reports -----------------------------------------------------------------------------------


@dataclass
class EditionReport:
    kind: str
    period: str
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    built: bool = False  # the edition exists (False: the period has no papers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "period": self.period,
            "built": self.built,
            "sent": self.sent,
            "skipped": self.skipped,
            "failed": self.failed,
        }


@dataclass
class SendReport:
    editions: list[EditionReport] = field(default_factory=list)
    busy: bool = False  # another sender holds the lock: nothing was done
    dry_run: bool = False
    stopped: str | None = None  # why the run stopped early (the mail server is down)

    @property
    def sent(self) -> int:
        return sum(e.sent for e in self.editions)

    @property
    def skipped(self) -> int:
        return sum(e.skipped for e in self.editions)

    @property
    def failed(self) -> int:
        return sum(e.failed for e in self.editions)

    def edition(self, kind: str, period: str) -> EditionReport:
        for report in self.editions:
            if (report.kind, report.period) == (kind, period):
                return report
        report = EditionReport(kind, period, built=True)
        self.editions.append(report)
        return report

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "skipped": self.skipped,
            "failed": self.failed,
            "busy": self.busy,
            "dry_run": self.dry_run,
            "stopped": self.stopped,
            "editions": [e.as_dict() for e in self.editions],
        }


@dataclass
class EditionStatus:
    kind: str
    period: str
    built_at: dt.datetime
    papers: int
    sent: int
    pending: int
    failed: int  # transient, to be retried
    failed_permanently: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "period": self.period,
            "built_at": self.built_at.isoformat() + "Z",
            "papers": self.papers,
            "sent": self.sent,
            "pending": self.pending,
            "failed": self.failed,
            "failed_permanently": self.failed_permanently,
        }


# -- DKIM --------------------------------------------------------------------------------------


class DkimSigner:
    """Signs messages with a DKIM key (dkimpy): relaxed/relaxed, over the headers a mailbox
    provider checks."""

    HEADERS = (
        b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
        b"content-type", b"list-id", b"list-unsubscribe", b"list-unsubscribe-post",
    )  # fmt: skip

    def __init__(self, selector: str, domain: str, key: bytes) -> None:
        import dkim

        self._dkim = dkim
        self.selector, self.domain, self.key = selector, domain, key

    @classmethod
    def from_settings(cls, settings: Settings) -> DkimSigner | None:
        if not settings.dkim_selector or settings.dkim_key_file is None:
            return None
        domain = settings.dkim_domain or parseaddr(settings.mail_from)[1].rpartition("@")[2]
        key = Path(settings.dkim_key_file).read_bytes()
        return cls(settings.dkim_selector, domain, key)

    def sign(self, message: RawMessage) -> RawMessage:
        """The message with a DKIM-Signature header first."""
        signature = self._dkim.sign(
            message.data,
            self.selector.encode(),
            self.domain.encode(),
            self.key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(self.HEADERS),
        )
        return RawMessage(message.mail_from, message.to, signature + message.data)


# -- the lock ----------------------------------------------------------------------------------


def _holder() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _gone(holder: str) -> bool:
    """Whether the holder is a process of this machine that no longer runs."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:60] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class SenderLock:
    """Exactly one sender: pg_try_advisory_lock on PostgreSQL (released when its connection
    ends, also when the process is killed); on SQLite a lease row, renewed while the run goes
    on and taken over when it expires or its holder is a process of this machine that is
    gone."""

    def __init__(self, engine: sa.Engine, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self.holder = _holder()

    @contextmanager
    def hold(self) -> Iterator[bool]:
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                got = bool(
                    conn.execute(sa.select(sa.func.pg_try_advisory_lock(ADVISORY_KEY))).scalar()
                )
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(sa.select(sa.func.pg_advisory_unlock(ADVISORY_KEY)))
            return
        got = self._take()
        try:
            yield got
        finally:
            if got:
                with self.engine.begin() as conn:
                    conn.execute(
                        digest_sender_lease.delete().where(
                            digest_sender_lease.c.name == LEASE_NAME,
                            digest_sender_lease.c.holder == self.holder,
                        )
                    )

    def _take(self) -> bool:
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(digest_sender_lease).where(digest_sender_lease.c.name == LEASE_NAME)
            ).first()
            if row is None:
                conn.execute(
                    digest_sender_lease.insert().values(
                        name=LEASE_NAME, holder=self.holder, expires_at=now + LEASE
                    )
                )
                return True
            if row.holder != self.holder and row.expires_at > now and not _gone(row.holder):
                return False
            conn.execute(
                digest_sender_lease.update()
                .where(digest_sender_lease.c.name == LEASE_NAME)
                .values(holder=self.holder, expires_at=now + LEASE)
            )
            return True

    def renew(self) -> bool:
        """Extend the lease (SQLite); False if another sender took it over meanwhile."""
        if self.engine.dialect.name == "postgresql":
            return True
        with self.engine.begin() as conn:
            done = conn.execute(
                digest_sender_lease.update()
                .where(
                    digest_sender_lease.c.name == LEASE_NAME,
                    digest_sender_lease.c.holder == self.holder,
                )
                .values(expires_at=self.clock() + LEASE)
            ).rowcount
        return bool(done)


# -- the sender --------------------------------------------------------------------------------


@dataclass
class _Pending:
    """A delivery row about to be sent."""

    delivery_id: int
    subscription_id: int
    email: str
    token: str
    message_id: str
    attempts: int
    preferences: Preferences
    edition: Edition
    cards: list[PaperCard] | None = None  # chosen already (None: choose when sending)
    personal: Personal | None = None  # a subscriber with an account: the stored sections


class _Stop(Exception):
    """The mail server cannot be reached: the run ends here."""


# An eligible subscriber of a batch: their row, preferences, the edition's papers these chose,
# and their personal sections (None without an account).
_Chosen = tuple[Any, Preferences, list[PaperCard], Personal | None]


class _Choosers:
    """Processes that choose personal sections (`PersonalDigests.choose`) for the sender:
    forked from it, each makes its own PersonalDigests with `make` (its own database
    connections and search store: nothing opened before the fork is used in a child). They
    only read; the sender writes every delivery row itself, as with one process. Each batch
    is split between them."""

    def __init__(self, make: Callable[[], PersonalDigests], processes: int) -> None:
        self.processes = processes
        self.pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_chooser_start,
            initargs=(make, os.getpid()),
        )

    def __enter__(self) -> _Choosers:
        return self

    def __exit__(self, error: type[BaseException] | None, *_: object) -> None:
        # (after a failure the processes are not waited for: one may be stuck; each ends
        # when it finishes its batch, or with this process)
        self.pool.shutdown(wait=error is None, cancel_futures=True)

    def choose(
        self, edition: Edition, now: dt.datetime, asks: list[tuple[int, Preferences, list[int]]]
    ) -> Callable[[], list[Personal]]:
        """Hands `asks` (user id, preferences, the edition's papers they chose) to the
        processes; the returned function waits for their sections, in the same order."""
        size = max(1, -(-len(asks) // self.processes))
        futures = [
            self.pool.submit(_chooser_choose, edition, now, asks[start : start + size])
            for start in range(0, len(asks), size)
        ]

        def answers() -> list[Personal]:
            try:
                return [p for future in futures for p in future.result(timeout=CHOOSER_WAIT)]
            except TimeoutError as exc:  # the run stops; the next one resumes from here
                raise _Stop(f"no personal sections in {CHOOSER_WAIT} s") from exc

        return answers


_CHOOSER: PersonalDigests | None = None  # in a chooser process: its own


def _chooser_start(make: Callable[[], PersonalDigests], sender: int) -> None:
    global _CHOOSER
    exit_with_parent(sender)  # a chooser must not outlive its sender
    _CHOOSER = make()


def _chooser_choose(
    edition: Edition, now: dt.datetime, asks: list[tuple[int, Preferences, list[int]]]
) -> list[Personal]:
    assert _CHOOSER is not None
    return _CHOOSER.choose_many(asks, edition, now)


def _due_for_a_send(now: dt.datetime, *, retry_now: bool) -> sa.ColumnElement[bool]:
    """Deliveries a run sends: pending ones, and transient failures whose backoff is over
    (all of them with `retry_now`, as `paperfeed digest send` by hand does)."""
    return sa.or_(
        digest_deliveries.c.state == "pending",
        sa.and_(
            digest_deliveries.c.state == "failed",
            digest_deliveries.c.permanent.is_(False),
            sa.true()
            if retry_now
            else sa.or_(
                digest_deliveries.c.next_attempt_at.is_(None),
                digest_deliveries.c.next_attempt_at <= now,
            ),
        ),
    )


class DigestSender:
    def __init__(
        self,
        engine: sa.Engine,
        editions: EditionService,
        mailer: Mailer,
        *,
        mail_from: str,
        base_url: str,
        clock: Clock = utcnow,
        list_id: str | None = None,
        unsubscribe_mailto: str | None = None,
        dkim: DkimSigner | None = None,
        retry_seconds: float = 300.0,
        max_attempts: int = 8,
        timezone: str = "UTC",
        reader: sa.Engine | None = None,
        connections: int = CONNECTIONS,
        personal: PersonalDigests | None = None,
        make_personal: Callable[[], PersonalDigests] | None = None,
        processes: int = 1,
        parallel_min: int = PARALLEL_MIN,
    ) -> None:
        self.engine = engine
        # Subscribers whose address is an account's confirmed email get personal sections.
        self.personal = personal
        # A large run chooses them in `processes` other processes, each with its own
        # PersonalDigests made by `make_personal` (in the child: see _Choosers).
        self.make_personal = make_personal
        self.processes = processes
        self.parallel_min = parallel_min
        # Reads that take no write lock (on SQLite the writer engine begins IMMEDIATE).
        self.reader = reader or engine
        self.editions = editions
        self.mailer = mailer
        self.mail_from = mail_from
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        host = urlsplit(self.base_url).hostname or "localhost"
        self.list_id = list_id or f"paperfeed.{host}"
        self.unsubscribe_mailto = unsubscribe_mailto
        self.dkim = dkim
        self.retry = dt.timedelta(seconds=retry_seconds)
        self.max_attempts = max_attempts
        self.timezone = timezone
        self.connections = max(1, connections)
        self.domain = parseaddr(mail_from)[1].rpartition("@")[2] or host
        self._cards: dict[int, list[PaperCard]] = {}  # per run: each edition's cards
        self._candidates: dict[int, Candidates] = {}  # the same, ready to choose from
        self._fragments: dict[int, Fragments] = {}  # per run: each edition's rendered papers

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: sa.Engine, editions: EditionService, mailer: Mailer,
        *, clock: Clock = utcnow, personal: PersonalDigests | None = None,
        make_personal: Callable[[], PersonalDigests] | None = None,
    ) -> DigestSender:  # fmt: skip
        return cls(
            engine,
            editions,
            mailer,
            mail_from=settings.mail_from,
            base_url=settings.base_url,
            clock=clock,
            list_id=settings.digest_list_id,
            unsubscribe_mailto=settings.digest_unsubscribe_mailto,
            dkim=DkimSigner.from_settings(settings),
            retry_seconds=settings.digest_retry_seconds,
            max_attempts=settings.digest_max_attempts,
            timezone=settings.digest_timezone,
            reader=editions.reader,
            connections=settings.digest_smtp_connections,
            personal=personal,
            make_personal=make_personal,
            processes=settings.digest_processes,
        )

    # -- what is due ---------------------------------------------------------------------------

    def today(self) -> dt.date:
        """Today's date in the digest time zone."""
        import zoneinfo

        now = self.clock().replace(tzinfo=dt.UTC)
        return now.astimezone(zoneinfo.ZoneInfo(self.timezone)).date()

    def due(
        self, kinds: Sequence[Kind] = KINDS, day: dt.date | None = None
    ) -> list[tuple[Kind, str]]:
        """(kind, period) of the editions to send: of `day` when given (its daily list, or
        its ISO week), else those due today."""
        found: list[tuple[Kind, str]] = []
        for kind in kinds:
            if day is not None:
                found.append((kind, period_key(kind, day)))
                continue
            period = self.editions.due_period(kind, self.today())
            if period is not None:
                found.append((kind, period))
        return found

    # -- a run ---------------------------------------------------------------------------------

    def send(
        self,
        *,
        kinds: Sequence[Kind] = KINDS,
        day: dt.date | None = None,
        retry_now: bool = False,
        dry_run: bool = False,
        build: bool = True,
    ) -> SendReport:
        """One run: retries and resumes, then the due editions (with `build`). `retry_now`
        retries every transient failure at once (by hand); otherwise only those whose backoff
        has passed (the schedule)."""
        report = SendReport(dry_run=dry_run)
        due = self.due(kinds, day) if build else []
        if self.personal is not None:
            self.personal.new_run()
        if dry_run:
            self._dry_run(due, report, retry_now=retry_now)
            return report
        lock = SenderLock(self.engine, self.clock)
        self._cards, self._candidates, self._fragments = {}, {}, {}
        with lock.hold() as held:
            if not held:
                report.busy = True
                return report
            with ExitStack() as stack:
                session = _Session(self, lock, report, self.connections)
                stack.callback(session.close)
                try:
                    self._retry(session, retry_now=retry_now)
                    for kind, period in due:
                        edition = self.editions.build(kind, period)
                        if edition is None:
                            report.editions.append(EditionReport(kind, period, built=False))
                            continue
                        report.edition(kind, period)
                        self._new_deliveries(session, edition)
                except _Stop as stop:
                    report.stopped = str(stop)
        return report

    def _retry(self, session: _Session, *, retry_now: bool) -> None:
        after = 0
        now = self.clock()
        while True:
            query = (
                self._delivery_query()
                .where(digest_deliveries.c.id > after)
                .where(_due_for_a_send(now, retry_now=retry_now))
                .order_by(digest_deliveries.c.id)
                .limit(BATCH)
            )
            with self.reader.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            after = rows[-1].id
            batch = []
            for row in rows:
                edition = self._edition(row.edition_id)
                if edition is None:
                    continue
                session.report.edition(edition.kind, edition.period)
                batch.append(
                    _Pending(
                        delivery_id=row.id,
                        subscription_id=row.subscription_id,
                        email=row.email,
                        token=row.token,
                        message_id=row.message_id,
                        attempts=row.attempts,
                        preferences=prefs_module.from_row(row),
                        edition=edition,
                        personal=Personal.from_json(row.personal) if row.personal else None,
                    )
                )
            session.send_all(batch)

    def _delivery_query(self) -> sa.Select[Any]:
        return (
            sa.select(
                digest_deliveries.c.id,
                digest_deliveries.c.edition_id,
                digest_deliveries.c.subscription_id,
                digest_deliveries.c.message_id,
                digest_deliveries.c.attempts,
                digest_deliveries.c.personal,
                subscriptions.c.email,
                subscriptions.c.token,
                *_PREFERENCES,
            )
            .select_from(digest_deliveries)
            .join(subscriptions, subscriptions.c.id == digest_deliveries.c.subscription_id)
            .outerjoin(
                digest_preferences,
                digest_preferences.c.subscription_id == digest_deliveries.c.subscription_id,
            )
        )

    def _edition(self, edition_id: int) -> Edition | None:
        edition = self.editions.by_id(edition_id)
        if edition is not None and edition.id not in self._cards:
            self._cards[edition.id] = self.editions.cards(edition)
        return edition

    def eligible_query(self, edition: Edition) -> sa.Select[Any]:
        """Confirmed subscribers who chose the edition's kind before it was built, confirmed
        before it was built, and have no delivery of it yet; by subscription id."""
        delivered = sa.exists().where(
            digest_deliveries.c.edition_id == edition.id,
            digest_deliveries.c.subscription_id == subscriptions.c.id,
        )
        return (
            sa.select(
                subscriptions.c.id,
                subscriptions.c.email,
                subscriptions.c.token,
                users.c.id.label("user_id"),
                *_PREFERENCES,
            )
            .select_from(subscriptions)
            .outerjoin(
                digest_preferences, digest_preferences.c.subscription_id == subscriptions.c.id
            )
            # The account whose confirmed email the address is (personal sections).
            .outerjoin(
                users,
                sa.and_(
                    users.c.email == subscriptions.c.email,
                    users.c.email_confirmed_at.is_not(None),
                ),
            )
            .where(
                subscriptions.c.status == "confirmed",
                subscriptions.c.confirmed_at < edition.built_at,
                sa.func.coalesce(digest_preferences.c.frequency, "daily") == edition.kind,
                sa.or_(
                    digest_preferences.c.frequency_since.is_(None),
                    digest_preferences.c.frequency_since < edition.built_at,
                ),
                ~delivered,
            )
            .order_by(subscriptions.c.id)
        )

    def _new_deliveries(self, session: _Session, edition: Edition) -> None:
        report = session.report.edition(edition.kind, edition.period)
        with self._choosers(edition) as choosers:
            for rows, now, chosen_rows in self._chosen(edition, choosers):
                values = []
                chosen: dict[int, tuple[Preferences, list[PaperCard], Personal | None]] = {}
                for row, prefs, picked, personal in chosen_rows:
                    if personal.empty if personal is not None else not picked:
                        report.skipped += 1  # nothing in this edition matches their preferences
                        continue
                    chosen[row.id] = (prefs, picked, personal)
                    values.append(
                        {
                            "edition_id": edition.id,
                            "subscription_id": row.id,
                            "state": "pending",
                            "message_id": self._message_id(edition, row.id),
                            "created_at": now,
                            "personal": personal.as_json() if personal is not None else None,
                        }
                    )
                if values:
                    self._write_and_send(session, edition, rows, now, values, chosen)

    def _chosen(
        self, edition: Edition, choosers: _Choosers | None
    ) -> Iterator[tuple[list[Any], dt.datetime, list[_Chosen]]]:
        """The eligible subscribers a batch at a time, each with their papers chosen. With
        `choosers` (other processes choose the personal sections) the next batch is handed
        to them before this one is given out, so they choose while this process sends."""
        cards = self.candidates_for(edition)

        def fetch(after: int) -> tuple[list[Any], dt.datetime, Callable[[], list[_Chosen]]] | None:
            with self.reader.connect() as conn:
                rows = list(
                    conn.execute(
                        self.eligible_query(edition).where(subscriptions.c.id > after).limit(BATCH)
                    ).all()
                )
            if not rows:
                return None
            now = self.clock()
            preferences = [prefs_module.from_row(row) for row in rows]
            picked = [
                (row, prefs, prefs.choose(cards))
                for row, prefs in zip(rows, preferences, strict=True)
            ]
            # Subscribers with an account get personal sections (when the sender makes them).
            asks = [
                (row.user_id, prefs, [c.paper_id for c in p])
                for row, prefs, p in picked
                if row.user_id is not None and self.personal is not None
            ]
            if choosers is not None:
                answers = choosers.choose(edition, now, asks)
            else:
                done = self.personal.choose_many(asks, edition, now) if self.personal else []
                answers = lambda: done  # noqa: E731

            def joined() -> list[_Chosen]:
                personal = iter(answers())
                return [
                    (
                        row,
                        prefs,
                        p,
                        next(personal)
                        if row.user_id is not None and self.personal is not None
                        else None,
                    )
                    for row, prefs, p in picked
                ]

            return rows, now, joined

        current = fetch(0)
        while current is not None:
            rows, now, result = current
            following = fetch(rows[-1].id) if choosers is not None else None
            yield rows, now, result()
            current = following if choosers is not None else fetch(rows[-1].id)

    def _choosers(self, edition: Edition) -> AbstractContextManager[_Choosers | None]:
        """Processes that choose the run's personal sections: only for a large run (the
        processes start in ~a second and each reads the candidates once), where fork is
        possible (not on Windows)."""
        if (
            self.personal is None
            or self.make_personal is None
            or self.processes < 2
            or "fork" not in multiprocessing.get_all_start_methods()
        ):
            return nullcontext(None)
        with self.reader.connect() as conn:
            readers = conn.execute(
                sa.select(sa.func.count()).select_from(
                    self.eligible_query(edition)
                    .where(users.c.id.is_not(None))
                    .order_by(None)
                    .subquery()
                )
            ).scalar_one()
        if readers < self.parallel_min:
            return nullcontext(None)
        return _Choosers(self.make_personal, self.processes)

    def _write_and_send(
        self,
        session: _Session,
        edition: Edition,
        rows: list[Any],
        now: dt.datetime,
        values: list[dict[str, Any]],
        chosen: dict[int, tuple[Preferences, list[PaperCard], Personal | None]],
    ) -> None:
        # Written before anything is sent: a run killed after this resumes with them.
        # A personal digest's papers count as recommended from now on (recommend/foryou.py).
        with self.engine.begin() as conn:
            conn.execute(digest_deliveries.insert(), values)
            record_impressions_of(
                conn,
                [(p.user_id, p.recommended) for _, _, p in chosen.values() if p is not None],
                "digest",
                now,
            )
            ids = dict(
                conn.execute(
                    sa.select(digest_deliveries.c.subscription_id, digest_deliveries.c.id).where(
                        digest_deliveries.c.edition_id == edition.id,
                        digest_deliveries.c.subscription_id.in_(list(chosen)),
                    )
                ).all()
            )
        by_id = {row.id: row for row in rows}
        session.send_all(
            [
                _Pending(
                    delivery_id=ids[v["subscription_id"]],
                    subscription_id=v["subscription_id"],
                    email=by_id[v["subscription_id"]].email,
                    token=by_id[v["subscription_id"]].token,
                    message_id=v["message_id"],
                    attempts=0,
                    preferences=chosen[v["subscription_id"]][0],
                    edition=edition,
                    cards=chosen[v["subscription_id"]][1],
                    personal=chosen[v["subscription_id"]][2],
                )
                for v in values
            ]
        )

    def _personal(
        self,
        user_id: int | None,
        prefs: Preferences,
        edition: Edition,
        picked: list[PaperCard],
        now: dt.datetime,
    ) -> Personal | None:
        """The personal sections of a subscriber with an account (None without one)."""
        if self.personal is None or user_id is None:
            return None
        return self.personal.choose(user_id, prefs, edition, [c.paper_id for c in picked], now)

    def _message_id(self, edition: Edition, subscription_id: int) -> str:
        return (
            f"<digest.{edition.kind}.{edition.period}.{subscription_id}."
            f"{secrets.token_hex(4)}@{self.domain}>"
        )

    # -- one message ---------------------------------------------------------------------------

    def render(
        self,
        edition: Edition,
        cards: Sequence[PaperCard],
        recipient: Recipient,
        sections: Sequence[MailSection] | None = None,
    ) -> RenderedDigest:
        fragments = self._fragments.setdefault(edition.id, Fragments()) if edition.id else None
        return render_digest(
            edition,
            cards,
            recipient,
            digest_links(self.base_url, edition, recipient.token),
            fragments=fragments,
            sections=sections,
        )

    def sections(
        self, personal: Personal, cards: dict[int, PaperCard] | None = None
    ) -> list[MailSection]:
        """A personal digest's sections as stored in its row, with the papers' cards now
        (`cards`: those of its batch, read at once just before it is sent)."""
        assert self.personal is not None
        if cards is None:
            cards = self.batch_cards([personal])
        return self.personal.sections(personal, cards, self.base_url)

    def batch_cards(self, personal: Sequence[Personal]) -> dict[int, PaperCard]:
        """The cards of every paper these personal digests show, read in one query."""
        ids = sorted({pid for p in personal for pid in (*p.recommended, *p.trending)})
        return {c.paper_id: c for c in self.editions.card_service.cards(ids)} if ids else {}

    def compose(
        self,
        edition: Edition,
        cards: Sequence[PaperCard],
        recipient: Recipient,
        message_id: str,
        sections: Sequence[MailSection] | None = None,
    ) -> RawMessage:
        """The digest mail for one recipient, with its list headers (and DKIM signature)."""
        rendered = self.render(edition, cards, recipient, sections)
        links = digest_links(self.base_url, edition, recipient.token)
        unsubscribe = f"<{links.unsubscribe_url}>"
        if self.unsubscribe_mailto:
            unsubscribe += f", <mailto:{self.unsubscribe_mailto}?subject=unsubscribe>"
        message = alternative_message(
            [
                ("Subject", rendered.subject),
                ("Date", format_datetime(self.clock().replace(tzinfo=dt.UTC))),
                ("Message-ID", message_id),
                ("List-Unsubscribe", unsubscribe),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                ("List-Id", f"paperfeed digest <{self.list_id}>"),
            ],
            rendered.text,
            rendered.html,
            mail_from=self.mail_from,
            to=recipient.email,
        )
        return self.dkim.sign(message) if self.dkim is not None else message

    def cards_for(self, edition: Edition) -> list[PaperCard]:
        if edition.id not in self._cards:
            self._cards[edition.id] = self.editions.cards(edition)
        return self._cards[edition.id]

    def candidates_for(self, edition: Edition) -> Candidates:
        if edition.id not in self._candidates:
            self._candidates[edition.id] = Candidates(self.cards_for(edition))
        return self._candidates[edition.id]

    def backoff(self, attempts: int) -> dt.timedelta:
        wait: dt.timedelta = self.retry * 2 ** max(0, attempts - 1)
        return min(MAX_BACKOFF, wait)

    # -- dry run -------------------------------------------------------------------------------

    def _dry_run(self, due: list[tuple[Kind, str]], report: SendReport, *, retry_now: bool) -> None:
        """Counts what a run would send (as `sent`) and skip; builds and writes nothing."""
        now = self.clock()
        with self.reader.connect() as conn:
            rows = conn.execute(
                sa.select(digest_editions.c.kind, digest_editions.c.period, sa.func.count())
                .select_from(digest_deliveries)
                .join(digest_editions, digest_editions.c.id == digest_deliveries.c.edition_id)
                .where(_due_for_a_send(now, retry_now=retry_now))
                .group_by(digest_editions.c.kind, digest_editions.c.period)
            ).all()
        for kind, period, count in rows:
            report.edition(kind, period).sent += count
        for kind, period in due:
            edition = self.editions.get(kind, period)
            if edition is None:
                ranked = self.editions.rank(kind, period, now=now)
                if not ranked:
                    report.editions.append(EditionReport(kind, period, built=False))
                    continue
                edition = Edition(0, kind, period, now, tuple(pid for pid, _ in ranked))
            cards = Candidates(self.editions.cards(edition))
            entry = report.edition(kind, period)
            with self.reader.connect() as conn:
                rows = conn.execute(self.eligible_query(edition)).all()
            for row in rows:
                prefs = prefs_module.from_row(row)
                picked = prefs.choose(cards)
                personal = self._personal(row.user_id, prefs, edition, picked, now)
                if personal.empty if personal is not None else not picked:
                    entry.skipped += 1
                else:
                    entry.sent += 1

    # -- status --------------------------------------------------------------------------------

    def status(self, limit: int = 30) -> list[EditionStatus]:
        """The latest editions with their deliveries counted by state."""
        editions = self.editions.recent(limit=limit)
        counts: dict[tuple[int, str, bool], int] = {}
        if editions:
            with self.reader.connect() as conn:
                for edition_id, state, permanent, count in conn.execute(
                    sa.select(
                        digest_deliveries.c.edition_id,
                        digest_deliveries.c.state,
                        digest_deliveries.c.permanent,
                        sa.func.count(),
                    )
                    .where(digest_deliveries.c.edition_id.in_([e.id for e in editions]))
                    .group_by(
                        digest_deliveries.c.edition_id,
                        digest_deliveries.c.state,
                        digest_deliveries.c.permanent,
                    )
                ):
                    counts[(edition_id, state, bool(permanent))] = count
        return [
            EditionStatus(
                kind=e.kind,
                period=e.period,
                built_at=e.built_at,
                papers=len(e.paper_ids),
                sent=counts.get((e.id, "sent", False), 0),
                pending=counts.get((e.id, "pending", False), 0),
                failed=counts.get((e.id, "failed", False), 0),
                failed_permanently=counts.get((e.id, "failed", True), 0),
            )
            for e in editions
        ]


# What the sender reads of a subscriber's preferences (preferences.from_row).
_PREFERENCES = (
    digest_preferences.c.frequency,
    digest_preferences.c.categories,
    digest_preferences.c.max_papers,
    digest_preferences.c.code_only,
    digest_preferences.c.changed_at,
    digest_preferences.c.frequency_since,
    digest_preferences.c.for_you,
    digest_preferences.c.follows,
    digest_preferences.c.trending,
)

# The statements of each message, built once (per message only their values change).
_STATUS = sa.select(subscriptions.c.status).where(
    subscriptions.c.id == sa.bindparam("subscription")
)
_MARK_SENT = (
    digest_deliveries.update()
    .where(digest_deliveries.c.id == sa.bindparam("delivery"))
    .values(
        state="sent",
        attempts=sa.bindparam("tries"),
        sent_at=sa.bindparam("at"),
        next_attempt_at=None,
    )
)


class _Line:
    """One mail connection of a run, opened on first use and again after a loss."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self.connection: MailConnection | None = None
        self._context: AbstractContextManager[MailConnection] | None = None
        self.losses = 0  # in a row

    def connect(self) -> MailConnection:
        if self.connection is None:
            context = self.mailer.connect()
            try:
                self.connection = context.__enter__()
            except MailError as exc:
                raise _Stop(str(exc)) from exc
            self._context = context
        return self.connection

    def drop(self) -> None:
        context, self.connection, self._context = self._context, None, None
        if context is not None:
            with suppress(MailError, OSError):
                context.__exit__(None, None, None)


class _Session:
    """The mail connections of a run (`connections` of them, each in a thread of its own
    while a batch is sent)."""

    def __init__(
        self, sender: DigestSender, lock: SenderLock, report: SendReport, connections: int = 1
    ) -> None:
        self.sender = sender
        self.lock = lock
        self.report = report
        self.lines = [_Line(sender.mailer) for _ in range(max(1, connections))]
        self._counting = threading.Lock()  # the report, updated from every line's thread
        self.cards: dict[int, PaperCard] = {}  # the batch being sent: its personal papers' cards

    def close(self) -> None:
        for line in self.lines:
            line.drop()

    def send_all(self, batch: list[_Pending]) -> None:
        """Sends a batch over the run's connections at once: each line's thread takes the
        next message of the batch when its last one was answered and recorded, so at any
        moment at most one message per connection is between the server and its row."""
        if not self.lock.renew():
            raise _Stop("another sender took over the lease")
        # The cards of the batch's personal digests, read now in one query (not one a message).
        self.cards = self.sender.batch_cards([i.personal for i in batch if i.personal is not None])
        queue = iter(batch)
        taking = threading.Lock()
        stop = threading.Event()

        def work(line: _Line) -> None:
            try:
                while not stop.is_set():
                    with taking:
                        item = next(queue, None)
                    if item is None:
                        return
                    self._send_one(line, item)
            except BaseException:
                stop.set()  # the other lines finish the message they have and stop
                raise

        lines = self.lines[: max(1, min(len(self.lines), len(batch)))]
        if len(lines) == 1:
            work(lines[0])
            return
        with ThreadPoolExecutor(len(lines) - 1, thread_name_prefix="digest-send") as pool:
            others = [pool.submit(work, line) for line in lines[1:]]
            errors: list[BaseException] = []
            try:
                work(lines[0])
            except BaseException as exc:
                errors.append(exc)
            for future in others:
                if (error := future.exception()) is not None:
                    errors.append(error)
        if errors:  # a stop (the server unreachable) is reported as such; anything else first
            raise next((e for e in errors if not isinstance(e, _Stop)), errors[0])

    def _count(self, item: _Pending, outcome: str) -> None:
        with self._counting:
            entry = self.report.edition(item.edition.kind, item.edition.period)
            setattr(entry, outcome, getattr(entry, outcome) + 1)

    def _compose(self, item: _Pending) -> RawMessage:
        sender = self.sender
        recipient = Recipient(item.email, item.token, item.preferences)
        if item.personal is not None and sender.personal is not None:
            sections = sender.sections(item.personal, self.cards)
            return sender.compose(item.edition, [], recipient, item.message_id, sections)
        cards = item.cards or item.preferences.choose(sender.candidates_for(item.edition))
        if not cards:  # (a retry after the papers were hidden or preferences changed)
            cards = sender.cards_for(item.edition)[: item.preferences.max_papers]
        return sender.compose(item.edition, cards, recipient, item.message_id)

    def _send_one(self, line: _Line, item: _Pending) -> None:
        sender = self.sender
        engine = sender.engine
        # The subscription as it is now, just before its message goes: an unsubscribe
        # counts at once.
        with sender.reader.connect() as conn:
            status = conn.execute(_STATUS, {"subscription": item.subscription_id}).scalar()
        if status != "confirmed":
            with engine.begin() as conn:
                conn.execute(
                    digest_deliveries.delete().where(
                        digest_deliveries.c.id == item.delivery_id,
                        digest_deliveries.c.state != "sent",
                    )
                )
            self._count(item, "skipped")
            return
        message = self._compose(item)
        connection = line.connect()
        try:
            connection.send(message)
        except MailError as exc:
            self._failed(item, exc)
            self._count(item, "failed")
            if exc.connection_lost:
                line.drop()
                line.losses += 1
                if line.losses >= CONNECTION_LOSSES:
                    raise _Stop(str(exc)) from exc
            return
        line.losses = 0
        with engine.begin() as conn:
            conn.execute(
                _MARK_SENT,
                {"delivery": item.delivery_id, "tries": item.attempts + 1, "at": sender.clock()},
            )
        self._count(item, "sent")

    def _failed(self, item: _Pending, exc: MailError) -> None:
        sender = self.sender
        attempts = item.attempts + 1
        permanent = exc.permanent or attempts >= sender.max_attempts
        error = str(exc)[:2000]
        if not exc.permanent and permanent:
            error += f" (given up after {attempts} attempts)"
        log.warning("digest to %s: %s", item.email, error)
        with sender.engine.begin() as conn:
            conn.execute(
                digest_deliveries.update()
                .where(digest_deliveries.c.id == item.delivery_id)
                .values(
                    state="failed",
                    permanent=permanent,
                    attempts=attempts,
                    last_error=error,
                    next_attempt_at=None
                    if permanent
                    else sender.clock() + sender.backoff(attempts),
                )
            )
