"""Catalogs for tests, migrated once per test session (per xdist worker) and copied per test.

Migrating a new catalog costs ~0.1 s on SQLite and ~0.4 s on PostgreSQL; copying a migrated
one costs a millisecond (a file copy) or ~0.02 s (`CREATE DATABASE ... TEMPLATE` on tmpfs). The
template is made with `paperfeed db upgrade`, so what a test starts from is what a new data
directory gets. Tests of the migrations themselves ask for an empty catalog (the
`empty_catalog` mark).

Seeded catalogs: a test that asks for one of the SEEDS fixtures (by name, directly or through
another fixture) starts from a copy of a data directory and catalog into which that seed's
files were imported with the CLI, once per process, instead of importing them itself (a
third to a half of a second per test, for the ~300 tests over Hugging Face daily lists)."""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from paperfeed.config import Settings
from tests.support.cli import Cli

_lock = threading.Lock()
_sqlite_template: Path | None = None
_pg_templates: dict[tuple[str, str | None], str] = {}  # (server URL, seed) -> template database
_seeded_homes: dict[tuple[str | None, str], Path] = {}  # (server URL, seed) -> data directory
_scratch_allowed = True

_DATA = Path(os.environ.get("PAPERFEED_SHARED", Path(__file__).parents[3] / "shared")) / "data"
_HF_PAPERS = _DATA / "fixtures" / "hf_papers"

# What each seed imports, as a user would: `paperfeed import`, which indexes what it imported
# for search; the seed's data directory holds that index and is copied with it.
SEEDS: dict[str, Callable[[Cli], object]] = {
    # The three real HF daily-papers responses: 63 papers on 2026-06-12, 07-31 and 08-03.
    "seed_hf_daily_lists": lambda cli: cli(
        "import",
        "hf-daily",
        _HF_PAPERS / "daily_papers_2026-06-12.json",
        _HF_PAPERS / "daily_papers_2026-07-31.json",
        _HF_PAPERS / "daily_papers_2026-08-03_3-entries_pretty.json",
        "--no-progress",
    ),
    # The 200 records of the Kaggle snapshot head, indexed for search as a plain import does
    # (the `imported` fixture; ~75 tests started by importing and indexing them).
    "seed_snapshot_head200": lambda cli: cli(
        "import", "snapshot", _DATA / "arxiv" / "kaggle_snapshot_head200.jsonl.gz", "--no-progress"
    ),
    # One real HF daily list: the 30 papers of 2026-07-31.
    "seed_hf_daily_list": lambda cli: cli(
        "import",
        "hf-daily",
        _HF_PAPERS / "daily_papers_2026-07-31.json",
        "--no-progress",
    ),
}


def allow_scratch_databases(allowed: bool) -> None:
    """Set before each test (conftest.py): whether it asked for the `catalog_server` fixture."""
    global _scratch_allowed
    _scratch_allowed = allowed


def postgresql_server() -> str | None:
    """The PostgreSQL server the run may use (PAPERFEED_TEST_DATABASE_URL), if any."""
    return os.environ.get("PAPERFEED_TEST_DATABASE_URL") or None


def backends() -> list[str]:
    """The catalog backends of this run, the `catalog_server` fixture's parameters: "sqlite",
    and "postgresql" when PAPERFEED_TEST_DATABASE_URL names a server. PAPERFEED_TEST_BACKENDS
    (comma-separated) chooses among them, e.g. `postgresql` for that leg alone."""
    chosen = os.environ.get("PAPERFEED_TEST_BACKENDS", "sqlite,postgresql")
    wanted = [name.strip() for name in chosen.split(",") if name.strip()]
    unknown = set(wanted) - {"sqlite", "postgresql"}
    if unknown:
        raise ValueError(f"PAPERFEED_TEST_BACKENDS: unknown backend(s) {sorted(unknown)}")
    if "postgresql" in wanted and postgresql_server() is None:
        wanted.remove("postgresql")
        if not wanted:
            raise ValueError("PAPERFEED_TEST_BACKENDS=postgresql needs PAPERFEED_TEST_DATABASE_URL")
    return wanted


_current_server: str | None = None


def use_backend(backend: str | None) -> None:
    """Set before each test (conftest.py): the backend its `catalog_server` parameter names
    (None for a test that makes no catalog: it gets SQLite files, if anything)."""
    global _current_server
    _current_server = postgresql_server() if backend == "postgresql" else None


def base_url() -> str | None:
    """The PostgreSQL server of the running test's catalogs (None: SQLite files)."""
    return _current_server


def _database_url(server: str, name: str) -> str:
    return sa.make_url(server).set(database=name).render_as_string(hide_password=False)


def _cli(settings: Settings) -> Cli:
    return Cli(
        {
            "PAPERFEED_HOME": str(settings.home),
            "PAPERFEED_DATABASE_URL": settings.database_url,
            "PAPERFEED_CONFIG": None,
        }
    )


def _migrate(settings: Settings) -> None:
    """`paperfeed db upgrade`, as an administrator brings a new catalog to the current schema."""
    _cli(settings)("db", "upgrade")


