"""The API docs page (`/docs`): Swagger UI 5 from the `swagger-ui-py` package (its files only;
the package's framework glue is not used), served from this app under the same
Content-Security-Policy as every page: our own scripts and styles, nothing inline, nothing
from another site. FastAPI's own docs page loads Swagger UI from a CDN; it is off."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def swagger_ui_dir() -> Path:
    """Swagger UI's files in the installed package (found without importing it)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        raise RuntimeError("the swagger-ui-py package is not installed (pip install swagger-ui-py)")
    return Path(spec.origin).parent / "static"


router = APIRouter(include_in_schema=False)

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>paperfeed API</title>
<link rel="icon" href="/static/avatar.svg">
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"><noscript>The API docs page needs JavaScript; the OpenAPI document is
<a href="/openapi.json">/openapi.json</a>.</noscript></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def docs_page() -> HTMLResponse:
    return HTMLResponse(_PAGE)


def install(app: FastAPI) -> None:
    """Mounts Swagger UI's files (from the installed package) and the page on `app`; the
    page's own script is web/static/docs.js."""
    app.mount(
        ASSETS,
        StaticFiles(directory=swagger_ui_dir()),
        name="docs-assets",
    )
    app.include_router(router)
