"""Shared fixtures: a real catalog per test (SQLite file, or PostgreSQL when
PAPERFEED_TEST_DATABASE_URL is set), the shared real data, and a local HTTP server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.db.migrate import upgrade
from paperfeed.runtime import Runtime
from tests.support.cli import cli, cli_env, imported  # noqa: F401  (shared fixtures)
from tests.support.http import FixtureServer

SHARED = Path(os.environ.get("PAPERFEED_SHARED", Path(__file__).parents[2] / "shared"))
DATA = SHARED / "data"


def pytest_report_header() -> str:
    url = os.environ.get("PAPERFEED_TEST_DATABASE_URL")
    return f"paperfeed catalog backend: {url or 'SQLite (temporary files)'}; data: {DATA}"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    return DATA


@contextmanager
def scratch_database() -> Iterator[str | None]:
    """The catalog URL for a test: None (a SQLite file in the test's home), or on the
    PostgreSQL leg (PAPERFEED_TEST_DATABASE_URL) a fresh database, dropped afterwards."""
    base_url = os.environ.get("PAPERFEED_TEST_DATABASE_URL")
    if not base_url:
        yield None
        return
    name = f"pf_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        # Only `paperfeed db upgrade` migrates a PostgreSQL catalog; processes refuse an old one.
        fresh = sa.create_engine(url)
        upgrade(fresh)
        fresh.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str | None]:
    with scratch_database() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        request_delay=0.0,
        http_retries=2,
        http_timeout=10.0,
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def http_server() -> Iterator[FixtureServer]:
    server = FixtureServer()
    server.start()
    yield server
    server.stop()
