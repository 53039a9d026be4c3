"""Shared fixtures: a real catalog per test (a SQLite file, or a PostgreSQL database when
PAPERFEED_TEST_DATABASE_URL is set), copied from one migrated per session; the embedding models
loaded once per session; the shared real data; and a local HTTP server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import paperfeed.runtime
from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.support import catalogs, scheduling
from tests.support.catalogs import scratch_database
from tests.support.cli import cli, cli_env, imported  # noqa: F401  (shared fixtures)
from tests.support.http import FixtureServer
from tests.support.models import SessionModels

__all__ = ["DATA", "SHARED", "scratch_database"]

# Password hashes at argon2id's cheapest useful cost in every test process and the servers and
# commands they start (the environment is inherited): the suite signs up and in hundreds of
# times, ~40 ms a hash at the default cost. tests/accounts checks the default cost itself.
os.environ.setdefault("PAPERFEED_PASSWORD_HASH_MEMORY_KIB", "64")
os.environ.setdefault("PAPERFEED_PASSWORD_HASH_TIME_COST", "1")

SHARED = Path(os.environ.get("PAPERFEED_SHARED", Path(__file__).parents[2] / "shared"))
DATA = SHARED / "data"
SLOW_TIMEOUT = 900  # seconds, for tests marked `slow`


def pytest_report_header() -> str:
    url = catalogs.base_url()
    return f"paperfeed catalog backend: {url or 'SQLite (temporary files)'}; data: {DATA}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "empty_catalog: the test starts from a new data directory (no home, and on PostgreSQL "
        "an empty database) instead of a copy of the session's migrated catalog",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `slow` (minutes each) run first: with `pytest -n N --dist loadfile
    --no-loadscope-reorder` (scripts/test) each goes to a worker of its own at the start, so
    they do not end the run on one worker while the others idle. They get 15 minutes instead
    of the default per-test timeout (pyproject.toml)."""
    for item in items:
        if item.get_closest_marker("slow") and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable
    if catalogs.base_url():
        keep = [item for item in items if _on_the_postgresql_leg(item)]
        if len(keep) < len(items):
            kept = set(map(id, keep))
            config.hook.pytest_deselected(items=[i for i in items if id(i) not in kept])
            items[:] = keep
    scheduling.tell_controller(config, items)


def _makes_catalogs(item: pytest.Item) -> bool:
    return "catalog_server" in getattr(item, "fixturenames", ())


def _on_the_postgresql_leg(item: pytest.Item) -> bool:
    """The PostgreSQL leg runs the tests that make a catalog (the others would run exactly as
    on the SQLite leg, on SQLite files of their own, a second time), except those driven
    through Chromium: what they check is what the browser shows and runs, and the pages they
    load read and write through the same services and HTTP handlers that the HTTP-level tests
    (tests/web/test_hostile_http.py, test_multiprocess.py, tests/api) run on both legs."""
    names = getattr(item, "fixturenames", ())
    return "catalog_server" in names and "browser" not in names


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    catalogs.allow_scratch_databases(_makes_catalogs(item))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`--dist loadfile` with the slow tests sent out one by one (tests/support/scheduling.py)."""
    if config.getvalue("dist") == "loadfile":
        return scheduling.SlowApartScheduling(config, log)
    return None


def pytest_sessionfinish(session: pytest.Session) -> None:
    catalogs.drop_templates()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    return DATA


def _empty(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("empty_catalog") is not None


@pytest.fixture(scope="session")
def catalog_server() -> str | None:
    """The PostgreSQL server of the PostgreSQL leg (None: the SQLite leg). Every test that
    makes a catalog asks for it, through `database_url` or, for a module's shared catalog made
    with `scratch_database`, directly: the PostgreSQL leg runs only those tests."""
    return catalogs.base_url()


def _seed(request: pytest.FixtureRequest) -> str | None:
    """The seed the test asked for (tests/support/catalogs.py SEEDS), if any."""
    if _empty(request):
        return None
    seeds = [name for name in request.fixturenames if name in catalogs.SEEDS]
    assert len(seeds) <= 1, f"a test starts from one seeded catalog, not {seeds}"
    return seeds[0] if seeds else None


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, catalog_server: str | None
) -> Iterator[str | None]:
    with scratch_database(empty=_empty(request), seed=_seed(request)) as url:
        yield url


@pytest.fixture
def seed_hf_daily_lists(data_dir: Path) -> None:
    """The test's catalog starts with the three real HF daily-papers responses imported (63
    papers listed on 2026-06-12, 2026-07-31 and 2026-08-03; not indexed)."""


@pytest.fixture
def seed_hf_daily_list(data_dir: Path) -> None:
    """The test's catalog starts with one real HF daily list imported (the 30 papers of
    2026-07-31; not indexed)."""


@pytest.fixture(scope="session", autouse=True)
def session_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionModels]:
    """Every runtime of the test process gets its embedding model from here: prepared once
    per run, loaded once per process, each text embedded once per run (see
    tests/support/models.py). `PAPERFEED_TEST_MODELS` names the run's folder for them
    (scripts/test sets it, so that both legs share it); by default it is pytest's."""
    folder = os.environ.get("PAPERFEED_TEST_MODELS")  # scripts/test: one for both legs
    if not folder:
        base = tmp_path_factory.getbasetemp()
        folder = str((base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "models")
    models = SessionModels(Path(folder))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paperfeed.runtime, "load_embedder", models.load)
        yield models


@pytest.fixture
def home(tmp_path: Path, database_url: str | None, request: pytest.FixtureRequest) -> Path:
    """The test's data directory: on SQLite it holds a copy of the migrated catalog (of the
    seeded one, when the test asked for a seed); with the `empty_catalog` mark it is not made
    yet."""
    home = tmp_path / "home"
    if not _empty(request):
        catalogs.seed_home(home, _seed(request))
    return home


@pytest.fixture
def settings(home: Path, database_url: str | None) -> Settings:
    return Settings(
        home=home,
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
