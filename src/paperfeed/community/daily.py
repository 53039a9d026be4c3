"""DailyService: the daily lists (papers submitted for a day), by upvotes or newest first,
and which days have one."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from paperfeed.accounts.service import User
from paperfeed.clock import Clock, utcnow
from paperfeed.community.cards import CardService, PaperCard
from paperfeed.db.schema import daily_papers, paper_moderation, papers, votes

DAILY_MAX = 500  # a daily list longer than this is cut (HF's run at ~30-80)


class DailyService:
    def __init__(self, reader: sa.Engine, cards: CardService, *, clock: Clock = utcnow) -> None:
        self.reader = reader
        self.cards = cards
        self.clock = clock

    def papers(
        self,
        start: dt.date,
        end: dt.date | None = None,
        *,
        viewer: User | None = None,
        sort: str = "upvotes",
        submitter: str | None = None,
    ) -> list[PaperCard]:
        """Papers that entered the daily list from `start` to `end` (inclusive), by upvotes
        (or, with sort="date", newest submission first)."""
        end = end or start
        # The cut keeps the best of a long list: rank in SQL the way the cards are ranked.
        local_votes = (
            sa.select(sa.func.count())
            .select_from(votes)
            .where(votes.c.paper_id == papers.c.id)
            .scalar_subquery()
        )
        newest = (daily_papers.c.submitted_at.desc(), papers.c.id.desc())
        order = (
            newest if sort == "date" else ((daily_papers.c.upvotes + local_votes).desc(), *newest)
        )
        query = (
            sa.select(papers.c.id)
            .select_from(papers)
            .join(daily_papers, daily_papers.c.paper_id == papers.c.id)
            .outerjoin(paper_moderation, paper_moderation.c.paper_id == papers.c.id)
            .where(daily_papers.c.submitted_on.between(start, end))
            .where(paper_moderation.c.hidden_at.is_(None))
            .order_by(*order)
            .limit(DAILY_MAX * max(1, (end - start).days + 1))
        )
        if submitter:
            query = query.where(daily_papers.c.submitted_by == submitter)
        with self.reader.connect() as conn:
            ids = list(conn.execute(query).scalars())
        cards = self.cards.cards(ids, viewer=viewer)
        if sort == "date":
            cards.sort(key=lambda c: (c.daily_at or dt.datetime.min, c.paper_id), reverse=True)
        else:
            cards.sort(
                key=lambda c: (c.upvotes, c.daily_at or dt.datetime.min, c.paper_id), reverse=True
            )
        return cards

    def latest_daily_date(self) -> dt.date | None:
        with self.reader.connect() as conn:
            found = conn.execute(sa.select(sa.func.max(daily_papers.c.submitted_on))).scalar()
        return found if isinstance(found, dt.date) else None

    def latest_or_today(self) -> dt.date:
        """The day of the latest daily list, or today (by the clock) when there is none: the
        list that the home page, the daily feed and the daily APIs show by default."""
        return self.latest_daily_date() or self.clock().date()

    def adjacent_daily_dates(
        self, start: dt.date, end: dt.date | None = None
    ) -> tuple[dt.date | None, dt.date | None]:
        """The nearest dates with a daily list before `start` and after `end` (default:
        `start`): where the previous and next day, week or month with papers lie."""
        end = end or start
        with self.reader.connect() as conn:
            before = conn.execute(
                sa.select(sa.func.max(daily_papers.c.submitted_on)).where(
                    daily_papers.c.submitted_on < start
                )
            ).scalar()
            after = conn.execute(
                sa.select(sa.func.min(daily_papers.c.submitted_on)).where(
                    daily_papers.c.submitted_on > end
                )
            ).scalar()
        return before, after
