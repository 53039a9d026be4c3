"""Bulk inserts that bypass SQLAlchemy's per-row processing on SQLite (imports are
bound by it). Values are stored exactly as SQLAlchemy's SQLite types store them."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa


def _datetime(value: dt.datetime | None) -> str | None:
    # SQLAlchemy's SQLite DATETIME format: "YYYY-MM-DD HH:MM:SS.ffffff".
    return None if value is None else value.isoformat(" ", "microseconds")


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _boolean(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _converter(column: sa.Column[Any]) -> Callable[[Any], Any] | None:
    kind = column.type
    if isinstance(kind, sa.JSON):
        return _json
    if isinstance(kind, sa.DateTime):
        return _datetime
    if isinstance(kind, sa.Date):
        return _date
    if isinstance(kind, sa.Boolean):
        return _boolean
    return None


def row_converter(
    table: sa.Table, columns: Sequence[str]
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A function that turns a row dict into the tuple of `columns` as SQLite stores them."""
    get_values = operator.itemgetter(*columns)
    converted = [
        (index, convert)
        for index, name in enumerate(columns)
        if (convert := _converter(table.c[name])) is not None
    ]

    def convert_row(row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = list(get_values(row))
        for index, convert in converted:
            values[index] = convert(values[index])
        return tuple(values)

    return convert_row


def insert_sql(table: sa.Table, columns: Sequence[str]) -> str:
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )


def insert_rows_sqlite(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    convert_row = row_converter(table, columns)
    conn.exec_driver_sql(insert_sql(table, columns), [convert_row(row) for row in rows])


def insert_tuples_sqlite(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert tuples already in SQLite's storage form (see `row_converter`)."""
    if rows:
        conn.exec_driver_sql(insert_sql(table, columns), rows)


def sqlite_datetime(value: dt.datetime | None) -> str | None:
    return _datetime(value)


# PostgreSQL: COPY, not INSERT. SQLAlchemy sends an executemany insert as multi-row VALUES
# statements of thousands of placeholders, and psycopg re-parses each such statement with a
# regular expression (it caches only statements of <= 50 parameters): on a snapshot import
# that parsing alone took 44% of the importer's time.


def _postgresql_converter(column: sa.Column[Any]) -> Callable[[Any], Any] | None:
    # COPY's text format: the server parses each value as its column's type, so JSON goes
    # as its text; psycopg writes dates, datetimes and the rest from their Python types.
    return _json if isinstance(column.type, sa.JSON) else None


def copy_rows_postgresql(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """COPY `rows` (dicts with at least `columns`) into `table`, in the connection's
    transaction."""
    converters = [(name, _postgresql_converter(table.c[name])) for name in columns]
    copy_tuples_postgresql(
        conn,
        table,
        columns,
        [
            tuple(
                row[name] if convert is None else convert(row[name]) for name, convert in converters
            )
            for row in rows
        ],
    )


def copy_tuples_postgresql(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """COPY tuples of `columns` into `table`: JSON as its text, other values as Python values
    or as text in their column's input format (SQLite's storage form qualifies)."""
    if not rows:
        return
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def next_ids_postgresql(conn: sa.Connection, table: sa.Table, count: int) -> list[int]:
    """`count` new values of `table`'s id sequence (for rows that COPY inserts with ids)."""
    return list(
        conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence(%(table)s, 'id')) "
            "FROM generate_series(1, %(count)s)",
            {"table": table.name, "count": count},
        ).scalars()
    )


# The catalog's bulk writes, whichever the backend.


def insert_rows(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert dicts with at least `columns`: SQLite's executemany without SQLAlchemy's per-row
    work, PostgreSQL's COPY."""
    if conn.dialect.name == "postgresql":
        copy_rows_postgresql(conn, table, columns, rows)
    else:
        insert_rows_sqlite(conn, table, columns, rows)


def insert_tuples(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert tuples of `columns` in SQLite's storage form (see `row_converter`), which
    PostgreSQL's COPY also reads."""
    if conn.dialect.name == "postgresql":
        copy_tuples_postgresql(conn, table, columns, rows)
    else:
        insert_tuples_sqlite(conn, table, columns, rows)


def new_ids(conn: sa.Connection, table: sa.Table, count: int) -> Sequence[int]:
    """`count` unused ids of `table`, for rows inserted with their id: from the id sequence on
    PostgreSQL; after the largest id on SQLite, whose writer holds the write lock (BEGIN
    IMMEDIATE) until it commits."""
    if conn.dialect.name == "postgresql":
        return next_ids_postgresql(conn, table, count)
    last = conn.execute(sa.select(sa.func.max(table.c.id))).scalar_one() or 0
    return range(last + 1, last + 1 + count)
