"""Browser fixtures: Debian's chromium driven by Playwright (one browser per test process), the real
app served by uvicorn over the test's own catalog, a real SMTP server, and a screenshot of
every open page when a test fails."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from paperfeed.clock import Clock, utcnow
from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.support.cli import Cli
from tests.support.models import SessionModels
from tests.support.server import LiveServer, free_port, reserve_port
from tests.web.support import CHROMIUM, HF_DAILY, Inbox, Site, SmtpServer, Watch, launched

ROOT = Path(__file__).parents[2]
PAGES = pytest.StashKey[list[Page]]()
SITES = pytest.StashKey[list[Site]]()


# -- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    with launched(playwright, CHROMIUM) as instance:
        yield instance


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def new_page(
    browser: Browser, watch: Watch, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Page]]:
    """Opens a page in a fresh browser context (its own cookies); keyword arguments go to
    `browser.new_context` (e.g. `java_script_enabled=False`). `watch` sees what it does."""
    contexts = []
    pages = request.node.stash.setdefault(PAGES, [])

    def open_page(**options: Any) -> Page:
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        watch.attach(page)
        pages.append(page)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


def _artifacts_dir() -> Path:
    return Path(os.environ.get("PAPERFEED_ARTIFACTS") or ROOT / "test-artifacts") / "screenshots"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failure, saves a full-page screenshot of each page the test opened and names the
    files in the report (the pages are still open: fixtures are torn down afterwards)."""
    report = yield
    sites = item.stash.get(SITES, [])
    if report.failed and report.when == "call" and sites:
        states = "\n".join(site.server.state() for site in sites)
        report.sections.append(("test servers", states))
    pages = item.stash.get(PAGES, [])
    if report.failed and report.when in ("setup", "call") and pages:
        folder = _artifacts_dir()
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
        saved = []
        for number, page in enumerate(pages, start=1):
            path = folder / f"{stem}-{number}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                saved.append(f"{path} (of {page.url})")
            except Exception as exc:  # a closed page or a crashed browser: say so, go on
                saved.append(f"{path}: no screenshot ({exc})")
        text = "\n".join(saved)
        report.sections.append(("browser screenshots", text))
        reporter = item.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"\nscreenshots of {item.nodeid}:\n{text}")
    return report


# -- the app ----------------------------------------------------------------------------------


@pytest.fixture
def serve(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Callable[..., Site]]:
    """Starts the app over the test's catalog (the `cli` fixture's home and database);
    keyword arguments change settings, `clock` gives the app an injected clock. Its own
    address is its `base_url`, so the links in mail and feeds lead back to it."""
    started = request.node.stash.setdefault(SITES, [])

    def start(*, clock: Clock = utcnow, **changes: Any) -> Site:
        port = reserve_port()
        update = {"base_url": f"http://127.0.0.1:{port}", **changes}
        runtime = Runtime(settings.model_copy(update=update), clock=clock)
        server = LiveServer(runtime, port)
        server.start()
        started.append(Site(server, runtime))
        return started[-1]

    yield start
    for site in started:
        site.server.stop()
        site.runtime.close()


@pytest.fixture
def site(serve: Callable[..., Site], seed_hf_daily_list: None, search_ready: None) -> Site:
    """The app over a catalog holding one real Hugging Face daily list (30 papers of
    2026-07-31), imported and indexed with the CLI as a user would, once per test process."""
    return serve()


@pytest.fixture
def search_ready(settings: Settings, session_models: SessionModels) -> None:
    """The embedding model is loaded, and the test's data directory holds it, before the app
    starts (the first page that needs it does not wait for it)."""
    session_models.load(settings.embedder, settings.home / "models")


@pytest.fixture
def indexed_site(serve: Callable[..., Site], cli: Cli, data_dir: Path, search_ready: None) -> Site:
    """Like `site`, with the papers indexed and embedded for search by the import."""
    cli("import", "hf-daily", data_dir / HF_DAILY, "--no-progress")
    return serve()


# -- mail through a real SMTP server ------------------------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SmtpServer(controller.hostname, controller.port, inbox)
    controller.stop()
