"""Writes to the catalog: records merged into papers (matched by arXiv id, or by DOI or title
to papers without one), their categories and daily-list entries, in batches, idempotently."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from paperfeed.clock import Clock, utcnow
from paperfeed.db.bulk import insert_rows, insert_tuples, new_ids
from paperfeed.db.schema import daily_papers, paper_categories, papers
from paperfeed.papers.merge import CONTENT_FIELDS, merge_row, new_row
from paperfeed.papers.record import DailyEntry, PaperRecord
from paperfeed.papers.sql import (
    among,
    chunks,
    has_papers_without_arxiv_id,
    select_papers,
    serialise_writers,
)
from paperfeed.papers.text import title_key


class Outcome(enum.Enum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class UpsertResult:
    outcome: Outcome
    paper_id: int
    record: PaperRecord


def _insert_categories(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    pairs = [(row["id"], category) for row in rows for category in row["categories"]]
    insert_tuples(conn, paper_categories, ("paper_id", "category"), pairs)


class _Working:
    """Rows touched by one batch, indexed by every key a record may match on."""

    def __init__(self) -> None:
        self.by_arxiv: dict[str, dict[str, Any]] = {}
        self.by_doi: dict[str, dict[str, Any]] = {}
        self.by_title: dict[str, dict[str, Any]] = {}
        self.by_any_title: dict[str, dict[str, Any]] = {}  # for records without an arXiv id
        self.by_id: dict[int, dict[str, Any]] = {}

    def add(self, row: dict[str, Any]) -> None:
        if "id" in row and self.by_id.setdefault(row["id"], row) is not row:
            return  # loaded again by another key: merges must all go into the first copy
        if row.get("arxiv_id"):
            self.by_arxiv[row["arxiv_id"]] = row
        if row.get("doi"):
            self.by_doi.setdefault(row["doi"], row)
        if row.get("title_key") and not row.get("arxiv_id"):
            self.by_title.setdefault(row["title_key"], row)
        if row.get("title_key"):
            self.by_any_title.setdefault(row["title_key"], row)

    def find(self, record: PaperRecord, key: str) -> dict[str, Any] | None:
        if record.arxiv_id and record.arxiv_id in self.by_arxiv:
            return self.by_arxiv[record.arxiv_id]
        if record.doi and record.doi in self.by_doi:
            row = self.by_doi[record.doi]
            if not (record.arxiv_id and row.get("arxiv_id")):
                return row
        if key and key in self.by_title:
            return self.by_title[key]
        if key and not record.arxiv_id and key in self.by_any_title:
            return self.by_any_title[key]
        return None


class CatalogWriter:
    """Writes papers. Callers own the transaction (`with engine.begin() as conn`), so that
    what they save beside the papers (an import's checkpoint, a harvest's state) commits
    with them. `clock` stamps first_seen_at and modified_at."""

    def __init__(self, clock: Clock = utcnow) -> None:
        self.clock = clock

    def upsert(self, conn: sa.Connection, records: Sequence[PaperRecord]) -> list[UpsertResult]:
        """Merge records into the catalog; one result per record, in order."""
        serialise_writers(conn)
        now = self.clock()
        keys = [title_key(r.title) for r in records]
        working = _Working()
        for row in select_papers(conn, papers.c.arxiv_id, (r.arxiv_id for r in records)):
            working.add(row)
        unmatched = [(r, k) for r, k in zip(records, keys, strict=True) if not working.find(r, k)]
        if unmatched and has_papers_without_arxiv_id(conn):
            # Title and DOI matches only attach to papers without an arXiv id (reading lists).
            without_id = papers.c.arxiv_id.is_(None)
            for row in select_papers(conn, papers.c.doi, (r.doi for r, _ in unmatched), without_id):
                working.add(row)
            for row in select_papers(
                conn, papers.c.title_key, (k for _, k in unmatched), without_id
            ):
                working.add(row)
        idless = [(r, k) for r, k in unmatched if not r.arxiv_id]
        if idless:
            # A record without an arXiv id (a reading-list entry) may name an arXiv paper by
            # its DOI or by its title.
            for row in select_papers(conn, papers.c.doi, (r.doi for r, _ in idless)):
                working.add(row)
            for row in select_papers(conn, papers.c.title_key, (k for _, k in idless)):
                working.add(row)

        inserted: list[dict[str, Any]] = []
        touched: dict[int, dict[str, Any]] = {}  # existing rows this batch changed
        outcomes: list[tuple[dict[str, Any], PaperRecord, Outcome]] = []
        for record, key in zip(records, keys, strict=True):
            existing = working.find(record, key)
            if existing is None:
                row = new_row(record, key)
                row["first_seen_at"] = row["modified_at"] = now
                inserted.append(row)
                outcome = Outcome.NEW
            else:
                merged = merge_row(existing, record)
                outcome = (
                    Outcome.UNCHANGED
                    if merged["content_hash"] == existing["content_hash"]
                    else Outcome.UPDATED
                )
                existing.update(merged)  # later records in this batch merge into the result
                row = existing
                if outcome is Outcome.UPDATED and "id" in row:
                    touched[id(row)] = row
            working.add(row)
            outcomes.append((row, record, outcome))

        self._insert(conn, inserted)
        self._update(conn, list(touched.values()), now)
        daily_changed = self._upsert_daily(conn, [(r, rec) for r, rec, _ in outcomes], now)
        return [
            UpsertResult(
                Outcome.UPDATED
                if outcome is Outcome.UNCHANGED and id(record) in daily_changed
                else outcome,
                row["id"],
                record,
            )
            for row, record, outcome in outcomes
        ]

    def insert_new(self, conn: sa.Connection, records: Sequence[PaperRecord]) -> list[int]:
        """Insert records as new papers without matching them to the catalog (bulk loads of
        collections known to be distinct, such as an evaluation corpus)."""
        now = self.clock()
        rows = []
        for record in records:
            row = new_row(record)
            row["first_seen_at"] = row["modified_at"] = now
            rows.append(row)
        self._insert(conn, rows)
        return [row["id"] for row in rows]

    def _insert(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        columns = [*CONTENT_FIELDS, "content_hash", "first_seen_at", "modified_at"]
        # Rows go straight to the driver (or COPY): SQLAlchemy's per-row parameter processing
        # and row-by-row RETURNING cost more than the database's own insert.
        for row, new_id in zip(rows, new_ids(conn, papers, len(rows)), strict=True):
            row["id"] = new_id
        insert_rows(conn, papers, [*columns, "id"], rows)
        _insert_categories(conn, rows)

    def _update(self, conn: sa.Connection, rows: list[dict[str, Any]], now: dt.datetime) -> None:
        if not rows:
            return
        columns = [*CONTENT_FIELDS, "content_hash"]
        stmt = (
            papers.update()
            .where(papers.c.id == sa.bindparam("_id"))
            .values({c: sa.bindparam(c) for c in [*columns, "categories_predicted", "modified_at"]})
        )
        conn.execute(
            stmt,
            [
                {
                    **{c: row[c] for c in columns},
                    "categories_predicted": bool(row.get("categories_predicted")),
                    "modified_at": now,
                    "_id": row["id"],
                }
                for row in rows
            ],
        )
        ids = [row["id"] for row in rows]
        for chunk in chunks(ids):
            conn.execute(
                paper_categories.delete().where(among(conn, paper_categories.c.paper_id, chunk))
            )
        _insert_categories(conn, rows)

    def _upsert_daily(
        self,
        conn: sa.Connection,
        outcomes: list[tuple[dict[str, Any], PaperRecord]],
        now: dt.datetime,
    ) -> set[int]:
        """Store daily-list entries; returns id() of the records whose entry changed."""
        entries = [(row["id"], rec) for row, rec in outcomes if rec.daily is not None]
        if not entries:
            return set()
        known: dict[int, dict[str, Any]] = {}
        for chunk in chunks([pid for pid, _ in entries]):
            for r in conn.execute(
                sa.select(daily_papers).where(among(conn, daily_papers.c.paper_id, chunk))
            ).mappings():
                known[r["paper_id"]] = dict(r)
        changed: set[int] = set()
        for paper_id, record in entries:
            assert record.daily is not None
            values = _daily_values(known.get(paper_id), record.daily)
            old = known.get(paper_id)
            if old is not None and all(old[k] == v for k, v in values.items()):
                continue
            values["updated_at"] = now
            if old is None:
                conn.execute(daily_papers.insert().values(paper_id=paper_id, **values))
            else:
                conn.execute(
                    daily_papers.update().where(daily_papers.c.paper_id == paper_id).values(values)
                )
            known[paper_id] = {**(old or {}), **values, "paper_id": paper_id}
            changed.add(id(record))
        return changed


def _daily_values(old: Mapping[str, Any] | None, entry: DailyEntry) -> dict[str, Any]:
    """Community counters only grow between snapshots, so an older file never lowers them."""

    def keep(name: str, value: Any) -> Any:
        if old is None:
            return value
        return value if value not in (None, "", []) else old[name]

    return {
        "submitted_on": entry.submitted_at.date() if old is None else old["submitted_on"],
        "submitted_at": entry.submitted_at if old is None else old["submitted_at"],
        "submitted_by": keep("submitted_by", entry.submitted_by),
        "upvotes": max(entry.upvotes, old["upvotes"] if old else 0),
        "num_comments": max(entry.num_comments, old["num_comments"] if old else 0),
        "github_repo": keep("github_repo", entry.github_repo),
        "github_stars": keep("github_stars", entry.github_stars),
        "project_page": keep("project_page", entry.project_page),
        "ai_summary": keep("ai_summary", entry.ai_summary),
        "ai_keywords": keep("ai_keywords", entry.ai_keywords),
        "organization": keep("organization", entry.organization),
        "thumbnail": keep("thumbnail", entry.thumbnail),
        "source": entry.source if old is None else old["source"],
    }
