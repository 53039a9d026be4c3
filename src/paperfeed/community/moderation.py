"""ModerationService: admins hide (and show again) papers and comments."""

from __future__ import annotations

import sqlalchemy as sa

from paperfeed.accounts.service import User
from paperfeed.clock import Clock, utcnow
from paperfeed.community.errors import Forbidden, NotFound
from paperfeed.db.schema import comments, paper_moderation


class ModerationService:
    def __init__(self, engine: sa.Engine, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock

    def set_paper_hidden(self, admin: User, paper_id: int, hidden: bool) -> None:
        _require_admin(admin)
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
        _require_admin(admin)
        with self.engine.begin() as conn:
            paper_id = conn.execute(
                sa.select(comments.c.paper_id).where(comments.c.id == comment_id)
            ).scalar()
            if paper_id is None:
                raise NotFound("comment not found")
            conn.execute(comments.update().where(comments.c.id == comment_id).values(hidden=hidden))
        return int(paper_id)


def _require_admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("only an admin can do that")
