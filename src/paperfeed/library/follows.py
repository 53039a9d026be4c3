"""FollowService: what a reader follows (authors, categories, saved searches with their
filters), the newest papers each follow finds, and the secret token in the URLs of the
reader's private feeds.

A follow finds its papers with the services every page uses: an author's with
CardService.by_author (the author's page), a category's and a search's with CardService.search
(the search page, newest first), so a follow's feed lists what those pages list."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlencode

import sqlalchemy as sa

from paperfeed.accounts.service import User
from paperfeed.clock import Clock, utcnow
from paperfeed.community.cards import CardService, PaperCard
from paperfeed.community.errors import CommunityError, NotFound
from paperfeed.db.schema import feed_tokens, follows
from paperfeed.papers.authors import MAX_NAME, author_key, author_path
from paperfeed.papers.categories import is_known_category
from paperfeed.papers.periods import BadPeriod, parse_day
from paperfeed.search.service import SearchService

FollowKind = Literal["author", "category", "search"]
KINDS: tuple[FollowKind, ...] = ("author", "category", "search")
MAX_QUERY = 2000
MAX_FOLLOWS = 500  # per reader
FEED_PAPERS = 50


@dataclass(frozen=True)
class Follow:
    id: int
    user_id: int
    kind: FollowKind
    value: str  # the author's name, the category, or the query text
    filters: dict[str, str] = field(default_factory=dict)  # a search's cat, since, until
    created_at: dt.datetime | None = None

    @property
    def label(self) -> str:
        if self.kind == "author":
            return f"author {self.value}"
        if self.kind == "category":
            return f"category {self.value}"
        extra = ", ".join(f"{k}:{v}" for k, v in self.filters.items())
        text = repr(self.value) if self.value else "all papers"
        return f"search {text}" + (f" ({extra})" if extra else "")

    @property
    def page(self) -> str:
        """The page that lists the same papers (the author's page, or the search page)."""
        if self.kind == "author":
            return author_path(self.value)
        if self.kind == "category":
            return "/search?" + urlencode({"cat": self.value, "sort": "date"})
        return "/search?" + urlencode({"q": self.value, **self.filters, "sort": "date"})


def _clean_filters(filters: dict[str, str] | None) -> dict[str, str]:
    """A search's filters as the search page takes them (cat, since, until), checked."""
    kept: dict[str, str] = {}
    for name, value in (filters or {}).items():
        value = (value or "").strip()
        if not value:
            continue
        if name == "cat":
            if not is_known_category(value):
                raise CommunityError(f"{value!r} is not an arXiv category")
        elif name in ("since", "until"):
            try:
                parse_day(value)
            except BadPeriod as exc:
                raise CommunityError(str(exc)) from None
        else:
            raise CommunityError(f"a search follow has no filter {name!r} (cat, since, until)")
        kept[name] = value
    return {k: kept[k] for k in ("cat", "since", "until") if k in kept}


def checked_follow(
    kind: str, value: str, filters: dict[str, str] | None = None
) -> tuple[FollowKind, str, dict[str, str]]:
    """A follow's kind, value and filters as stored; CommunityError says what is wrong."""
    value = " ".join(value.replace("\x00", "").split())
    if kind == "author":
        if len(value) > MAX_NAME:
            raise CommunityError(f"an author's name has at most {MAX_NAME} characters")
        if not author_key(value):
            raise NotFound(f"no author is named {value!r}: a name has letters or digits")
        return "author", value, {}
    if kind == "category":
        if not is_known_category(value):
            raise CommunityError(f"{value!r} is not an arXiv category (such as cs.LG, or cs)")
        return "category", value, {}
    if kind == "search":
        if len(value) > MAX_QUERY:
            raise CommunityError(f"a search has at most {MAX_QUERY} characters")
        kept = _clean_filters(filters)
        if not value and "cat" not in kept:
            raise CommunityError("a search to follow needs words or a category")
        return "search", value, kept
    raise CommunityError(f"one follows an {', a '.join(KINDS)}")


def _key(kind: str, value: str, filters: dict[str, str]) -> str:
    text = json.dumps(
        [kind, value.casefold() if kind == "author" else value, filters], sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _follow(row: sa.Row[tuple[object, ...]] | sa.RowMapping) -> Follow:
    m = row._mapping if isinstance(row, sa.Row) else row
    return Follow(
        m["id"], m["user_id"], m["kind"], m["value"], dict(m["filters"] or {}), m["created_at"]
    )


class FollowService:
    def __init__(
        self,
        engine: sa.Engine,
        cards: CardService,
        *,
        reader: sa.Engine | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.reader = reader or engine
        self.cards = cards
        self.clock = clock

    def follows(self, user: User) -> list[Follow]:
        """The reader's follows, oldest first."""
        return self.follows_of([user.id])[user.id]

    def follows_of(self, user_ids: Sequence[int]) -> dict[int, list[Follow]]:
        """Several readers' follows (by user id), each reader's oldest first, in one query
        (a digest run's batch of readers)."""
        wanted = sorted(set(user_ids))
        out: dict[int, list[Follow]] = {uid: [] for uid in wanted}
        if not wanted:
            return out
        query = (
            sa.select(follows)
            .where(follows.c.user_id.in_(sa.bindparam("ids", expanding=True)))
            .order_by(follows.c.user_id, follows.c.created_at, follows.c.id)
        )
        with self.reader.connect() as conn:
            for row in conn.execute(query, {"ids": wanted}).mappings():
                out[row["user_id"]].append(_follow(row))
        return out

    def get(self, user: User, follow_id: int) -> Follow:
        """One of the reader's follows; NotFound for anyone else's."""
        return self._get(user.id, follow_id)

    def _get(self, user_id: int, follow_id: int) -> Follow:
        query = sa.select(follows).where(follows.c.id == follow_id, follows.c.user_id == user_id)
        with self.reader.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound("no such follow")
        return _follow(row)

    def follow(
        self, user: User, kind: str, value: str, filters: dict[str, str] | None = None
    ) -> tuple[Follow, bool]:
        """Follows an author, a category or a search (idempotent); the follow and whether it
        is new."""
        kind_, value, kept = checked_follow(kind, value, filters)
        key = _key(kind_, value, kept)
        try:
            return self._add(user, kind_, value, kept, key)
        except sa.exc.IntegrityError:  # the same follow, made by a request racing this one
            return self._get(user.id, self._id_of(user, key)), False

    def _id_of(self, user: User, key: str) -> int:
        with self.reader.connect() as conn:
            return int(
                conn.execute(
                    sa.select(follows.c.id).where(
                        follows.c.user_id == user.id, follows.c.key == key
                    )
                ).scalar_one()
            )

    def _add(
        self, user: User, kind_: FollowKind, value: str, kept: dict[str, str], key: str
    ) -> tuple[Follow, bool]:
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(follows.c.id).where(follows.c.user_id == user.id, follows.c.key == key)
            ).scalar()
            if found is not None:
                return self._get(user.id, int(found)), False
            count = conn.execute(
                sa.select(sa.func.count()).where(follows.c.user_id == user.id)
            ).scalar_one()
            if count >= MAX_FOLLOWS:
                raise CommunityError(f"a reader follows at most {MAX_FOLLOWS} things")
            if (
                count == 0
                and not conn.execute(
                    sa.select(feed_tokens.c.user_id).where(feed_tokens.c.user_id == user.id)
                ).first()
            ):
                # The first follow turns the private feeds on (revoking turns them off).
                conn.execute(
                    feed_tokens.insert().values(
                        user_id=user.id, token=secrets.token_urlsafe(24), created_at=self.clock()
                    )
                )
            new_id = conn.execute(
                follows.insert()
                .values(
                    user_id=user.id,
                    kind=kind_,
                    value=value,
                    filters=kept,
                    key=key,
                    created_at=self.clock(),
                )
                .returning(follows.c.id)
            ).scalar_one()
        return self._get(user.id, int(new_id)), True

    def unfollow(self, user: User, follow_id: int) -> Follow:
        found = self.get(user, follow_id)
        with self.engine.begin() as conn:
            conn.execute(
                follows.delete().where(follows.c.id == follow_id, follows.c.user_id == user.id)
            )
        return found

    def following(self, user: User, kind: str, value: str) -> Follow | None:
        """The reader's follow of this author or category (or query without filters)."""
        try:
            kind_, value, kept = checked_follow(kind, value)
        except CommunityError:
            return None
        query = sa.select(follows).where(
            follows.c.user_id == user.id, follows.c.key == _key(kind_, value, kept)
        )
        with self.reader.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _follow(row) if row else None

    # -- the papers a follow finds ---------------------------------------------------------------

    def papers(
        self,
        follow: Follow,
        search: SearchService,
        *,
        limit: int = FEED_PAPERS,
        viewer: User | None = None,
    ) -> list[PaperCard]:
        """The newest papers the follow finds (its author's page, or its search by date)."""
        if follow.kind == "author":
            found, _ = self.cards.by_author(search, follow.value, limit=limit, viewer=viewer)
            return found
        filters = follow.filters if follow.kind == "search" else {"cat": follow.value}
        text = follow.value if follow.kind == "search" else ""
        results = self.cards.search(
            search,
            text,
            viewer=viewer,
            limit=limit,
            sort="date",
            categories=[filters["cat"]] if "cat" in filters else [],
            since=parse_day(filters["since"]) if "since" in filters else None,
            until=parse_day(filters["until"]) if "until" in filters else None,
        )
        return results.cards

    def all_papers(
        self, chosen: Sequence[Follow], search: SearchService, *, limit: int = FEED_PAPERS
    ) -> list[PaperCard]:
        """The newest papers of these follows together (newest first)."""
        cards: dict[int, PaperCard] = {}
        for follow in chosen:
            for card in self.papers(follow, search, limit=limit):
                cards.setdefault(card.paper_id, card)
        newest = sorted(
            cards.values(),
            key=lambda c: c.submitted_at or c.first_seen_at,
            reverse=True,
        )
        return newest[:limit]

    # -- the secret feed token ---------------------------------------------------------------------

    def feed_token(self, user: User) -> str | None:
        """The token of the reader's private feed URLs; None while they are off (never
        turned on, or revoked)."""
        with self.reader.connect() as conn:
            token: str | None = conn.execute(
                sa.select(feed_tokens.c.token).where(feed_tokens.c.user_id == user.id)
            ).scalar()
        return token

    def regenerate_feed_token(self, user: User) -> str:
        """A new token: the old URLs stop working (404)."""
        token = secrets.token_urlsafe(24)
        with self.engine.begin() as conn:
            conn.execute(feed_tokens.delete().where(feed_tokens.c.user_id == user.id))
            conn.execute(
                feed_tokens.insert().values(user_id=user.id, token=token, created_at=self.clock())
            )
        return token

    def revoke_feed_token(self, user: User) -> None:
        """No private feed URL of the reader works until a new token is made."""
        with self.engine.begin() as conn:
            conn.execute(feed_tokens.delete().where(feed_tokens.c.user_id == user.id))

    def token_owner(self, token: str) -> int:
        """The reader whose feed token this is; NotFound for a wrong or revoked one."""
        if not token or len(token) > 64:
            raise NotFound("no such feed")
        with self.reader.connect() as conn:
            user_id = conn.execute(
                sa.select(feed_tokens.c.user_id).where(feed_tokens.c.token == token)
            ).scalar()
        if user_id is None:
            raise NotFound("no such feed")
        return int(user_id)

    def feed_follow(self, token: str, follow_id: int) -> Follow:
        """The follow a private feed URL names; NotFound unless the token is its reader's."""
        return self._get(self.token_owner(token), follow_id)

    def feed_follows(self, token: str) -> list[Follow]:
        user_id = self.token_owner(token)
        query = (
            sa.select(follows)
            .where(follows.c.user_id == user_id)
            .order_by(follows.c.created_at, follows.c.id)
        )
        with self.reader.connect() as conn:
            return [_follow(row) for row in conn.execute(query).mappings()]
