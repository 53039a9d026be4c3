"""MemberService: what an account did in the community, as its owner takes it away (a JSON
download) or closes the account.

Closing an account (its password asked again) deletes its votes (the papers' counts drop),
its library (collections, notes, marks, follows: library/account.py),
its comments (replies by others stay, see discussion.remove_comments), its API tokens,
sessions and pending links; papers it submitted stay on their daily lists without its name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from paperfeed.accounts.service import AccountError, AccountService, User
from paperfeed.clock import Clock, utcnow
from paperfeed.community.discussion import remove_comments
from paperfeed.db.schema import comments, daily_papers, papers, users, votes
from paperfeed.library.account import library_export
from paperfeed.papers.ids import public_id
from paperfeed.recommend.foryou import impressions_export

EXPORT_FORMAT = "paperfeed-account-export/1"


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


class MemberService:
    def __init__(
        self,
        engine: sa.Engine,
        accounts: AccountService,
        *,
        reader: sa.Engine | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.reader = reader or engine
        self.accounts = accounts
        self.clock = clock

    def export(self, user: User) -> dict[str, Any]:
        """Everything the account holds, as JSON-ready data (no secrets: API tokens and
        the password appear only as what the account page shows of them)."""
        paper = sa.select(papers.c.id, papers.c.arxiv_id, papers.c.title).subquery()
        with self.reader.connect() as conn:
            account = conn.execute(sa.select(users).where(users.c.id == user.id)).mappings().one()
            voted = conn.execute(
                sa.select(paper, votes.c.created_at)
                .join(votes, votes.c.paper_id == paper.c.id)
                .where(votes.c.user_id == user.id)
                .order_by(votes.c.created_at, paper.c.id)
            ).all()
            written = conn.execute(
                sa.select(
                    paper,
                    comments.c.id.label("comment_id"),
                    comments.c.parent_id,
                    comments.c.body,
                    comments.c.created_at,
                    comments.c.edited_at,
                    comments.c.hidden,
                )
                .join(comments, comments.c.paper_id == paper.c.id)
                .where(comments.c.user_id == user.id)
                .order_by(comments.c.created_at, comments.c.id)
            ).mappings()
            wrote = [
                {
                    "id": row["comment_id"],
                    "paper": public_id(row["arxiv_id"], row["id"]),
                    "paper_title": row["title"],
                    "reply_to": row["parent_id"],
                    "body": row["body"],
                    "created_at": _iso(row["created_at"]),
                    "edited_at": _iso(row["edited_at"]),
                    "hidden_by_moderator": row["hidden"],
                }
                for row in written
            ]
            submitted = conn.execute(
                sa.select(paper, daily_papers.c.submitted_on, daily_papers.c.submitted_at)
                .join(daily_papers, daily_papers.c.paper_id == paper.c.id)
                .where(*self._submissions(user))
                .order_by(daily_papers.c.submitted_at)
            ).all()
            library = library_export(conn, user.id)
            recommended = impressions_export(conn, user.id)
        return {
            "format": EXPORT_FORMAT,
            "exported_at": _iso(self.clock()),
            "account": {
                "username": account["username"],
                "email": account["email"],
                "fullname": account["fullname"],
                "role": account["role"],
                "created_at": _iso(account["created_at"]),
                "email_confirmed_at": _iso(account["email_confirmed_at"]),
            },
            "api_tokens": [
                {
                    "key": t.key,
                    "name": t.name,
                    "created_at": _iso(t.created_at),
                    "expires_at": _iso(t.expires_at),
                    "last_used_at": _iso(t.last_used_at),
                }
                for t in self.accounts.api_tokens(user)
            ],
            "upvotes": [
                {
                    "paper": public_id(r.arxiv_id, r.id),
                    "title": r.title,
                    "at": _iso(r.created_at),
                }
                for r in voted
            ],
            "comments": wrote,
            "submissions": [
                {
                    "paper": public_id(r.arxiv_id, r.id),
                    "title": r.title,
                    "daily_list": _iso(r.submitted_on),
                    "at": _iso(r.submitted_at),
                }
                for r in submitted
            ],
            # collections with notes, read and "not interested" marks, follows
            "library": library,
            # papers recommended on "For you" (the page, the API) or in a personal digest
            "recommended": recommended,
        }

    @staticmethod
    def _submissions(user: User) -> tuple[sa.ColumnElement[bool], ...]:
        return (daily_papers.c.source == "paperfeed", daily_papers.c.submitted_by == user.username)

    def close(self, user: User, password: str) -> None:
        """Deletes the account and what it did (see the module's docstring)."""
        if not self.accounts.check_password(user, password):
            raise AccountError("the password is wrong: the account is not deleted")
        with self.engine.begin() as conn:
            remove_comments(conn, comments.c.user_id == user.id)
            conn.execute(
                daily_papers.update()
                .where(*self._submissions(user))
                .values(submitted_by=None, updated_at=self.clock())
            )
            self.accounts.delete_user(conn, user)  # votes, tokens, sessions: ON DELETE CASCADE
