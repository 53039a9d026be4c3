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
# The channels: HTTP handlers and pages over the domain services (tests/<domain>, tests/test_cli*)
CHANNEL_TESTS = tuple(Path(__file__).parent / name for name in ("web", "api"))
SLOW_TIMEOUT = 900  # seconds, for tests marked `slow`


def pytest_report_header() -> str:
    server = catalogs.postgresql_server()
    where = "SQLite (temporary files)" + (f" and PostgreSQL at {server}" if server else "")
    return f"paperfeed catalog backends: {', '.join(catalogs.backends())}; {where}; data: {DATA}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "empty_catalog: the test starts from a new data directory (no home, and on PostgreSQL "
        "an empty database) instead of a copy of the session's migrated catalog",
    )
    config.addinivalue_line(
        "markers",
        "postgresql: a test of tests/web or tests/api whose outcome depends on the catalog's "
        "backend, run on PostgreSQL too (the others of those folders run on SQLite only)",
    )


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by fixture parameters
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `slow` (minutes each) run first: with `pytest -n N --dist loadfile
    --no-loadscope-reorder` (scripts/test) each goes to a worker of its own at the start, so
    they do not end the run on one worker while the others idle. They get 15 minutes instead
    of the default per-test timeout (pyproject.toml). Tests that run on PostgreSQL only where
    it tells something (`_runs`) are deselected elsewhere."""
    for item in items:
        if item.get_closest_marker("slow") and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable
    keep = [item for item in items if _runs(item)]
    if len(keep) < len(items):
        kept = set(map(id, keep))
        config.hook.pytest_deselected(items=[i for i in items if id(i) not in kept])
        items[:] = keep
    scheduling.tell_controller(config, items)


def _backend(item: pytest.Item) -> str | None:
    """The catalog backend a test runs on ("sqlite", "postgresql"), None if it makes none."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("catalog_server") if callspec is not None else None


def _runs(item: pytest.Item) -> bool:
    """Every test that makes a catalog runs on each backend of the run (the `catalog_server`
    fixture's parameters), with one exception: the channel tests (tests/web, tests/api) run
    on PostgreSQL only when marked `postgresql`. Those folders test HTTP handlers, pages and
    browsers over the domain services, whose SQL the tests of each domain (tests/papers,
    tests/ingest, tests/search, tests/community, tests/accounts, tests/library, ...) and the
    CLI tests run on both backends; marked are the ones where the backend changes the outcome:
    values a database cannot hold reaching it through a request, rate limits counted in the
    catalog, processes sharing one catalog, the schema fuzz's boundary cases. Tests driven
    through Chromium run on SQLite only. Tests that make no catalog run once, unless SQLite is not
    among the backends (PostgreSQL alone)."""
    backend = _backend(item)
    if backend is None:
        return "sqlite" in catalogs.backends()
    if backend == "sqlite":
        return True
    if "browser" in getattr(item, "fixturenames", ()):
        return False
    channel = any(item.path.is_relative_to(folder) for folder in CHANNEL_TESTS)
    return not channel or item.get_closest_marker("postgresql") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    catalogs.use_backend(_backend(item))
    catalogs.allow_scratch_databases(_backend(item) is not None)


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


@pytest.fixture(scope="session", params=catalogs.backends())
def catalog_server(request: pytest.FixtureRequest) -> str | None:
    """The backend of the test's catalogs: None for SQLite files, or the PostgreSQL server's
    URL. Every test that makes a catalog asks for it, through `database_url` or, for a
    module's shared catalog made with `scratch_database`, directly: it runs once per backend
    (`test_x[sqlite]`, `test_x[postgresql]`); see `_runs`."""
    return catalogs.postgresql_server() if request.param == "postgresql" else None


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
    papers listed on 2026-06-12, 2026-07-31 and 2026-08-03), indexed for search by the import."""


@pytest.fixture
def seed_snapshot_head200(data_dir: Path) -> None:
    """The test's catalog starts with the 200 records of the Kaggle snapshot head imported and
    indexed for search (`paperfeed import snapshot`, as the `imported` fixture promises)."""


@pytest.fixture
def seed_hf_daily_list(data_dir: Path) -> None:
    """The test's catalog starts with one real HF daily list imported (the 30 papers of
    2026-07-31), indexed for search by the import."""


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
