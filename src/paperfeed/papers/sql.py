"""The catalog's database-specific SQL: IN lists, lookups of many values at once, and the
writers' lock, each as PostgreSQL and SQLite do it best."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from paperfeed.db.schema import papers

CHUNK = 500  # bound parameters per IN (...) list


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """`values` in slices of at most CHUNK, for IN lists."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def among(
    conn: sa.Connection, column: sa.Column[Any], values: Sequence[Any]
) -> sa.ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `column = ANY(array)`, one parameter rather than one
    per value (psycopg re-parses statements of more than 50 parameters on every call)."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


# pg_advisory_xact_lock key of catalog writes ("paperfee" in ASCII).
_WRITERS_LOCK = 0x7061706572666565


def serialise_writers(conn: sa.Connection) -> None:
    """Catalog writes look papers up and then insert what they did not find. On SQLite the
    writer lock (BEGIN IMMEDIATE) keeps that atomic; on PostgreSQL, where several processes
    write at once (an import beside web nodes taking submissions), a transaction-level
    advisory lock does, so two writers cannot both insert the same new paper."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(key)s)", {"key": _WRITERS_LOCK})


def select_papers(
    conn: sa.Connection,
    column: sa.Column[Any],
    values: Iterable[Any],
    extra: sa.ColumnElement[bool] | None = None,
) -> list[dict[str, Any]]:
    """The papers whose `column` is one of `values` (empty values ignored), and `extra`."""
    unique = sorted({v for v in values if v})
    rows: list[dict[str, Any]] = []
    for chunk in chunks(unique):
        query = sa.select(papers).where(among(conn, column, chunk))
        if extra is not None:
            query = query.where(extra)
        rows.extend(dict(r) for r in conn.execute(query).mappings())
    return rows


def existing_values(
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


def has_papers_without_arxiv_id(conn: sa.Connection) -> bool:
    """Whether any paper lacks an arXiv id (a reading-list entry): only those match by title
    or DOI, and a catalog without any skips those lookups."""
    query = sa.select(papers.c.id).where(papers.c.arxiv_id.is_(None)).limit(1)
    return conn.execute(query).first() is not None
