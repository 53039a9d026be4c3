"""The API docs page works offline: Swagger UI comes from the installed `swagger-ui-bundle`
package, under the site's own Content-Security-Policy, and nothing leaves the server."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Page, Route, expect

from paperfeed.http.security import CONTENT_SECURITY_POLICY
from tests.web.support import Site, Watch


def test_docs_render_offline_under_our_policy(
    page: Page, serve: Callable[..., Site], watch: Watch
) -> None:
    site = serve()
    requested: list[str] = []
    refused: list[str] = []

    def only_local(route: Route) -> None:
        url = route.request.url
        requested.append(url)
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            refused.append(url)
            route.abort()
        else:
            route.continue_()

    page.context.route("**/*", only_local)
    response = page.goto(f"{site.url}/docs")
    assert response is not None and response.ok
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY

    # Swagger UI rendered the operations of both API families from /openapi.json (a 1.5 MB
    # script, then the document built on first request: slow on a loaded 2-core machine).
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("paperfeed", timeout=30_000)
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    paths = operations.locator(".opblock-summary-path").all_inner_texts()
    assert any(p.replace("\u200b", "") == "/api/v1/search" for p in paths), paths
    assert any(p.replace("\u200b", "").startswith("/api/daily_papers") for p in paths), paths
    # An operation opens, offline too.
    page.locator(".opblock-summary").filter(has_text="Trending papers").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()

    assert refused == [], f"requests to other hosts: {refused}"
    assert any("/docs-assets/swagger-ui-bundle.js" in url for url in requested)
    assert watch.csp_violations == []
    assert watch.script_errors == []


def test_docs_assets_come_from_the_package(serve: Callable[..., Site]) -> None:
    site = serve()
    page = httpx.get(f"{site.url}/docs")
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    script = httpx.get(f"{site.url}/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert httpx.get(f"{site.url}/redoc").status_code == 404
