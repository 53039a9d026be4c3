"""The HTTP layer's shape: `web` and `api` are siblings under `http` (neither imports the
other), and every domain error has one HTTP status."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import paperfeed
from paperfeed.accounts.rate_limit import SIGN_IN, RateLimited
from paperfeed.accounts.service import AccountError
from paperfeed.community.errors import (
    CommunityError,
    Duplicate,
    FetchUnavailable,
    Forbidden,
    NotFound,
)
from paperfeed.http.errors import http_error, status_of
from paperfeed.papers.periods import BadPeriod

PACKAGE = Path(paperfeed.__file__).parent


def _imports(folder: str) -> set[tuple[str, str]]:
    found = set()
    for path in (PACKAGE / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add((path.name, node.module))
            elif isinstance(node, ast.Import):
                found.update((path.name, alias.name) for alias in node.names)
    return found


@pytest.mark.parametrize(("folder", "other"), [("api", "paperfeed.web"), ("web", "paperfeed.api")])
def test_web_and_api_do_not_import_each_other(folder: str, other: str) -> None:
    crossing = {(name, module) for name, module in _imports(folder) if module.startswith(other)}
    assert crossing == set()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("paper not found"), 404),
        (Forbidden("only an admin can do that"), 403),
        (Duplicate("already on the daily list"), 409),
        (FetchUnavailable("arXiv could not be reached"), 503),
        (CommunityError("the comment is empty"), 400),
        (AccountError("that email is taken"), 400),
        (BadPeriod("week '2021-W53' is not an ISO week"), 400),
        (RateLimited(SIGN_IN, 42), 429),
        (RuntimeError("a bug"), 500),
    ],
)
def test_each_domain_error_has_one_status(error: Exception, status: int) -> None:
    assert status_of(error) == status
    answer = http_error(error)
    assert (answer.status_code, answer.detail) == (status, str(error))


def test_a_rate_limit_says_when_to_come_back() -> None:
    assert http_error(RateLimited(SIGN_IN, 42)).headers == {"Retry-After": "42"}
