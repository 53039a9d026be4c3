"""A reader's library as their account export holds it ("download my data"). Deleting the
account deletes all of it: every library table refers to the account ON DELETE CASCADE."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from paperfeed.db.schema import (
    collection_items,
    collections,
    feed_tokens,
    follows,
    paper_marks,
    papers,
)
from paperfeed.papers.ids import public_id


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def library_export(conn: sa.Connection, user_id: int) -> dict[str, Any]:
    """Collections (with each paper's note), read and "not interested" marks, and follows
    (the secret feed token itself is left out, as API tokens are)."""
    owned = (
        conn.execute(
            sa.select(collections)
            .where(collections.c.user_id == user_id)
            .order_by(collections.c.name, collections.c.id)
        )
        .mappings()
        .all()
    )
    items: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in owned}
    if owned:
        for row in conn.execute(
            sa.select(
                collection_items.c.collection_id,
                collection_items.c.note,
                collection_items.c.added_at,
                papers.c.id,
                papers.c.arxiv_id,
                papers.c.title,
            )
            .join(papers, papers.c.id == collection_items.c.paper_id)
            .where(collection_items.c.collection_id.in_(list(items)))
            .order_by(collection_items.c.added_at, papers.c.id)
        ):
            items[row.collection_id].append(
                {
                    "paper": public_id(row.arxiv_id, row.id),
                    "title": row.title,
                    "note": row.note,
                    "added_at": _iso(row.added_at),
                }
            )
    marks: dict[str, list[dict[str, Any]]] = {"read": [], "dismissed": []}
    for mark in conn.execute(
        sa.select(
            paper_marks.c.kind,
            paper_marks.c.created_at,
            papers.c.id,
            papers.c.arxiv_id,
            papers.c.title,
        )
        .join(papers, papers.c.id == paper_marks.c.paper_id)
        .where(paper_marks.c.user_id == user_id)
        .order_by(paper_marks.c.created_at, papers.c.id)
    ):
        marks.setdefault(mark.kind, []).append(
            {
                "paper": public_id(mark.arxiv_id, mark.id),
                "title": mark.title,
                "at": _iso(mark.created_at),
            }
        )
    followed = conn.execute(
        sa.select(follows)
        .where(follows.c.user_id == user_id)
        .order_by(follows.c.created_at, follows.c.id)
    ).mappings()
    has_token = conn.execute(
        sa.select(feed_tokens.c.created_at).where(feed_tokens.c.user_id == user_id)
    ).scalar()
    return {
        "collections": [
            {
                "name": row["name"],
                "description": row["description"],
                "public": bool(row["public"]),
                "created_at": _iso(row["created_at"]),
                "papers": items[row["id"]],
            }
            for row in owned
        ],
        "read": marks["read"],
        "not_interested": marks["dismissed"],
        "follows": [
            {
                "kind": row["kind"],
                "value": row["value"],
                "filters": dict(row["filters"] or {}),
                "created_at": _iso(row["created_at"]),
            }
            for row in followed
        ],
        "private_feed_token_created_at": _iso(has_token),
    }
