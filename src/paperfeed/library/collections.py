"""LibraryService: a reader's collections (name, description, public or private) of saved
papers with notes, and their marks on papers ("read", "not interested").

Everything here is its owner's alone: another reader (or an anonymous visitor) asking for a
private collection gets NotFound, exactly as for one that does not exist. A public
collection can be read by anyone (its page, its feed, its export), changed only by its
owner."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from paperfeed.accounts.service import User
from paperfeed.clock import Clock, utcnow
from paperfeed.community.cards import CardService, PaperCard
from paperfeed.community.errors import CommunityError, Duplicate, NotFound
from paperfeed.db.schema import (
    collection_items,
    collections,
    paper_marks,
    paper_moderation,
    users,
)

MAX_NAME = 200
MAX_DESCRIPTION = 5_000
MAX_NOTE = 10_000
MAX_COLLECTIONS = 500  # per reader
DEFAULT_COLLECTION = "Reading list"
MarkKind = Literal["read", "dismissed"]
MARKS: tuple[MarkKind, ...] = ("read", "dismissed")
_NUL = re.compile("\x00")


def clean_name(text: str) -> str:
    """A collection's name as stored: one line, spaces collapsed, no NUL; LibraryError when
    nothing is left."""
    name = " ".join(_NUL.sub("", text).split())
    if not name:
        raise CommunityError("a collection needs a name")
    if len(name) > MAX_NAME:
        raise CommunityError(f"a collection's name has at most {MAX_NAME} characters")
    return name


def clean_text(text: str, limit: int, what: str) -> str:
    """Free text (a note, a description) as stored: NUL characters dropped (PostgreSQL
    cannot store them), ends trimmed."""
    cleaned = _NUL.sub("", text).strip()
    if len(cleaned) > limit:
        raise CommunityError(f"{what} has at most {limit:,} characters")
    return cleaned


@dataclass(frozen=True)
class Collection:
    id: int
    user_id: int
    owner: str  # the owner's username (shown on a public collection's page)
    name: str
    description: str
    public: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    size: int = 0  # papers in it (hidden ones not counted)

    @property
    def path(self) -> str:
        return f"/collections/{self.id}"

    def owned_by(self, user: User | None) -> bool:
        return user is not None and user.id == self.user_id


@dataclass(frozen=True)
class Item:
    """A paper in a collection: its card, the reader's note, when it was saved."""

    card: PaperCard
    note: str
    added_at: dt.datetime


