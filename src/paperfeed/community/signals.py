"""TrendingService: the trending ranking from the community signals in the database
(submissions, upvotes, comments), scored by the pure formula in community/trending.py."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.accounts.service import User
from paperfeed.clock import Clock, utcnow
from paperfeed.community import trending
from paperfeed.community.cards import CardService, PaperCard
from paperfeed.db.schema import comments, daily_papers, paper_moderation, votes


@dataclass
class Trend:
    papers: list[tuple[PaperCard, float]]  # best first, with their scores
    taken_at: dt.datetime  # the moment the decay is computed at
    window: trending.Window  # the days ranked (wider than a week when it was quiet)


class TrendingService:
    def __init__(self, reader: sa.Engine, cards: CardService, *, clock: Clock = utcnow) -> None:
        self.reader = reader
        self.cards = cards
        self.clock = clock

    def trend(
        self, *, limit: int = 30, viewer: User | None = None, now: dt.datetime | None = None
    ) -> Trend:
        """Trending papers at `now` (default: the clock), in the window that community/trending.py
        chooses: the last week, or a wider one when fewer than MIN_PAPERS papers had activity."""
        now = now or self.clock()
        window, ranked = trending.trend(
            lambda start: self._signals(start, now), now, self._oldest_activity()
        )
        cards = self.cards.cards([pid for pid, _ in ranked[:limit]], viewer=viewer)
        scores = dict(ranked)
        return Trend([(card, scores[card.paper_id]) for card in cards], now, window)

    def ranked(
        self, *, limit: int = 30, viewer: User | None = None, now: dt.datetime | None = None
    ) -> tuple[list[tuple[PaperCard, float]], dt.datetime]:
        """`trend()`'s papers with their scores, and the moment the ranking was taken at."""
        found = self.trend(limit=limit, viewer=viewer, now=now)
        return found.papers, found.taken_at

    def _oldest_activity(self) -> dt.datetime | None:
        with self.reader.connect() as conn:
            stamps = [
                conn.execute(sa.select(sa.func.min(daily_papers.c.submitted_at))).scalar(),
                conn.execute(sa.select(sa.func.min(votes.c.created_at))).scalar(),
                conn.execute(sa.select(sa.func.min(comments.c.created_at))).scalar(),
            ]
        known = [s for s in stamps if isinstance(s, dt.datetime)]
        return min(known) if known else None

    def _signals(self, start: dt.datetime, now: dt.datetime) -> dict[int, list[trending.Signal]]:
        """Each visible paper's signals from `start` on."""
        # Signals dated a little after `now` (clock skew between nodes) count as now.
        end = now + trending.MAX_CLOCK_SKEW
        signals: dict[int, list[trending.Signal]] = defaultdict(list)
        with self.reader.connect() as conn:
            for pid, at, upvotes, n_comments in conn.execute(
                sa.select(
                    daily_papers.c.paper_id,
                    daily_papers.c.submitted_at,
                    daily_papers.c.upvotes,
                    daily_papers.c.num_comments,
                ).where(daily_papers.c.submitted_at.between(start, end))
            ):
                imported = (
                    trending.SUBMISSION + upvotes * trending.UPVOTE + n_comments * trending.COMMENT
                )
                signals[pid].append(trending.Signal(imported, at))
            for pid, at in conn.execute(
                sa.select(votes.c.paper_id, votes.c.created_at).where(
                    votes.c.created_at.between(start, end)
                )
            ):
                signals[pid].append(trending.Signal(trending.UPVOTE, at))
            for pid, at in conn.execute(
                sa.select(comments.c.paper_id, comments.c.created_at).where(
                    comments.c.created_at.between(start, end), comments.c.hidden.is_(False)
                )
            ):
                signals[pid].append(trending.Signal(trending.COMMENT, at))
            # (few rows: the table holds only papers a moderator hid)
            hidden = set(conn.execute(sa.select(paper_moderation.c.paper_id)).scalars())
        return {p: s for p, s in signals.items() if p not in hidden}
