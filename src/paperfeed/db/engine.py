"""Engines for the catalog: SQLite (WAL, one writer at a time) or PostgreSQL via psycopg 3."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event

from paperfeed.config import Settings

# Catalog rows are ~2.7 KB. With 32 KiB pages a leaf wastes ~4% on the row that no longer
# fits (17% with 8 KiB pages): a snapshot import writes 11% fewer bytes and runs ~6% faster.
# Only takes effect when the file is created.
PAGE_SIZE = 32768


def _sqlite_pragmas(
    dbapi_connection: sqlite3.Connection, _record: Any, *, bulk: bool = False
) -> None:
    """WAL, or for a bulk load (see `rollback_journal`) a rollback journal where no other
    connection has the file open."""
    cursor = dbapi_connection.cursor()
    # Set before the journal mode, as it bounds the wait for switching it: back to WAL after a
    # bulk load waits for other connections; a bulk load does not wait, it keeps WAL.
    cursor.execute(f"PRAGMA busy_timeout={0 if bulk else 30000}")
    cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
    if bulk:
        with contextlib.suppress(sqlite3.OperationalError):
            cursor.execute("PRAGMA journal_mode=PERSIST")
    else:
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-131072")  # 128 MiB: index pages stay hot on imports
    # Checkpoint when the WAL reaches 64 MiB rather than SQLite's 1000 pages: an import batch
    # writes ~8 MB, so the default checkpointed (and fsynced) after every batch, copying index
    # pages that the next batch dirties again. Durability is unchanged.
    cursor.execute(f"PRAGMA wal_autocheckpoint={(64 << 20) // PAGE_SIZE}")
    cursor.close()


def _sqlite_begin_immediate(conn: sa.Connection) -> None:
    # Take the write lock at BEGIN so two writers queue instead of failing on upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# orjson is several times faster than json for the catalog's JSON columns on bulk imports.
_JSON = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


POOL_SIZE = 40  # anyio's default worker threads, which run FastAPI's sync handlers


def _sqlite_engine(
    url: str | sa.URL, *, pool_size: int, max_overflow: int, writer: bool, bulk: bool = False
) -> sa.Engine:
    engine = sa.create_engine(
        url,
        connect_args={"isolation_level": None},
        pool_size=pool_size,
        max_overflow=max_overflow,
        **_JSON,
    )
    event.listen(engine, "connect", functools.partial(_sqlite_pragmas, bulk=bulk))
    if writer:
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def make_engine(settings: Settings, *, readonly: bool = False) -> sa.Engine:
    """`readonly` engines never take SQLite's write lock (for pooled readers)."""
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.ensure_home()
        # A pool as large as the web server's thread pool: SQLAlchemy's default (5 + 10
        # overflow, overflow connections closed on return) makes a busy server open fresh
        # connections, each with a cold page cache and its pragmas to run.
        return _sqlite_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_SIZE, writer=not readonly)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30, **_JSON)


@contextlib.contextmanager
def rollback_journal(engine: sa.Engine) -> Iterator[sa.Engine]:
    """A one-connection engine for a bulk load into a SQLite catalog that nothing else has
    open, in rollback-journal mode; `engine` itself where that cannot be had.

    In WAL mode every page is written twice: into the WAL at commit, then into the database
    by a checkpoint (a fifth of the writer's time on a snapshot import). A rollback journal
    keeps only the old content of pages that existed when the transaction began, and pages
    appended to the file have none: a load that mostly appends writes each page once.
    Crash safety is the same (a killed load leaves a hot journal, which the next connection
    rolls back). Readers are blocked while a batch commits, so this is for loads, not for a
    catalog being served. Every connection of `engine` switches the file back to WAL when it
    opens, here at the end or in any process that opens the catalog meanwhile."""
    if engine.dialect.name != "sqlite":
        yield engine
        return
    engine.dispose()  # this process's own WAL connections would keep the mode from changing
    bulk = _sqlite_engine(engine.url, pool_size=1, max_overflow=0, writer=True, bulk=True)
    with bulk.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    if mode != "persist":
        bulk.dispose()
        yield engine
        return
    try:
        yield bulk
    finally:
        bulk.dispose()
        with contextlib.suppress(sa.exc.OperationalError), engine.connect():
            pass  # the connect hook switches the file back to WAL