class LibraryService:
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

    # -- collections ---------------------------------------------------------------------------

    def _select(self) -> sa.Select[tuple[object, ...]]:
        size = (
            sa.select(sa.func.count())
            .select_from(collection_items)
            .where(collection_items.c.collection_id == collections.c.id)
            .where(collection_items.c.paper_id.not_in(sa.select(paper_moderation.c.paper_id)))
            .scalar_subquery()
        )
        return sa.select(collections, users.c.username, size.label("size")).join(
            users, users.c.id == collections.c.user_id
        )

    @staticmethod
    def _collection(row: sa.RowMapping) -> Collection:
        return Collection(
            row["id"],
            row["user_id"],
            row["username"],
            row["name"],
            row["description"],
            bool(row["public"]),
            row["created_at"],
            row["updated_at"],
            int(row["size"] or 0),
        )

    def collections(self, user: User) -> list[Collection]:
        """The reader's collections, by name, with how many papers each holds."""
        query = self._select().where(collections.c.user_id == user.id)
        with self.reader.connect() as conn:
            rows = conn.execute(query.order_by(collections.c.name, collections.c.id)).mappings()
            return [self._collection(row) for row in rows]

    def names(self, user: User) -> list[str]:
        """The names of the reader's collections (what a paper's "Save" offers)."""
        query = (
            sa.select(collections.c.name)
            .where(collections.c.user_id == user.id)
            .order_by(collections.c.name)
        )
        with self.reader.connect() as conn:
            return list(conn.execute(query).scalars())

    def collection(self, viewer: User | None, collection_id: int) -> Collection:
        """A collection its owner may see, or anyone when it is public; NotFound otherwise
        (a private collection is answered as one that does not exist)."""
        query = self._select().where(collections.c.id == collection_id)
        with self.reader.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None or not (
            row["public"] or (viewer is not None and viewer.id == row["user_id"])
        ):
            raise NotFound("no such collection")
        return self._collection(row)

    def own(self, user: User, collection_id: int) -> Collection:
        """A collection of this reader's (to change it); NotFound for anyone else's."""
        found = self.collection(user, collection_id)
        if not found.owned_by(user):
            raise NotFound("no such collection")
        return found

    def create(
        self, user: User, name: str, *, description: str = "", public: bool = False
    ) -> Collection:
        name = clean_name(name)
        description = clean_text(description, MAX_DESCRIPTION, "a description")
        now = self.clock()
        try:
            new_id = self._insert(user, name, description, public, now)
        except sa.exc.IntegrityError:  # a request racing this one took the name
            raise Duplicate(f"you have a collection named {name!r} already") from None
        return self.own(user, new_id)

    def _insert(
        self, user: User, name: str, description: str, public: bool, now: dt.datetime
    ) -> int:
        with self.engine.begin() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).where(collections.c.user_id == user.id)
            ).scalar_one()
            if count >= MAX_COLLECTIONS:
                raise CommunityError(f"a reader has at most {MAX_COLLECTIONS} collections")
            self._refuse_taken(conn, user, name)
            new_id = conn.execute(
                collections.insert()
                .values(
                    user_id=user.id,
                    name=name,
                    description=description,
                    public=public,
                    created_at=now,
                    updated_at=now,
                )
                .returning(collections.c.id)
            ).scalar_one()
        return int(new_id)

    @staticmethod
    def _refuse_taken(conn: sa.Connection, user: User, name: str, but: int | None = None) -> None:
        query = sa.select(collections.c.id).where(
            collections.c.user_id == user.id, collections.c.name == name
        )
        if but is not None:
            query = query.where(collections.c.id != but)
        if conn.execute(query).first() is not None:
            raise Duplicate(f"you have a collection named {name!r} already")

    def update(
        self,
        user: User,
        collection_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        public: bool | None = None,
    ) -> Collection:
        """Changes what is given (None: kept)."""
        self.own(user, collection_id)
        values: dict[str, object] = {"updated_at": self.clock()}
        if name is not None:
            values["name"] = clean_name(name)
        if description is not None:
            values["description"] = clean_text(description, MAX_DESCRIPTION, "a description")
        if public is not None:
            values["public"] = public
        try:
            with self.engine.begin() as conn:
                if name is not None:
                    self._refuse_taken(conn, user, str(values["name"]), but=collection_id)
                conn.execute(
                    collections.update()
                    .where(collections.c.id == collection_id, collections.c.user_id == user.id)
                    .values(values)
                )
        except sa.exc.IntegrityError:  # a request racing this one took the name
            raise Duplicate(f"you have a collection named {values['name']!r} already") from None
        return self.own(user, collection_id)

    def delete(self, user: User, collection_id: int) -> None:
        """Deletes a collection and its notes (the papers stay in the catalog)."""
        self.own(user, collection_id)
        with self.engine.begin() as conn:
            conn.execute(
                collections.delete().where(
                    collections.c.id == collection_id, collections.c.user_id == user.id
                )
            )

    def named(self, user: User, name: str, *, create: bool = True) -> Collection:
        """The reader's collection of this name, made when there is none (`create`)."""
        name = clean_name(name)
        with self.reader.connect() as conn:
            found = conn.execute(
                sa.select(collections.c.id).where(
                    collections.c.user_id == user.id, collections.c.name == name
                )
            ).scalar()
        if found is not None:
            return self.own(user, int(found))
        if not create:
            raise NotFound(f"you have no collection named {name!r}")
        try:
            return self.create(user, name)
        except Duplicate:  # made by a request racing this one
            return self.named(user, name, create=False)

    # -- items ---------------------------------------------------------------------------------

    def items(
        self, viewer: User | None, collection_id: int, *, limit: int | None = None
    ) -> list[Item]:
        """The papers of a collection the viewer may see, most recently saved first (hidden
        papers left out), with their notes."""
        self.collection(viewer, collection_id)
        query = (
            sa.select(
                collection_items.c.paper_id, collection_items.c.note, collection_items.c.added_at
            )
            .where(collection_items.c.collection_id == collection_id)
            .order_by(collection_items.c.added_at.desc(), collection_items.c.paper_id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self.reader.connect() as conn:
            rows = conn.execute(query).all()
        cards = {c.paper_id: c for c in self.cards.cards([r.paper_id for r in rows], viewer=viewer)}
        return [Item(cards[r.paper_id], r.note, r.added_at) for r in rows if r.paper_id in cards]

    def save(
        self, user: User, collection_id: int, paper_id: int, *, note: str | None = None
    ) -> bool:
        """Saves a paper into one of the reader's collections (with `note`, which replaces the
        one it had; None keeps it). Whether the paper was new to the collection."""
        self.own(user, collection_id)
        self.cards.card(paper_id)  # NotFound for unknown and hidden papers
        text = None if note is None else clean_text(note, MAX_NOTE, "a note")
        now = self.clock()
        with self.engine.begin() as conn:
            added = self._put(conn, collection_id, [paper_id], now, note=text) == 1
            self._touch(conn, collection_id, now)
        return added

    @staticmethod
    def _put(
        conn: sa.Connection,
        collection_id: int,
        paper_ids: Sequence[int],
        now: dt.datetime,
        *,
        note: str | None = None,
    ) -> int:
        """Puts papers into a collection (in the caller's transaction); how many were new to
        it. A note given replaces the note of a paper already there."""
        wanted = list(dict.fromkeys(paper_ids))
        there = set(
            conn.execute(
                sa.select(collection_items.c.paper_id).where(
                    collection_items.c.collection_id == collection_id,
                    collection_items.c.paper_id.in_(wanted),
                )
            ).scalars()
        )
        new = [pid for pid in wanted if pid not in there]
        if new:
            conn.execute(
                collection_items.insert(),
                [
                    {
                        "collection_id": collection_id,
                        "paper_id": pid,
                        "note": note or "",
                        "added_at": now,
                    }
                    for pid in new
                ],
            )
        if note is not None and there:
            conn.execute(
                collection_items.update()
                .where(
                    collection_items.c.collection_id == collection_id,
                    collection_items.c.paper_id.in_(there),
                )
                .values(note=note)
            )
        return len(new)

    @staticmethod
    def _touch(conn: sa.Connection, collection_id: int, now: dt.datetime) -> None:
        conn.execute(
            collections.update().where(collections.c.id == collection_id).values(updated_at=now)
        )

    def remove(self, user: User, collection_id: int, paper_id: int) -> bool:
        """Takes a paper out of a collection (its note goes with it); whether it was there."""
        self.own(user, collection_id)
        with self.engine.begin() as conn:
            done = conn.execute(
                collection_items.delete().where(
                    collection_items.c.collection_id == collection_id,
                    collection_items.c.paper_id == paper_id,
                )
            )
            if done.rowcount:
                self._touch(conn, collection_id, self.clock())
        return bool(done.rowcount)

    def saved_in(self, user: User, paper_id: int) -> list[Collection]:
        """The reader's collections that hold this paper."""
        held = sa.select(collection_items.c.collection_id).where(
            collection_items.c.paper_id == paper_id
        )
        query = self._select().where(collections.c.user_id == user.id, collections.c.id.in_(held))
        with self.reader.connect() as conn:
            rows = conn.execute(query.order_by(collections.c.name)).mappings()
            return [self._collection(row) for row in rows]

    # -- marks -----------------------------------------------------------------------------------

    def mark(self, user: User, paper_id: int, kind: MarkKind, *, on: bool = True) -> bool:
        """Sets (or with on=False clears) a mark of the reader's on a paper: "read" or
        "dismissed" ("not interested"); idempotent. Whether the paper now has the mark."""
        if kind not in MARKS:
            raise CommunityError(f"a mark is one of {', '.join(MARKS)}")
        self.cards.card(paper_id)
        where = (
            paper_marks.c.user_id == user.id,
            paper_marks.c.paper_id == paper_id,
            paper_marks.c.kind == kind,
        )
        with self.engine.begin() as conn:
            there = conn.execute(sa.select(paper_marks.c.kind).where(*where)).first()
            if on and there is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            paper_marks.insert().values(
                                user_id=user.id,
                                paper_id=paper_id,
                                kind=kind,
                                created_at=self.clock(),
                            )
                        )
                except sa.exc.IntegrityError:  # a double click raced us: marked already
                    pass
            elif not on and there is not None:
                conn.execute(paper_marks.delete().where(*where))
        return on

    def marked(self, user: User, kind: MarkKind) -> list[tuple[int, dt.datetime]]:
        """The papers the reader marked so, newest mark first, with when."""
        query = (
            sa.select(paper_marks.c.paper_id, paper_marks.c.created_at)
            .where(paper_marks.c.user_id == user.id, paper_marks.c.kind == kind)
            .order_by(paper_marks.c.created_at.desc(), paper_marks.c.paper_id)
        )
        with self.reader.connect() as conn:
            return [(r.paper_id, r.created_at) for r in conn.execute(query)]

    def marked_cards(self, user: User, kind: MarkKind, *, limit: int = 200) -> list[PaperCard]:
        return self.cards.cards([pid for pid, _ in self.marked(user, kind)[:limit]], viewer=user)
