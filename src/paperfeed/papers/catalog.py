"""The catalog service: batched, idempotent upserts of records, and the reads the CLI needs."""

from __future__ import annotations

import datetime as dt
import enum
import marshal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from paperfeed.clock import utcnow
from paperfeed.db.bulk import (
    insert_rows,
    insert_tuples,
    new_ids,
    row_converter,
    sqlite_datetime,
)
from paperfeed.db.schema import daily_papers, paper_categories, papers
from paperfeed.papers.merge import CONTENT_FIELDS, merge_row, new_row
from paperfeed.papers.record import DailyEntry, PaperRecord
from paperfeed.papers.text import title_key

_CHUNK = 500  # bound parameters per IN (...) list


class Outcome(enum.Enum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class UpsertResult:
    outcome: Outcome
    paper_id: int
    record: PaperRecord


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _among(
    conn: sa.Connection, column: sa.Column[Any], values: Sequence[Any]
) -> sa.ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `column = ANY(array)`, one parameter rather than one
    per value (psycopg re-parses statements of more than 50 parameters on every call)."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def _insert_categories(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    pairs = [(row["id"], category) for row in rows for category in row["categories"]]
    insert_tuples(conn, paper_categories, ("paper_id", "category"), pairs)


# pg_advisory_xact_lock key of catalog writes ("paperfee" in ASCII).
_WRITERS_LOCK = 0x7061706572666565


def _serialise_writers(conn: sa.Connection) -> None:
    """Catalog writes look papers up and then insert what they did not find. On SQLite the
    writer lock (BEGIN IMMEDIATE) keeps that atomic; on PostgreSQL, where several processes
    write at once (an import beside web nodes taking submissions), a transaction-level
    advisory lock does, so two writers cannot both insert the same new paper."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(key)s)", {"key": _WRITERS_LOCK})


def _select_rows(
    conn: sa.Connection,
    column: sa.Column[Any],
    values: Iterable[Any],
    extra: sa.ColumnElement[bool] | None = None,
) -> list[dict[str, Any]]:
    unique = sorted({v for v in values if v})
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(unique):
        query = sa.select(papers).where(_among(conn, column, chunk))
        if extra is not None:
            query = query.where(extra)
        rows.extend(dict(r) for r in conn.execute(query).mappings())
    return rows


def _existing(
    conn: sa.Connection, column: str, values: Iterable[Any], condition: str = "TRUE"
) -> set[Any]:
    """The `values` that papers have in `column` (one query for any number of values, as a
    JSON or array parameter, without SQLAlchemy's per-value work on expanding IN lists)."""
    wanted = sorted({v for v in values if v})
    if not wanted:
        return set()
    if conn.dialect.name == "postgresql":
        query = f"SELECT {column} FROM papers WHERE {column} = ANY(%(wanted)s) AND {condition}"
        found = conn.exec_driver_sql(query, {"wanted": wanted})
    else:
        query = (
            f"SELECT {column} FROM papers "
            f"WHERE {column} IN (SELECT value FROM json_each(?)) AND {condition}"
        )
        found = conn.exec_driver_sql(query, (orjson.dumps(wanted).decode(),))
    return {value for (value,) in found}


# Columns of a prepared row (`PreparedRows.values`); the catalog adds the bookkeeping ones.
PREPARED_COLUMNS = (*CONTENT_FIELDS, "content_hash")
_INSERT_COLUMNS = (*PREPARED_COLUMNS, "first_seen_at", "modified_at", "id")
_ARXIV_ID = PREPARED_COLUMNS.index("arxiv_id")
_DOI = PREPARED_COLUMNS.index("doi")
_TITLE_KEY = PREPARED_COLUMNS.index("title_key")
_to_sqlite = row_converter(papers, PREPARED_COLUMNS)


@dataclass(slots=True)
class PreparedRows:
    """Records made ready for insertion as new papers, away from the writer (in a parse worker
    process): the `papers` values in SQLite's storage form (which PostgreSQL's COPY reads as
    text in each column's input format), the categories, and
    where each record came from (the importer's position in its chunk of lines), by which the
    writer finds a record again when it turns out to match a paper already in the catalog (it
    is then parsed again and merged as usual). Columnar, so that a chunk crosses the process
    boundary as a few lists of plain tuples rather than one object per row."""

    values: list[tuple[Any, ...]] = field(default_factory=list)
    categories: list[list[str]] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)

    def add(self, record: PaperRecord, origin: int) -> None:
        """`record`'s text must be normalised, as importers leave it."""
        row = new_row(record, title_key(record.title, normalized=True))
        self.values.append(_to_sqlite(row))
        self.categories.append(row["categories"])
        self.origins.append(origin)

    def __len__(self) -> int:
        return len(self.values)

    def dumps(self) -> bytes:
        """The rows as marshal data (plain str/int/None tuples): a third of pickle's cost to
        write and a little less to read (~2.7 us a row on a snapshot import)."""
        return marshal.dumps((self.values, self.categories, self.origins))

    @classmethod
    def loads(cls, data: bytes | memoryview) -> PreparedRows:
        values, categories, origins = marshal.loads(data)
        return cls(values, categories, origins)

    def __reduce__(self) -> tuple[Any, ...]:
        # Through a pipe, too, as marshal data.
        return PreparedRows.loads, (self.dumps(),)


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


class Catalog:
    """Writes and reads papers. Writers call `upsert` inside a transaction they own."""

    def __init__(self, engine: sa.Engine, reader: sa.Engine | None = None) -> None:
        self.engine = engine
        # Reads go through `reader`: on SQLite an engine that never takes the write lock.
        self.reader = reader or engine

    # -- writing -----------------------------------------------------------------------------

    def upsert(self, conn: sa.Connection, records: Sequence[PaperRecord]) -> list[UpsertResult]:
        """Merge records into the catalog; one result per record, in order."""
        _serialise_writers(conn)
        now = utcnow()
        keys = [title_key(r.title) for r in records]
        working = _Working()
        for row in _select_rows(conn, papers.c.arxiv_id, (r.arxiv_id for r in records)):
            working.add(row)
        unmatched = [(r, k) for r, k in zip(records, keys, strict=True) if not working.find(r, k)]
        if unmatched and self._has_papers_without_arxiv_id(conn):
            # Title and DOI matches only attach to papers without an arXiv id (reading lists).
            without_id = papers.c.arxiv_id.is_(None)
            for row in _select_rows(conn, papers.c.doi, (r.doi for r, _ in unmatched), without_id):
                working.add(row)
            for row in _select_rows(
                conn, papers.c.title_key, (k for _, k in unmatched), without_id
            ):
                working.add(row)
        idless = [(r, k) for r, k in unmatched if not r.arxiv_id]
        if idless:
            # A record without an arXiv id (a reading-list entry) may name an arXiv paper by
            # its DOI or by its title.
            for row in _select_rows(conn, papers.c.doi, (r.doi for r, _ in idless)):
                working.add(row)
            for row in _select_rows(conn, papers.c.title_key, (k for _, k in idless)):
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

    def insert_prepared(self, conn: sa.Connection, rows: PreparedRows) -> list[int]:
        """The bulk path for imports: insert, as new papers, the prepared rows that match
        nothing (no paper with their arXiv id, no paper without an arXiv id with their DOI or
        title, no earlier row of `rows` with their arXiv id). Returns the positions of the
        other rows, in order: the caller merges those with `upsert` in the same transaction,
        which sees the rows inserted here, so the outcome is that of `upsert` on all rows."""
        _serialise_writers(conn)
        # (These cannot collide: arXiv ids have a dot or slash, DOIs a slash, keys neither.)
        known = _existing(conn, "arxiv_id", (values[_ARXIV_ID] for values in rows.values))
        if self._has_papers_without_arxiv_id(conn):
            # A title or DOI match with a paper without an arXiv id is a merge (see upsert).
            for column, index in (("doi", _DOI), ("title_key", _TITLE_KEY)):
                wanted = (values[index] for values in rows.values)
                known |= _existing(conn, column, wanted, "arxiv_id IS NULL")
        fresh: list[int] = []
        rest: list[int] = []
        for position, values in enumerate(rows.values):
            keys = (values[_ARXIV_ID], values[_DOI], values[_TITLE_KEY])
            if not keys[0] or any(k in known for k in keys if k):
                rest.append(position)
            else:
                fresh.append(position)
            known.add(keys[0])  # a later row with this arXiv id merges into this one
        if not fresh:
            return rest
        now = sqlite_datetime(utcnow())
        ids = new_ids(conn, papers, len(fresh))
        insert_tuples(
            conn,
            papers,
            _INSERT_COLUMNS,
            [(*rows.values[p], now, now, i) for p, i in zip(fresh, ids, strict=True)],
        )
        insert_tuples(
            conn,
            paper_categories,
            ("paper_id", "category"),
            [(i, c) for p, i in zip(fresh, ids, strict=True) for c in rows.categories[p]],
        )
        return rest

    def insert_new(self, conn: sa.Connection, records: Sequence[PaperRecord]) -> list[int]:
        """Insert records as new papers without matching them to the catalog (bulk loads of
        collections known to be distinct, such as an evaluation corpus)."""
        now = utcnow()
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
            .values({c: sa.bindparam(c) for c in [*columns, "modified_at"]})
        )
        conn.execute(
            stmt,
            [
                {**{c: row[c] for c in columns}, "modified_at": now, "_id": row["id"]}
                for row in rows
            ],
        )
        ids = [row["id"] for row in rows]
        for chunk in _chunks(ids):
            conn.execute(
                paper_categories.delete().where(_among(conn, paper_categories.c.paper_id, chunk))
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
        for chunk in _chunks([pid for pid, _ in entries]):
            for r in conn.execute(
                sa.select(daily_papers).where(_among(conn, daily_papers.c.paper_id, chunk))
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

    def _has_papers_without_arxiv_id(self, conn: sa.Connection) -> bool:
        query = sa.select(papers.c.id).where(papers.c.arxiv_id.is_(None)).limit(1)
        return conn.execute(query).first() is not None

    # -- reading -----------------------------------------------------------------------------

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
            for chunk in _chunks(list(paper_ids)):
                query = sa.select(*selected).where(_among(conn, papers.c.id, chunk))
                for row in conn.execute(query).mappings():
                    rows[row["id"]] = dict(row)
        return rows

    def ids_for_arxiv(self, arxiv_ids: Sequence[str]) -> dict[str, int]:
        with self.reader.connect() as conn:
            found = conn.execute(
                sa.select(papers.c.arxiv_id, papers.c.id).where(
                    _among(conn, papers.c.arxiv_id, arxiv_ids)
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
            if "." in category or category in _ARCHIVES_WITHOUT_SUBJECTS:
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


_ARCHIVES_WITHOUT_SUBJECTS = {
    "gr-qc",
    "hep-ex",
    "hep-lat",
    "hep-ph",
    "hep-th",
    "math-ph",
    "nucl-ex",
    "nucl-th",
    "quant-ph",
}


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
        "source": entry.source if old is None else old["source"],
    }
