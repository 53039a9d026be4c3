"""Catalogs for tests, migrated once per test session (per xdist worker) and copied per test.

Migrating a new catalog costs ~0.1 s on SQLite and ~0.4 s on PostgreSQL; copying a migrated
one costs a millisecond (a file copy) or ~0.1 s (`CREATE DATABASE ... TEMPLATE`). The template
is made with `paperfeed db upgrade`, so what a test starts from is what a new data directory
gets. Tests of the migrations themselves ask for an empty catalog (the `empty_catalog` mark)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from paperfeed.config import Settings
from tests.support.cli import Cli

_lock = threading.Lock()
_sqlite_template: Path | None = None
_pg_templates: dict[str, str] = {}  # server URL -> template database name
_scratch_allowed = True


def allow_scratch_databases(allowed: bool) -> None:
    """Set before each test (conftest.py): whether it asked for the `catalog_server` fixture."""
    global _scratch_allowed
    _scratch_allowed = allowed


def base_url() -> str | None:
    """The PostgreSQL server of the PostgreSQL leg (None: the SQLite leg)."""
    return os.environ.get("PAPERFEED_TEST_DATABASE_URL") or None


def _database_url(server: str, name: str) -> str:
    return sa.make_url(server).set(database=name).render_as_string(hide_password=False)


def _migrate(settings: Settings) -> None:
    """`paperfeed db upgrade`, as an administrator brings a new catalog to the current schema."""
    Cli(
        {
            "PAPERFEED_HOME": str(settings.home),
            "PAPERFEED_DATABASE_URL": settings.database_url,
            "PAPERFEED_CONFIG": None,
        }
    )("db", "upgrade")


def sqlite_template() -> Path:
    """A migrated SQLite catalog file, made on first use in this process."""
    global _sqlite_template
    with _lock:
        if _sqlite_template is None:
            folder = Path(tempfile.mkdtemp(prefix="paperfeed-template-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            settings = Settings(home=folder, database_url=None)
            _migrate(settings)
            # Every connection is closed: SQLite has folded the WAL into the file.
            for suffix in ("-wal", "-shm"):
                assert not Path(f"{settings.sqlite_path}{suffix}").exists(), suffix
            _sqlite_template = settings.sqlite_path
        return _sqlite_template


def seed_sqlite_home(home: Path) -> None:
    """Puts a copy of the migrated catalog where a data directory `home` keeps it."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sqlite_template(), home / "catalog.sqlite3")


def _pg_template(server: str) -> str:
    """A migrated PostgreSQL database on `server`, made on first use in this process, which
    nothing stays connected to (PostgreSQL copies only a template without sessions)."""
    with _lock:
        if server not in _pg_templates:
            name = f"pf_template_{uuid.uuid4().hex[:12]}"
            _execute(server, f'CREATE DATABASE "{name}"')
            _pg_templates[server] = name
            home = Path(tempfile.mkdtemp(prefix="paperfeed-template-"))
            try:
                _migrate(Settings(home=home, database_url=_database_url(server, name)))
            finally:
                shutil.rmtree(home, ignore_errors=True)
        return _pg_templates[server]


def drop_templates() -> None:
    """Drops this process's PostgreSQL templates (at the end of the test session)."""
    with _lock:
        for server, name in _pg_templates.items():
            _execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_templates.clear()


def _execute(server: str, statement: str) -> None:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        admin.dispose()


@contextmanager
def scratch_database(*, empty: bool = False) -> Iterator[str | None]:
    """The catalog URL for a test: None on the SQLite leg (a file in the test's home, see
    `seed_sqlite_home`), or on the PostgreSQL leg (PAPERFEED_TEST_DATABASE_URL) a database of
    its own, dropped afterwards: a copy of the migrated template, or with `empty` a new one.

    Only a test that asked for the `catalog_server` fixture (itself, or through a fixture) may
    make one: the PostgreSQL leg runs only those tests, and would otherwise skip it."""
    if not _scratch_allowed:
        raise RuntimeError(
            "this test makes a catalog without asking for the `catalog_server` fixture: "
            "add it to the fixture that calls scratch_database(), or the PostgreSQL leg "
            "will not run the test"
        )
    server = base_url()
    if not server:
        yield None
        return
    name = f"pf_test_{uuid.uuid4().hex[:12]}"
    template = "" if empty else f' TEMPLATE "{_pg_template(server)}"'
    _execute(server, f'CREATE DATABASE "{name}"{template}')
    try:
        yield _database_url(server, name)
    finally:
        _execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
