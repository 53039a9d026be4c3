"""What a reader's own actions say about their taste, for the recommender
(`paperfeed.recommend`) and the for-you page: one plain function over the database.

    liked     papers the reader upvoted or saved in any collection
    disliked  papers the reader marked "not interested"
    seen      papers to leave out of recommendations: read, saved, dismissed or upvoted

A paper marked "not interested" is disliked even when it was also upvoted or saved earlier
(the mark is the reader's explicit word): it is never in `liked`."""

from __future__ import annotations

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
    upvoted = set(
        conn.execute(sa.select(votes.c.paper_id).where(votes.c.user_id == user_id)).scalars()
    )
    saved = set(
        conn.execute(
            sa.select(collection_items.c.paper_id)
            .join(collections, collections.c.id == collection_items.c.collection_id)
            .where(collections.c.user_id == user_id)
        ).scalars()
    )
    marks: dict[str, set[int]] = {"read": set(), "dismissed": set()}
    for paper_id, kind in conn.execute(
        sa.select(paper_marks.c.paper_id, paper_marks.c.kind).where(
            paper_marks.c.user_id == user_id
        )
    ):
        marks.setdefault(kind, set()).add(paper_id)
    disliked = marks["dismissed"]
    liked = (upvoted | saved) - disliked
    return ReaderSignals(
        liked=frozenset(liked),
        disliked=frozenset(disliked),
        seen=frozenset(upvoted | saved | disliked | marks["read"]),
        upvoted=frozenset(upvoted),
        saved=frozenset(saved),
    )


def reader_signals_of(engine: sa.Engine, user_id: int) -> ReaderSignals:
    """`reader_signals` in a connection of its own."""
    with engine.connect() as conn:
        return reader_signals(conn, user_id)
