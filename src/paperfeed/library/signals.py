"""What a reader's own actions say about their taste, for the recommender
(`paperfeed.recommend`) and the for-you page: one plain function over the database.

    liked     papers the reader upvoted or saved in any collection
    disliked  papers the reader marked "not interested"
    seen      papers to leave out of recommendations: read, saved, dismissed or upvoted

A paper marked "not interested" is disliked even when it was also upvoted or saved earlier
(the mark is the reader's explicit word): it is never in `liked`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.db.schema import collection_items, collections, paper_marks, votes


@dataclass(frozen=True)
class ReaderSignals:
    liked: frozenset[int]  # paper ids (catalog row ids)
    disliked: frozenset[int]
    seen: frozenset[int]  # liked | disliked | read: exclude these from recommendations
    upvoted: frozenset[int] = frozenset()  # where the likes come from
    saved: frozenset[int] = frozenset()


def reader_signals(conn: sa.Connection, user_id: int) -> ReaderSignals:
    """The paper ids a reader likes (upvoted or saved), dislikes ("not interested") and has
    seen (read, saved, dismissed, upvoted), read in the caller's connection."""
    return readers_signals(conn, [user_id])[user_id]


def readers_signals(conn: sa.Connection, user_ids: Sequence[int]) -> dict[int, ReaderSignals]:
    """`reader_signals` of several readers (by user id), in three queries for all of them
    (a digest run's batch of readers)."""
    wanted = sorted(set(user_ids))
    ids: sa.BindParameter[int] = sa.bindparam("ids", expanding=True)
    upvoted: dict[int, set[int]] = {uid: set() for uid in wanted}
    saved: dict[int, set[int]] = {uid: set() for uid in wanted}
    read: dict[int, set[int]] = {uid: set() for uid in wanted}
    dismissed: dict[int, set[int]] = {uid: set() for uid in wanted}
    if wanted:
        for uid, pid in conn.execute(
            sa.select(votes.c.user_id, votes.c.paper_id).where(votes.c.user_id.in_(ids)),
            {"ids": wanted},
        ):
            upvoted[uid].add(pid)
        for uid, pid in conn.execute(
            sa.select(collections.c.user_id, collection_items.c.paper_id)
            .join(collections, collections.c.id == collection_items.c.collection_id)
            .where(collections.c.user_id.in_(ids)),
            {"ids": wanted},
        ):
            saved[uid].add(pid)
        marks = {"read": read, "dismissed": dismissed}
        for uid, pid, kind in conn.execute(
            sa.select(paper_marks.c.user_id, paper_marks.c.paper_id, paper_marks.c.kind).where(
                paper_marks.c.user_id.in_(ids)
            ),
            {"ids": wanted},
        ):
            if kind in marks:
                marks[kind][uid].add(pid)
    out = {}
    for uid in wanted:
        up, kept, disliked = upvoted[uid], saved[uid], dismissed[uid]
        out[uid] = ReaderSignals(
            liked=frozenset((up | kept) - disliked),
            disliked=frozenset(disliked),
            seen=frozenset(up | kept | disliked | read[uid]),
            upvoted=frozenset(up),
            saved=frozenset(kept),
        )
    return out


def reader_signals_of(engine: sa.Engine, user_id: int) -> ReaderSignals:
    """`reader_signals` in a connection of its own."""
    with engine.connect() as conn:
        return reader_signals(conn, user_id)
