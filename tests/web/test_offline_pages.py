"""Nothing is loaded from other sites: every kind of page a reader meets, opened in Chromium
with every host but this server refused, asks for nothing elsewhere and breaks no rule of
its Content-Security-Policy (thumbnails, the one exception, only with
PAPERFEED_REMOTE_IMAGES: tests/web/test_cards.py). In the full browser, /usr/bin/chromium."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, Route, expect

from tests.web.support import FULL_CHROMIUM, Site, Watch, launched


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """The full browser, Debian's /usr/bin/chromium, as readers run it (the other browser
    tests use its headless shell: tests/web/conftest.py)."""
    with launched(playwright, FULL_CHROMIUM) as instance:
        yield instance


PAGES = (
    "/",
    "/papers/date/2026-07-31?sort=date",
    "/papers/week/2026-W31",
    "/papers/month/2026-07",
    "/trending",
    "/search?q=long-term+memory",
    "/search?q=1706.03762",
    "/submit",
    "/signup",
    "/signin",
    "/reset",
    "/docs",
)


def test_no_page_loads_anything_from_another_site(page: Page, site: Site, watch: Watch) -> None:
    foreign: list[str] = []

    def only_this_server(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_this_server)
    for path in PAGES:
        response = page.goto(f"{site.url}{path}")
        assert response is not None and response.status < 400, path
    # A paper's page and one of its authors', reached as a reader does.
    page.goto(f"{site.url}/papers/date/2026-07-31")
    page.locator("li.paper h3 a").first.click()
    expect(page.locator("main h1")).to_be_visible()
    page.locator("main a[href^='/authors/']").first.click()
    expect(page.locator("li.paper").first).to_be_visible()

    assert foreign == [], f"pages asked other sites for {foreign}"
    assert watch.csp_violations == []
    assert watch.script_errors == []
