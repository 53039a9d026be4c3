"""CommunityService: daily lists, trending, upvotes, comments, submissions and moderation.
The web pages, the API and the feeds all read and write through it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.accounts.service import User
from paperfeed.clock import utcnow
from paperfeed.community import trending
from paperfeed.community.cards import CardService, PaperCard, card_query, load_cards
from paperfeed.community.errors import (
    CommunityError,
    Forbidden,
    NotFound,
)
from paperfeed.community.markdown import MAX_COMMENT, render_comment
from paperfeed.db.schema import comments, daily_papers, paper_moderation, papers, users, votes
from paperfeed.papers.catalog import Catalog
from paperfeed.papers.ids import InvalidArxivId, parse_arxiv_id

MAX_PAPER_ID = 2**31 - 1
DAILY_MAX = 500  # a daily list longer than this is cut (HF's run at ~30-80)


@dataclass(frozen=True)
class Comment:
    id: int
    paper_id: int
    parent_id: int | None
    username: str
    fullname: str
    html: str  # rendered and sanitised
    created_at: dt.datetime
    hidden: bool


def parse_public_id(text: str) -> tuple[str | None, int | None]:
    """(arXiv id, None) or (None, catalog id) for the ids in URLs; raises NotFound."""
    text = text.strip()
    number = text[3:]
    # ASCII digits only (str.isdigit also takes "１２"), and within the 32-bit id column.
    if text.startswith("pf-") and number.isascii() and number.isdigit() and len(number) < 11:
        if int(number) <= MAX_PAPER_ID:
            return None, int(number)
        raise NotFound(f"paper {text[:80]} is not in the catalog")
    try:
        return parse_arxiv_id(text).canonical, None
    except InvalidArxivId:
        raise NotFound(f"{text[:80]!r} is not an arXiv id or paper id") from None


class CommunityService:
    def __init__(
        self,
        engine: sa.Engine,
        catalog: Catalog,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        reader: sa.Engine | None = None,
    ) -> None:
        self.engine = engine
        # Reads go through `reader`: on SQLite an engine that never takes the write lock.
        self.reader = reader or engine
        self.catalog = catalog
        self.clock = clock
        self.card_service = CardService(self.reader)

    # -- papers ----------------------------------------------------------------------------

    def resolve(self, public_id: str) -> int:
        arxiv_id, paper_id = parse_public_id(public_id)
        query = sa.select(papers.c.id)
        query = (
            query.where(papers.c.arxiv_id == arxiv_id)
            if arxiv_id
            else query.where(papers.c.id == paper_id)
        )
        with self.reader.connect() as conn:
            found = conn.execute(query).scalar()
        if found is None:
            raise NotFound(f"paper {public_id[:80]} is not in the catalog")
        return int(found)

    def card(
        self, paper_id: int, *, viewer: User | None = None, include_hidden: bool = False
    ) -> PaperCard:
        return self.card_service.card(paper_id, viewer=viewer, include_hidden=include_hidden)

    def cards(self, paper_ids: Sequence[int], *, viewer: User | None = None) -> list[PaperCard]:
        return self.card_service.cards(paper_ids, viewer=viewer)

    # -- daily lists -------------------------------------------------------------------------

    def daily(
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
            card_query()
            .where(daily_papers.c.submitted_on.between(start, end))
            .where(paper_moderation.c.hidden_at.is_(None))
            .order_by(*order)
            .limit(DAILY_MAX * max(1, (end - start).days + 1))
        )
        if submitter:
            query = query.where(daily_papers.c.submitted_by == submitter)
        with self.reader.connect() as conn:
            ids = [row.id for row in conn.execute(query)]
            cards = load_cards(conn, ids, viewer_id=viewer.id if viewer else None)
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

    def adjacent_daily_dates(self, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
        """The nearest earlier and later dates that have a daily list."""
        with self.reader.connect() as conn:
            before = conn.execute(
                sa.select(sa.func.max(daily_papers.c.submitted_on)).where(
                    daily_papers.c.submitted_on < day
                )
            ).scalar()
            after = conn.execute(
                sa.select(sa.func.min(daily_papers.c.submitted_on)).where(
                    daily_papers.c.submitted_on > day
                )
            ).scalar()
        return before, after

    # -- trending ----------------------------------------------------------------------------

    def trending(
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
        with self.reader.connect() as conn:
            cards = load_cards(
                conn,
                [pid for pid, _ in ranked[: limit * 2]],
                viewer_id=viewer.id if viewer else None,
            )
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

    # -- votes -------------------------------------------------------------------------------

    def upvote(self, user: User, paper_id: int, *, up: bool = True) -> PaperCard:
        """Cast (or with up=False withdraw) the user's upvote; idempotent."""
        self.card(paper_id)  # 404 for unknown or hidden papers
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(votes.c.paper_id).where(
                    votes.c.user_id == user.id, votes.c.paper_id == paper_id
                )
            ).first()
            if up and exists is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            votes.insert().values(
                                user_id=user.id, paper_id=paper_id, created_at=self.clock()
                            )
                        )
                except sa.exc.IntegrityError:  # a double click raced us: already counted
                    pass
            elif not up and exists is not None:
                conn.execute(
                    votes.delete().where(votes.c.user_id == user.id, votes.c.paper_id == paper_id)
                )
        return self.card(paper_id, viewer=user)

    # -- comments ----------------------------------------------------------------------------

    def comments(self, paper_id: int, *, include_hidden: bool = False) -> list[Comment]:
        query = (
            sa.select(comments, users.c.username, users.c.fullname)
            .join(users, users.c.id == comments.c.user_id)
            .where(comments.c.paper_id == paper_id)
            .order_by(comments.c.created_at, comments.c.id)
        )
        if not include_hidden:
            query = query.where(comments.c.hidden.is_(False))
        with self.reader.connect() as conn:
            rows = conn.execute(query.limit(1000)).mappings().all()
        return [
            Comment(
                id=r["id"],
                paper_id=r["paper_id"],
                parent_id=r["parent_id"],
                username=r["username"],
                fullname=r["fullname"],
                html=render_comment(r["body"]),
                created_at=r["created_at"],
                hidden=r["hidden"],
            )
            for r in rows
        ]

    def add_comment(
        self, user: User, paper_id: int, body: str, *, parent_id: int | None = None
    ) -> int:
        body = body.replace("\r\n", "\n").strip()
        if not body:
            raise CommunityError("write something first: the comment is empty")
        if len(body) > MAX_COMMENT:
            raise CommunityError(f"a comment has at most {MAX_COMMENT} characters")
        self.card(paper_id)
        with self.engine.begin() as conn:
            if parent_id is not None:
                parent = conn.execute(
                    sa.select(comments.c.paper_id).where(comments.c.id == parent_id)
                ).scalar()
                if parent != paper_id:
                    raise CommunityError("the comment you reply to is not on this paper")
            new_id = conn.execute(
                comments.insert()
                .values(
                    paper_id=paper_id,
                    user_id=user.id,
                    parent_id=parent_id,
                    body=body,
                    created_at=self.clock(),
                )
                .returning(comments.c.id)
            ).scalar_one()
        return int(new_id)

    # -- moderation --------------------------------------------------------------------------

    def set_paper_hidden(self, admin: User, paper_id: int, hidden: bool) -> None:
        self._require_admin(admin)
        with self.engine.begin() as conn:
            conn.execute(paper_moderation.delete().where(paper_moderation.c.paper_id == paper_id))
            if hidden:
                conn.execute(
                    paper_moderation.insert().values(
                        paper_id=paper_id, hidden_by=admin.id, hidden_at=self.clock()
                    )
                )

    def set_comment_hidden(self, admin: User, comment_id: int, hidden: bool) -> int:
        """Hide or show a comment; returns its paper's id."""
        self._require_admin(admin)
        with self.engine.begin() as conn:
            paper_id = conn.execute(
                sa.select(comments.c.paper_id).where(comments.c.id == comment_id)
            ).scalar()
            if paper_id is None:
                raise NotFound("comment not found")
            conn.execute(comments.update().where(comments.c.id == comment_id).values(hidden=hidden))
        return int(paper_id)

    @staticmethod
    def _require_admin(user: User) -> None:
        if not user.is_admin:
            raise Forbidden("only an admin can do that")