def _seeded_home(server: str | None, seed: str) -> Path:
    """The data directory `seed` was imported into (on SQLite with its catalog file, folded
    out of its write-ahead log), made on first use in this process. On PostgreSQL its catalog
    is the template database `_pg_template(server, seed)`."""
    with _lock:
        if (server, seed) not in _seeded_homes:
            home = Path(tempfile.mkdtemp(prefix=f"paperfeed-{seed}-"))
            atexit.register(shutil.rmtree, home, ignore_errors=True)
            url = None
            if server is None:
                shutil.copyfile(_sqlite_template_locked(), home / "catalog.sqlite3")
            else:
                name = f"pf_template_{uuid.uuid4().hex[:12]}"
                plain = _pg_template_locked(server, None)
                _execute(server, f'CREATE DATABASE "{name}" TEMPLATE "{plain}"')
                _pg_templates[(server, seed)] = name
                url = _database_url(server, name)
            SEEDS[seed](_cli(Settings(home=home, database_url=url)))
            if server is None:
                with sqlite3.connect(home / "catalog.sqlite3") as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:  # a template must have no sessions; the CLI's engines may keep some
                _execute(
                    server,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{_pg_templates[(server, seed)]}'",
                )
            _seeded_homes[(server, seed)] = home
        return _seeded_homes[(server, seed)]


def sqlite_template() -> Path:
    """A migrated SQLite catalog file, made on first use in this process."""
    with _lock:
        return _sqlite_template_locked()


def _sqlite_template_locked() -> Path:
    global _sqlite_template
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


def seed_home(home: Path, seed: str | None = None) -> None:
    """Makes the data directory `home` for a test: on SQLite with a copy of the migrated
    catalog; with a `seed`, a copy of that seed's data directory (on PostgreSQL its catalog is
    the database `scratch_database(seed=...)` gives)."""
    server = base_url()
    if seed is not None:
        # Not the prepared model (`models/`, ~23 MB): a copy per test would fill the scratch
        # space (tmpfs, in memory) by gigabytes; the test's runtime links it in when it loads
        # the model, as any data directory gets it (tests/support/models.py).
        shutil.copytree(
            _seeded_home(server, seed),
            home,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("models"),
        )
    elif server is None:
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_template(), home / "catalog.sqlite3")


def _pg_template(server: str, seed: str | None = None) -> str:
    """A migrated PostgreSQL database on `server` (with `seed` imported), made on first use
    in this process, which nothing stays connected to (PostgreSQL copies only a template
    without sessions)."""
    if seed is not None:
        _seeded_home(server, seed)
    with _lock:
        return _pg_template_locked(server, seed)


def _pg_template_locked(server: str, seed: str | None) -> str:
    if (server, None) not in _pg_templates:
        name = f"pf_template_{uuid.uuid4().hex[:12]}"
        _execute(server, f'CREATE DATABASE "{name}"')
        _pg_templates[(server, None)] = name
        home = Path(tempfile.mkdtemp(prefix="paperfeed-template-"))
        try:
            _migrate(Settings(home=home, database_url=_database_url(server, name)))
        finally:
            shutil.rmtree(home, ignore_errors=True)
    return _pg_templates[(server, seed)]


def drop_templates() -> None:
    """Drops this process's PostgreSQL templates (at the end of the test session)."""
    with _lock:
        for (server, _seed), name in _pg_templates.items():
            _execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_templates.clear()
        _seeded_homes.clear()
    with _admins_lock:
        for admin in _admins.values():
            admin.dispose()
        _admins.clear()


_admins: dict[str, sa.Engine] = {}
_admins_lock = threading.Lock()


def _execute(server: str, statement: str) -> None:
    """Runs `statement` outside a transaction on `server`'s maintenance database, over a
    connection kept for the process (two statements a test: a new connection each cost 12 ms)."""
    with _admins_lock:
        admin = _admins.get(server)
        if admin is None:
            admin = _admins[server] = sa.create_engine(
                server, isolation_level="AUTOCOMMIT", pool_size=1, pool_pre_ping=True
            )
    with admin.connect() as conn:
        conn.exec_driver_sql(statement)


@contextmanager
def scratch_database(*, empty: bool = False, seed: str | None = None) -> Iterator[str | None]:
    """The catalog URL for a test: None on SQLite (a file in the test's home, see
    `seed_home`), or on PostgreSQL (the test's `catalog_server` parameter) a database of its
    own, dropped afterwards: a copy of the migrated template (with `seed` imported), or with
    `empty` a new one.

    Only a test that asked for the `catalog_server` fixture (itself, or through a fixture) may
    make one: only those tests run on PostgreSQL too, and it would otherwise skip it."""
    if not _scratch_allowed:
        raise RuntimeError(
            "this test makes a catalog without asking for the `catalog_server` fixture: "
            "add it to the fixture that calls scratch_database(), or the test will not "
            "run on PostgreSQL"
        )
    server = base_url()
    if not server:
        yield None
        return
    name = f"pf_test_{uuid.uuid4().hex[:12]}"
    template = "" if empty else f' TEMPLATE "{_pg_template(server, seed)}"'
    _execute(server, f'CREATE DATABASE "{name}"{template}')
    try:
        yield _database_url(server, name)
    finally:
        _execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
