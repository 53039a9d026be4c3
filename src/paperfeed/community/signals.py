"""TrendingService: the trending ranking from the community signals in the database
(submissions, upvotes, comments), scored by the pure formula in community/trending.py."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import sqlalchemy as sa

from paperfeed.accounts.service import User
from paperfeed.clock import Clock, utcnow
from paperfeed.community import trending
from paperfeed.community.cards import CardService, PaperCard
from paperfeed.db.schema import comments, daily_papers, paper_moderation, votes


class TrendingService:
    def __init__(self, reader: sa.Engine, cards: CardService, *, clock: Clock = utcnow) -> None:
        self.reader = reader
        self.cards = cards
        self.clock = clock

    def ranked(
        self, *, limit: int = 30, viewer: User | None = None, now: dt.datetime | None = None
    ) -> tuple[list[tuple[PaperCard, float]], dt.datetime]:
        """Trending papers and the moment the ranking was taken at. When nothing happened in
        the last week (an offline catalog imported from files), the ranking is taken at the
        latest community activity instead, so the page still shows the last trend."""
        now = now or self.clock()
        ranked = self._trending_at(now)
        if not ranked:
            latest = self._latest_activity()
            if latest is not None and latest < now - dt.timedelta(days=trending.WINDOW_DAYS):
                now = latest
                ranked = self._trending_at(now)
        cards = self.cards.cards([pid for pid, _ in ranked[: limit * 2]], viewer=viewer)
        scores = dict(ranked)
        return [(card, scores[card.paper_id]) for card in cards[:limit]], now

    def _latest_activity(self) -> dt.datetime | None:
        with self.reader.connect() as conn:
            stamps = [
                conn.execute(sa.select(sa.func.max(daily_papers.c.submitted_at))).scalar(),
                conn.execute(sa.select(sa.func.max(votes.c.created_at))).scalar(),
                conn.execute(sa.select(sa.func.max(comments.c.created_at))).scalar(),
            ]
        known = [s for s in stamps if isinstance(s, dt.datetime)]
        return max(known) if known else None

    def _trending_at(self, now: dt.datetime) -> list[tuple[int, float]]:
        start = now - dt.timedelta(days=trending.WINDOW_DAYS)
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
            hidden = {
                pid
                for (pid,) in conn.execute(
                    sa.select(paper_moderation.c.paper_id).where(
                        paper_moderation.c.paper_id.in_(list(signals) or [-1])
                    )
                )
            }
        return trending.rank({p: s for p, s in signals.items() if p not in hidden}, now)
