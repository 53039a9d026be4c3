"""The one mapping from errors to HTTP answers, for pages, feeds and both APIs: a status and
a message; JSON `{"error": "..."}` under /api/ and for `.md` paths, the error page otherwise.

Services raise domain errors (community, periods, accounts, rate limits); handlers let them
through, and `install` answers them here."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from paperfeed.accounts.rate_limit import RateLimited
from paperfeed.accounts.service import AccountError
from paperfeed.community.errors import (
    CommunityError,
    Duplicate,
    FetchUnavailable,
    Forbidden,
    NotFound,
)
from paperfeed.papers.ids import InvalidPaperId
from paperfeed.papers.lookup import PaperNotFound
from paperfeed.papers.periods import BadPeriod

# Most specific first: the first class an error is an instance of gives its status.
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404),
    (PaperNotFound, 404),
    (InvalidPaperId, 404),  # a path that names no paper: not found, as any unknown path
    (Forbidden, 403),
    (Duplicate, 409),
    (FetchUnavailable, 503),
    (RateLimited, 429),
    (CommunityError, 400),
    (AccountError, 400),
    (BadPeriod, 400),
)
DOMAIN_ERRORS = (
    CommunityError,
    PaperNotFound,
    InvalidPaperId,
    AccountError,
    BadPeriod,
    RateLimited,
)

# Renders the HTML error page: (request, status, message) -> response.
ErrorPage = Callable[[Request, int, str], Response]


def status_of(exc: Exception) -> int:
    """The HTTP status of a domain error (500 for anything else)."""
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 500)


def http_error(exc: Exception) -> HTTPException:
    """A domain error as the HTTPException it answers with (Retry-After on a 429)."""
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return HTTPException(status_of(exc), str(exc), headers=headers)


# What a request's parameters are called in a sentence (others by their own name).
PARAMETER_NAMES = {
    "page": "the page number",
    "sort": "the sort order",
    "q": "the query",
    "limit": "the number of results",
    "offset": "the offset",
    "cat": "the category",
    "since": "the first date",
    "until": "the last date",
}
_ALTERNATIVES = re.compile(r"\^\(([\w|.-]+)\)\$")


def readable_problem(error: Mapping[str, Any]) -> str:
    """One of a request's validation errors (pydantic's) as a sentence for a person:
    "The page number must be at most 50." where pydantic says "page: Input should be less
    than or equal to 50"."""
    loc = [str(part) for part in error.get("loc", ())]
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    name = ".".join(loc[1:])
    if loc[:1] == ["body"] and kind in ("json_invalid", "model_attributes_type", "dict_type"):
        return "The request body must be a JSON object."
    subject = PARAMETER_NAMES.get(name, f"“{name}”" if name else "the request")
    if kind == "missing":
        said = "is required"
    elif kind in ("less_than_equal", "less_than", "greater_than_equal", "greater_than"):
        bound = next(iter(ctx.values()), "")
        words = {
            "less_than_equal": "at most",
            "less_than": "less than",
            "greater_than_equal": "at least",
            "greater_than": "more than",
        }
        said = f"must be {words[kind]} {bound:,}" if isinstance(bound, int) else f"must be {bound}"
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        said = "must be a whole number"
    elif kind == "string_too_long":
        said = f"is too long (at most {ctx.get('max_length', 0):,} characters)"
    elif kind == "string_too_short":
        said = "is too short"
    elif kind == "string_pattern_mismatch":
        choices = _ALTERNATIVES.fullmatch(str(ctx.get("pattern", "")))
        said = (
            "must be " + " or ".join(f"“{c}”" for c in choices[1].split("|"))
            if choices
            else "is not in the expected form"
        )
    elif kind == "literal_error":
        said = f"must be {ctx.get('expected', 'one of the listed values')}"
    else:
        detail = str(error.get("msg", "")).removeprefix("Value error, ").rstrip(".")
        said = f"is not valid: {detail}" if detail else "is not valid"
    sentence = f"{subject} {said}."
    return sentence[0].upper() + sentence[1:]


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(app: FastAPI, request: Request) -> str:
    """The methods some route answers at this request's path, for `Allow` (RFC 9110): each
    method whose request the router would hand to a route (mounted apps, which take every
    method and refuse some themselves, aside)."""
    routes = [route for route in app.router.routes if not isinstance(route, Mount)]
    allowed = [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.endswith(".md")


def install(app: FastAPI, error_page: ErrorPage) -> None:
    def answer(
        request: Request, status: int, message: str, headers: Mapping[str, str] | None
    ) -> Response:
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=status, headers=headers)
        response = error_page(request, status, message)
        response.headers.update(headers or {})  # e.g. Retry-After on a 429
        return response

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> Response:
        headers = exc.headers
        allowed = allowed_methods(app, request) if exc.status_code == 405 else ""
        if allowed:  # (the router names only the methods of the first route it tried)
            headers = {**(headers or {}), "Allow": allowed}
        return answer(request, exc.status_code, str(exc.detail), headers)

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        # Every page and API route that names a paper or comment answers an unknown one alike.
        error = http_error(exc)
        return answer(request, error.status_code, error.detail, error.headers)

    for kind in DOMAIN_ERRORS:
        app.add_exception_handler(kind, on_domain_error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = " ".join(dict.fromkeys(readable_problem(e) for e in exc.errors()))
        return answer(request, 400, problems or "The request is not valid.", None)

    @app.exception_handler(sa.exc.DataError)
    async def unstorable_value(request: Request, exc: sa.exc.DataError) -> Response:
        # A value from the request that the database refuses to store or compare (PostgreSQL:
        # a NUL character in text, an integer out of range) is the client's error, not ours.
        logging.getLogger(__name__).warning("refused a request value: %s", exc.orig)
        message = "the request holds a value that cannot be stored (e.g. a NUL character)"
        return answer(request, 400, message, None)
