"""Reads of the catalog: papers by id or arXiv id, lists, counts and statistics, for the CLI,
the web pages, the APIs and search. Writes are `paperfeed.papers.catalog_writer`'s."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from paperfeed.db.schema import daily_papers, paper_categories, papers
from paperfeed.papers.categories import lists_subject_classes
from paperfeed.papers.sql import among, chunks


class Catalog:
    """Reads papers, through `reader` (on SQLite an engine that never takes the write lock);
    without one, through `engine`."""

    def __init__(self, engine: sa.Engine, reader: sa.Engine | None = None) -> None:
        self.reader = reader or engine

    def count(self) -> int:
        with self.reader.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())

    def get(
        self, arxiv_id: str | None = None, *, paper_id: int | None = None
    ) -> dict[str, Any] | None:
        query = sa.select(papers)
        query = (
            query.where(papers.c.id == paper_id)
            if paper_id is not None
            else query.where(papers.c.arxiv_id == arxiv_id)
        )
        with self.reader.connect() as conn:
            row = conn.execute(query).mappings().first()
            if row is None:
                return None
            paper = dict(row)
            daily = (
                conn.execute(sa.select(daily_papers).where(daily_papers.c.paper_id == paper["id"]))
                .mappings()
                .first()
            )
            paper["daily"] = dict(daily) if daily else None
            return paper

    def get_many(
        self, paper_ids: Sequence[int], columns: Sequence[str] = ()
    ) -> dict[int, dict[str, Any]]:
        """Papers by id; only the given columns (and `id`) when some are named: a search
        result needs 7 of the 27, and each JSON column is parsed on every read."""
        rows: dict[int, dict[str, Any]] = {}
        selected = (
            [papers.c.id, *(papers.c[c] for c in columns if c != "id")] if columns else [papers]
        )
        with self.reader.connect() as conn:
            for chunk in chunks(list(paper_ids)):
                query = sa.select(*selected).where(among(conn, papers.c.id, chunk))
                for row in conn.execute(query).mappings():
                    rows[row["id"]] = dict(row)
        return rows

    def ids_for_arxiv(self, arxiv_ids: Sequence[str]) -> dict[str, int]:
        with self.reader.connect() as conn:
            found = conn.execute(
                sa.select(papers.c.arxiv_id, papers.c.id).where(
                    among(conn, papers.c.arxiv_id, arxiv_ids)
                )
            ).all()
        return {str(a): int(i) for a, i in found}

    def list(
        self,
        *,
        category: str | None = None,
        since: dt.date | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        query = sa.select(papers)
        if category:
            if not lists_subject_classes(category):
                query = query.join(paper_categories).where(paper_categories.c.category == category)
            else:  # a whole archive: "cs" lists cs.*
                query = query.where(
                    papers.c.id.in_(
                        sa.select(paper_categories.c.paper_id).where(
                            paper_categories.c.category.like(f"{category}.%")
                        )
                    )
                )
        if since:
            query = query.where(papers.c.submitted_at >= dt.datetime.combine(since, dt.time()))
        query = query.order_by(papers.c.submitted_at.desc().nulls_last(), papers.c.id.desc())
        with self.reader.connect() as conn:
            return [dict(r) for r in conn.execute(query.limit(limit).offset(offset)).mappings()]

    def stats(self) -> dict[str, Any]:
        with self.reader.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
            with_arxiv = conn.execute(
                sa.select(sa.func.count()).where(papers.c.arxiv_id.is_not(None))
            ).scalar_one()
            daily = conn.execute(sa.select(sa.func.count()).select_from(daily_papers)).scalar_one()
            top = conn.execute(
                sa.select(papers.c.primary_category, sa.func.count().label("n"))
                .group_by(papers.c.primary_category)
                .order_by(sa.desc("n"))
                .limit(10)
            ).all()
            newest = conn.execute(sa.select(sa.func.max(papers.c.submitted_at))).scalar_one()
        return {
            "papers": int(total),
            "with_arxiv_id": int(with_arxiv),
            "without_arxiv_id": int(total) - int(with_arxiv),
            "daily_entries": int(daily),
            "newest_submission": newest.isoformat() if newest else None,
            "top_categories": {cat or "(none)": int(n) for cat, n in top},
        }
