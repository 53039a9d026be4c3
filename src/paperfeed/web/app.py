"""The app factory: one ASGI app (pages, feeds, JSON API) built from settings, never at import
time. `paperfeed serve`, the tests and the benchmarks all call `create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed import __version__
from paperfeed.community.service import NotFound
from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from paperfeed.web.context import render
from paperfeed.web.security import LimitsAndHeaders

API_DESCRIPTION = """\
paperfeed's JSON API. Two families of endpoints:

* **native** (`/api/v1/...`): search, papers, similar papers, daily lists, trending,
  submissions and upvotes. Reads are anonymous; writes take an API token
  (`Authorization: Bearer pf_...`, created on the account page).
* **Hugging Face-compatible** (`/api/papers/search`, `/api/papers/{id}`, `/api/daily_papers`,
  `/papers/{id}.md`): the shapes the `huggingface_hub` client parses, so
  `HfApi(endpoint="http://this-server")` works unmodified.

Errors are JSON objects `{"error": "..."}` with a 4xx status.
"""


def create_app(runtime: Runtime | None = None, *, settings: Settings | None = None) -> FastAPI:
    runtime = runtime or Runtime(settings or Settings())
    runtime.engine  # noqa: B018  (a new data directory is initialised before the first request)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Page and API handlers are sync (blocking database and search calls) and run in
        # anyio's worker threads. Its default of 40 lets a burst of CPU-bound requests starve
        # the event loop of the GIL (long tails); a few threads per process keep it responsive.
        anyio.to_thread.current_default_thread_limiter().total_tokens = runtime.settings.web_threads
        yield
        runtime.close()

    app = FastAPI(
        title="paperfeed",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "native", "description": "paperfeed's own API."},
            {"name": "huggingface", "description": "Hugging Face papers API compatible."},
        ],
    )
    app.state.runtime = runtime

    app.add_middleware(
        LimitsAndHeaders,
        max_body=runtime.settings.max_body_bytes,
        # The search index follows the catalog in a thread, started by the first request.
        on_request=runtime.index.start,
    )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
            )
        response = render(
            request, "error.html", exc.status_code, status=exc.status_code, message=str(exc.detail)
        )
        response.headers.update(exc.headers or {})  # e.g. Retry-After on a 429
        return response

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        # Every page and API route that names a paper or comment answers an unknown one alike.
        return await http_error(request, StarletteHTTPException(404, str(exc)))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
            for e in exc.errors()
        )
        if _wants_json(request):
            return JSONResponse({"error": problems or "invalid request"}, status_code=400)
        return render(request, "error.html", 400, status=400, message=problems)

    @app.exception_handler(sa.exc.DataError)
    async def unstorable_value(request: Request, exc: sa.exc.DataError) -> Response:
        # A value from the request that the database refuses to store or compare (PostgreSQL:
        # a NUL character in text, an integer out of range) is the client's error, not ours.
        logging.getLogger(__name__).warning("refused a request value: %s", exc.orig)
        message = "the request holds a value that cannot be stored (e.g. a NUL character)"
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=400)
        return render(request, "error.html", 400, status=400, message=message)

    static = Path(__file__).with_name("static")
    app.mount("/static", StaticFiles(directory=static), name="static")

    from paperfeed.api.hf import router as hf_router
    from paperfeed.api.native import router as native_router
    from paperfeed.web.accounts import router as accounts_router
    from paperfeed.web.feeds import router as feeds_router
    from paperfeed.web.pages import router as pages_router

    app.include_router(native_router)
    app.include_router(hf_router)
    app.include_router(feeds_router)
    app.include_router(accounts_router)
    app.include_router(pages_router)
    app.openapi = lambda: _openapi_with_our_errors(app)  # type: ignore[method-assign]
    return app


def _openapi_with_our_errors(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents invalid input as 422 with its own body; this app answers 400 with
    `{"error": "..."}` (what the Hugging Face client expects), so the document says that."""
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
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", error)
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


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.endswith(".md")
