"""DiscussionService: upvotes and comments on papers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.accounts.service import User
from paperfeed.clock import Clock, utcnow
from paperfeed.community.cards import CardService, PaperCard
from paperfeed.community.errors import CommunityError
from paperfeed.community.markdown import MAX_COMMENT, render_comment
from paperfeed.db.schema import comments, users, votes


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


class DiscussionService:
    def __init__(
        self,
        engine: sa.Engine,
        cards: CardService,
        *,
        clock: Clock = utcnow,
        reader: sa.Engine | None = None,
    ) -> None:
        self.engine = engine
        # Reads go through `reader`: on SQLite an engine that never takes the write lock.
        self.reader = reader or engine
        self.cards = cards
        self.clock = clock

    def upvote(self, user: User, paper_id: int, *, up: bool = True) -> PaperCard:
        """Cast (or with up=False withdraw) the user's upvote; idempotent."""
        self.cards.card(paper_id)  # 404 for unknown or hidden papers
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
        return self.cards.card(paper_id, viewer=user)

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
        self.cards.card(paper_id)
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
