"""The app factory: one ASGI app (pages, feeds, JSON API) built from settings, never at import
time. `paperfeed serve`, the tests and the benchmarks all call `create_app`. The sibling routers
of `web` and `api` and the one error mapping (http/errors.py) are assembled once per process
(`_routes`); each app puts its runtime, limits and headers in front of them."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from paperfeed import __version__
from paperfeed.community.cards import REMOTE_IMAGE_ORIGINS
from paperfeed.config import Settings
from paperfeed.http import errors
from paperfeed.http.access_log import AccessLog
from paperfeed.http.deps import RUNTIME_KEY
from paperfeed.http.security import LimitsAndHeaders
from paperfeed.runtime import Runtime
from paperfeed.web.templates import STATIC_DIR, error_page

API_DESCRIPTION = """\
paperfeed's JSON API. Two families of endpoints:

* **native** (`/api/v1/...`): search, papers, similar papers, daily lists, trending,
  submissions and upvotes. Reads are anonymous; writes take an API token
  (`Authorization: Bearer pf_...`, created on the account page).
* **library** (`/api/v1/collections`, `/marks`, `/follows`, `/ratings`): your collections
  with notes, read and "not interested" marks, follows and likes; private, so every call
  takes an API token, reads too.
* **Hugging Face-compatible** (`/api/papers/search`, `/api/papers/{id}`, `/api/daily_papers`,
  `/papers/{id}.md`): the shapes the `huggingface_hub` client parses, so
  `HfApi(endpoint="http://this-server")` works unmodified.

Errors are JSON objects `{"error": "..."}` with a 4xx status (503 when arXiv cannot be
reached for a submission). Paper ids are arXiv ids (or arXiv URLs), or `pf-<n>` for papers
without one; periods are `YYYY-MM-DD`, ISO weeks `YYYY-Www` and months `YYYY-MM`.
"""


def create_app(runtime: Runtime | None = None, *, settings: Settings | None = None) -> FastAPI:
    """An app over `runtime` (default: one made from `settings`, or from the environment): its
    limits, headers, access log and proxy handling, in front of the process's one set of
    routes (`_routes`), which find this runtime in each request's scope."""
    runtime = runtime or Runtime(settings or Settings())
    runtime.engine  # noqa: B018  (a new data directory is initialised before the first request)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Page and API handlers are sync (blocking database and search calls) and run in
        # anyio's worker threads. Its default of 40 lets a burst of CPU-bound requests starve
        # the event loop of the GIL (long tails); a few threads per process keep it responsive.
        anyio.to_thread.current_default_thread_limiter().total_tokens = runtime.settings.web_threads
        runtime.index.start()  # following from the start: its work is done before requests
        yield
        runtime.close()

    routes = _routes()
    # After each poll the index follower's thread makes For you's candidates' pool ahead of
    # the readers (recommend/foryou.py ForYouService.warm).
    runtime.index.also(runtime.for_you.warm)

    async def to_routes(scope: Scope, receive: Receive, send: Send) -> None:
        scope[RUNTIME_KEY] = runtime
        scope.pop("router", None)  # the routes' own router (for `url_for`), not this empty one
        await routes(scope, receive, send)

    # No routes of its own: every request goes on to the shared ones, whatever its path.
    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.router.default = to_routes
    app.add_middleware(
        LimitsAndHeaders,
        max_body=runtime.settings.max_body_bytes,
        # The search index follows the catalog in a thread, started by the first request.
        on_request=runtime.index.start,
        image_origins=REMOTE_IMAGE_ORIGINS if runtime.settings.remote_images else (),
    )

    settings = runtime.settings
    if settings.access_log or settings.metrics_enabled:  # outside the limits: sees every answer
        app.add_middleware(
            AccessLog, write_log=settings.access_log, metrics=settings.metrics_enabled
        )
    if settings.trusted_proxies:
        # Outermost: the client address and scheme are the forwarded ones before anything
        # (the access log included) reads them. Only these proxies are believed (`paperfeed
        # serve` runs uvicorn without its own proxy-header handling, which trusts 127.0.0.1).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


@functools.cache
def _routes() -> FastAPI:
    """Every route (pages, feeds, both APIs, the docs, static files), the error mapping and
    the API document, built once per process and shared by the apps `create_app` makes:
    FastAPI analyses each route's parameters and dependencies once per app that includes it
    (~0.4 s for this app's 117 routes, at its first request), and nothing here depends on the
    runtime, which handlers get from the request (`deps.get_runtime`)."""
    app = FastAPI(
        title="paperfeed",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN: ours is http/docs.py
        redoc_url=None,
        openapi_tags=[
            {"name": "native", "description": "paperfeed's own API."},
            {"name": "huggingface", "description": "Hugging Face papers API compatible."},
            {
                "name": "library",
                "description": "Your collections, marks, follows and ratings (private: "
                "every call takes your API token).",
            },
        ],
    )
    errors.install(app, error_page)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    from paperfeed.api.foryou import router as foryou_api_router
    from paperfeed.api.hf import router as hf_router
    from paperfeed.api.library import router as library_api_router
    from paperfeed.api.native import router as native_router
    from paperfeed.http import docs
    from paperfeed.http.ops import router as ops_router
    from paperfeed.web.accounts import router as accounts_router
    from paperfeed.web.authors import router as authors_router
    from paperfeed.web.digest import router as digest_router
    from paperfeed.web.feeds import router as feeds_router
    from paperfeed.web.following import router as following_router
    from paperfeed.web.foryou import router as foryou_router
    from paperfeed.web.library import router as library_router
    from paperfeed.web.pages import router as pages_router

    app.include_router(ops_router)
    docs.install(app)
    app.include_router(native_router)
    app.include_router(library_api_router)
    app.include_router(foryou_api_router)
    app.include_router(hf_router)
    app.include_router(feeds_router)
    app.include_router(accounts_router)
    app.include_router(authors_router)
    app.include_router(digest_router)
    app.include_router(library_router)
    app.include_router(following_router)
    app.include_router(foryou_router)
    app.include_router(pages_router)
    app.openapi = lambda: _openapi_with_our_errors(app)  # type: ignore[method-assign]
    return app


def _openapi_with_our_errors(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents invalid input as 422 with its own body; this app answers 400 with
    `{"error": "..."}` (what the Hugging Face client expects), so the document says that. Every
    operation that takes a body may also answer 413 (the body limit, http/security.py)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    error = {
        "description": "Invalid request",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    too_large = {
        "description": "Request body larger than the server's limit (PAPERFEED_MAX_BODY_BYTES)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", error)
            if "requestBody" in operation:
                responses.setdefault("413", too_large)
    components = schema.get("components", {}).get("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.setdefault(
        "ErrorResponse",
        {
            "title": "ErrorResponse",
            "type": "object",
            "properties": {"error": {"title": "Error", "type": "string"}},
            "required": ["error"],
        },
    )
    app.openapi_schema = schema
    return schema
