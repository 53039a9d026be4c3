"""Engines for the catalog: SQLite (WAL, one writer at a time) or PostgreSQL via psycopg 3."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event

from paperfeed.config import Settings


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Catalog rows are ~2.5 KB; 8 KiB pages keep most of a row out of overflow pages. Only
    # takes effect when the file is created.
    cursor.execute("PRAGMA page_size=8192")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-131072")  # 128 MiB: index pages stay hot on imports
    # Checkpoint when the WAL reaches 64 MiB (8192 pages) rather than SQLite's 1000 pages: an
    # import batch writes ~8 MB, so the default checkpointed (and fsynced) after every batch,
    # copying index pages that the next batch dirties again. Durability is unchanged.
    cursor.execute("PRAGMA wal_autocheckpoint=8192")
    cursor.close()


def _sqlite_begin_immediate(conn: sa.Connection) -> None:
    # Take the write lock at BEGIN so two writers queue instead of failing on upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# orjson is several times faster than json for the catalog's JSON columns on bulk imports.
_JSON = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


POOL_SIZE = 40  # anyio's default worker threads, which run FastAPI's sync handlers


def make_engine(settings: Settings, *, readonly: bool = False) -> sa.Engine:
    """`readonly` engines never take SQLite's write lock (for pooled readers)."""
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.ensure_home()
        # A pool as large as the web server's thread pool: SQLAlchemy's default (5 + 10
        # overflow, overflow connections closed on return) makes a busy server open fresh
        # connections, each with a cold page cache and its pragmas to run.
        engine = sa.create_engine(
            url,
            connect_args={"isolation_level": None},
            pool_size=POOL_SIZE,
            max_overflow=POOL_SIZE,
            **_JSON,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if not readonly:
            event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30, **_JSON)
