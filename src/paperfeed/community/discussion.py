"""DiscussionService: upvotes and comments on papers: replies, and their authors' edits and
deletions.

A deleted comment is removed; the replies to it stay, attached to the comment it answered
(or at the top of the discussion). Closing an account deletes its comments the same way."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.accounts.service import User
from paperfeed.clock import Clock, utcnow
from paperfeed.community.cards import CardService, PaperCard
from paperfeed.community.errors import CommunityError, Forbidden, NotFound
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
    user_id: int = 0
    body: str = ""  # the Markdown source (its author's edit form starts from it)
    edited_at: dt.datetime | None = None

    def by(self, user: User | None) -> bool:
        """Whether `user` wrote it (and so may edit or delete it)."""
        return user is not None and user.id == self.user_id


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
                user_id=r["user_id"],
                body=r["body"],
                edited_at=r["edited_at"],
            )
            for r in rows
        ]

    def add_comment(
        self, user: User, paper_id: int, body: str, *, parent_id: int | None = None
    ) -> int:
        body = _checked_body(body)
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

    def edit_comment(self, user: User, comment_id: int, body: str) -> int:
        """Its author's new text for a comment (marked edited, with the time); the paper's id."""
        body = _checked_body(body)
        with self.engine.begin() as conn:
            paper_id = _own_comment(conn, user, comment_id)
            conn.execute(
                comments.update()
                .where(comments.c.id == comment_id)
                .values(body=body, edited_at=self.clock())
            )
        return paper_id

    def delete_comment(self, user: User, comment_id: int) -> int:
        """Its author deletes a comment (replies to it stay); the paper's id."""
        with self.engine.begin() as conn:
            paper_id = _own_comment(conn, user, comment_id)
            remove_comments(conn, comments.c.id == comment_id)
        return paper_id


def _checked_body(body: str) -> str:
    body = body.replace("\r\n", "\n").strip()
    if not body:
        raise CommunityError("write something first: the comment is empty")
    if len(body) > MAX_COMMENT:
        raise CommunityError(f"a comment has at most {MAX_COMMENT} characters")
    return body


def _own_comment(conn: sa.Connection, user: User, comment_id: int) -> int:
    """The paper of a comment `user` wrote; NotFound or Forbidden otherwise."""
    row = conn.execute(
        sa.select(comments.c.paper_id, comments.c.user_id).where(comments.c.id == comment_id)
    ).first()
    if row is None:
        raise NotFound("comment not found")
    if row.user_id != user.id:
        raise Forbidden("only its author can change or delete a comment")
    return int(row.paper_id)


def remove_comments(conn: sa.Connection, which: sa.ColumnElement[bool]) -> int:
    """Deletes the comments `which` selects; each reply to one of them moves up to the
    nearest comment it answered that stays (or to the top). How many were deleted."""
    doomed = {
        row.id: row.parent_id
        for row in conn.execute(sa.select(comments.c.id, comments.c.parent_id).where(which))
    }
    if not doomed:
        return 0

    def kept_ancestor(parent: int | None) -> int | None:
        while parent in doomed:
            parent = doomed[parent]
        return parent

    chosen = sa.select(comments.c.id).where(which).correlate(None)
    replies = conn.execute(
        sa.select(comments.c.id, comments.c.parent_id).where(
            comments.c.parent_id.in_(chosen), comments.c.id.not_in(chosen)
        )
    ).all()
    for reply in replies:
        conn.execute(
            comments.update()
            .where(comments.c.id == reply.id)
            .values(parent_id=kept_ancestor(reply.parent_id))
        )
    conn.execute(comments.delete().where(which))
    return len(doomed)
