"""Digest editions: the papers chosen for one period, built once and stored.

The daily edition of a date is that date's daily list; the weekly edition of an ISO week is
the daily lists of its seven days. Both are ranked by their community signals at the moment
the edition is built:

    score = upvotes + 2 * comments + trending score (community/trending.py)

upvotes and comments count those imported with the daily list and those cast here (hidden
comments and hidden papers do not count); ties go to the paper that entered the list later.
An edition keeps the whole ranked list: each subscriber's digest is the first papers of it
that match their preferences (digest/preferences.py). Nothing is stored for a period with
no papers (a later import can still fill it). Editions are read back by the digest pages and
feeds; the cards of their papers come from CardService, like every other list."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from paperfeed.clock import Clock, utcnow
from paperfeed.community import trending
from paperfeed.community.cards import CardService, PaperCard
from paperfeed.db.schema import (
    comments,
    daily_papers,
    digest_edition_items,
    digest_editions,
    paper_moderation,
    votes,
)
from paperfeed.papers.periods import BadPeriod, Period, iso_week, parse_day, parse_week

Kind = Literal["daily", "weekly"]
KINDS: tuple[Kind, ...] = ("daily", "weekly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_DAILY_DAYS = WEEKDAYS[:5]
# A daily list older than this is no longer sent as the day's digest by `send` without a
# date (an operator can still send it with --date).
DAILY_FRESH_DAYS = 3
_CHUNK = 500


@dataclass(frozen=True)
class Edition:
    id: int
    kind: Kind
    period: str  # 2026-12-02 (daily) | 2026-W49 (weekly)
    built_at: dt.datetime  # naive UTC
    paper_ids: tuple[int, ...]  # ranked, best first

    @property
    def dates(self) -> Period:
        return period_dates(self.kind, self.period)

    @property
    def path(self) -> str:
        """The edition's web page (also the mail's "view in browser" link)."""
        return f"/digest/{self.kind}/{self.period}"

    @property
    def title(self) -> str:
        if self.kind == "daily":
            day = self.dates.start
            return f"Daily papers, {day:%A} {day.day} {day:%B %Y}"
        dates = self.dates
        return f"Papers of the week {self.period} ({dates.start:%d %b} - {dates.end:%d %b %Y})"


def check_kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise BadPeriod(f"digest kind {kind[:20]!r} is not daily or weekly")
    return kind


def period_key(kind: Kind, day: dt.date) -> str:
    """The period of `kind` that holds `day`: the date, or its ISO week."""
    return day.isoformat() if kind == "daily" else iso_week(day)


def period_dates(kind: Kind, period: str) -> Period:
    """The days of a period key; BadPeriod for text that is not one."""
    if kind == "daily":
        day = parse_day(period)
        return Period(day, day)
    return parse_week(period)


def _edition(row: sa.Row[tuple[object, ...]] | sa.RowMapping) -> Edition:
    values = row._mapping if isinstance(row, sa.Row) else row
    return Edition(
        id=values["id"],
        kind=values["kind"],
        period=values["period"],
        built_at=values["built_at"],
        paper_ids=tuple(values["paper_ids"] or ()),
    )


class EditionService:
    def __init__(
        self,
        engine: sa.Engine,
        cards: CardService,
        *,
        reader: sa.Engine | None = None,
        clock: Clock = utcnow,
        daily_days: Sequence[str] = DEFAULT_DAILY_DAYS,
    ) -> None:
        self.engine = engine
        self.reader = reader or engine
        self.card_service = cards
        self.clock = clock
        self.daily_days = frozenset(d[:3].lower() for d in daily_days)

    # -- reading -------------------------------------------------------------------------------

    def get(self, kind: Kind, period: str) -> Edition | None:
        """The stored edition of a period (None: not built). BadPeriod for a bad key."""
        period_dates(kind, period)
        with self.reader.connect() as conn:
            row = conn.execute(
                sa.select(digest_editions).where(
                    digest_editions.c.kind == kind, digest_editions.c.period == period
                )
            ).first()
        return _edition(row) if row is not None else None

    def by_id(self, edition_id: int) -> Edition | None:
        with self.reader.connect() as conn:
            row = conn.execute(
                sa.select(digest_editions).where(digest_editions.c.id == edition_id)
            ).first()
        return _edition(row) if row is not None else None

    def recent(self, *, kind: Kind | None = None, limit: int = 30) -> list[Edition]:
        """Built editions, the newest period first."""
        query = sa.select(digest_editions).order_by(
            digest_editions.c.period.desc(), digest_editions.c.kind
        )
        if kind is not None:
            query = query.where(digest_editions.c.kind == kind)
        with self.reader.connect() as conn:
            return [_edition(row) for row in conn.execute(query.limit(limit))]

    def cards(self, edition: Edition) -> list[PaperCard]:
        """The edition's papers as cards, in its order (papers hidden since dropped)."""
        return self.card_service.cards(edition.paper_ids)

    # -- building ------------------------------------------------------------------------------

    def build(self, kind: Kind, period: str) -> Edition | None:
        """The edition of a period: the stored one, else built now and stored (None when
        the period has no papers: nothing is stored). Two processes building at once store
        one edition; both get it."""
        found = self.get(kind, period)
        if found is not None:
            return found
        now = self.clock()
        ranked = self.rank(kind, period, now=now)
        if not ranked:
            return None
        try:
            with self.engine.begin() as conn:
                edition_id = conn.execute(
                    digest_editions.insert()
                    .values(
                        kind=kind,
                        period=period,
                        built_at=now,
                        paper_ids=[pid for pid, _ in ranked],
                    )
                    .returning(digest_editions.c.id)
                ).scalar_one()
                conn.execute(
                    digest_edition_items.insert(),
                    [
                        {"edition_id": edition_id, "rank": n, "paper_id": pid, "score": score}
                        for n, (pid, score) in enumerate(ranked, start=1)
                    ],
                )
        except sa.exc.IntegrityError:
            pass  # built by another process meanwhile: theirs is the edition
        built = self.get(kind, period)
        assert built is not None
        return built

    def rank(
        self, kind: Kind, period: str, *, now: dt.datetime | None = None
    ) -> list[tuple[int, float]]:
        """(paper id, score) of the period's daily-list papers, best first (not stored)."""
        dates = period_dates(kind, period)
        now = now or self.clock()
        with self.reader.connect() as conn:
            rows = conn.execute(
                sa.select(
                    daily_papers.c.paper_id,
                    daily_papers.c.submitted_at,
                    daily_papers.c.upvotes,
                    daily_papers.c.num_comments,
                )
                .outerjoin(paper_moderation, paper_moderation.c.paper_id == daily_papers.c.paper_id)
                .where(
                    daily_papers.c.submitted_on.between(dates.start, dates.end),
                    paper_moderation.c.hidden_at.is_(None),
                )
            ).all()
            ids = [row.paper_id for row in rows]
            local_votes: dict[int, list[dt.datetime]] = defaultdict(list)
            local_comments: dict[int, list[dt.datetime]] = defaultdict(list)
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                for pid, at in conn.execute(
                    sa.select(votes.c.paper_id, votes.c.created_at).where(
                        votes.c.paper_id.in_(chunk), votes.c.created_at <= now
                    )
                ):
                    local_votes[pid].append(at)
                for pid, at in conn.execute(
                    sa.select(comments.c.paper_id, comments.c.created_at).where(
                        comments.c.paper_id.in_(chunk),
                        comments.c.hidden.is_(False),
                        comments.c.created_at <= now,
                    )
                ):
                    local_comments[pid].append(at)
        scored: list[tuple[float, dt.datetime, int]] = []
        for pid, submitted_at, upvotes, n_comments in rows:
            voted, commented = local_votes.get(pid, []), local_comments.get(pid, [])
            signals = [
                trending.Signal(
                    trending.SUBMISSION + upvotes * trending.UPVOTE + n_comments * trending.COMMENT,
                    submitted_at,
                ),
                *(trending.Signal(trending.UPVOTE, at) for at in voted),
                *(trending.Signal(trending.COMMENT, at) for at in commented),
            ]
            score = (
                (upvotes + len(voted)) * trending.UPVOTE
                + (n_comments + len(commented)) * trending.COMMENT
                + trending.trending_score(signals, now)
            )
            scored.append((score, submitted_at, pid))
        scored.sort(reverse=True)
        return [(pid, round(score, 6)) for score, _, pid in scored]

    # -- what is due ---------------------------------------------------------------------------

    def due_period(self, kind: Kind, today: dt.date) -> str | None:
        """The period whose edition goes out on `today` (a date in the digest time zone):
        daily, the latest daily list of the last DAILY_FRESH_DAYS days if its weekday is one
        of the daily days (weekdays by default); weekly, the ISO week before today's."""
        if kind == "weekly":
            return iso_week(today - dt.timedelta(days=7))
        with self.reader.connect() as conn:
            day = conn.execute(
                sa.select(sa.func.max(daily_papers.c.submitted_on)).where(
                    daily_papers.c.submitted_on <= today,
                    daily_papers.c.submitted_on > today - dt.timedelta(days=DAILY_FRESH_DAYS),
                )
            ).scalar()
        if not isinstance(day, dt.date) or not self.sends_daily_on(day):
            return None
        return day.isoformat()

    def sends_daily_on(self, day: dt.date) -> bool:
        return WEEKDAYS[day.weekday()] in self.daily_days
