"""Property-based fuzzing of the JSON API with schemathesis: every operation in the app's own
OpenAPI document (native `/api/v1` and the Hugging Face-compatible endpoints), called over HTTP
on the real app with generated valid and invalid inputs, on a catalog holding real imported
papers, with an API token so that the write endpoints run too, and schemathesis's coverage
cases with and without one. Every check schemathesis has runs (as `st run --checks all`): no
answer may be a 5xx, every answer must be what the document promises (status code, content
type, headers, body schema), valid input is accepted and invalid input refused, a method a
path does not take is a 405 listing the ones it does."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from lxml import etree
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from paperfeed.api import foryou, hf, library, native
from paperfeed.config import Settings
from paperfeed.papers.ids import ARXIV_REFERENCE_PATTERN
from paperfeed.runtime import Runtime
from tests.conftest import DATA, scratch_database
from tests.support.accounts import confirmed_user
from tests.support.cli import HEAD200, Cli
from tests.support.http import FixtureServer, Response
from tests.support.server import LiveServer, http_client, live_server

HF_DAILY = DATA / "fixtures" / "hf_papers"
ARXIV_FEED = DATA / "fixtures" / "arxiv_api" / "query_transformer_cs.LG_2026-06-14.xml"
MAX_EXAMPLES = 6  # per operation and mode, a new random sample each run
# The random cases run on SQLite only (tests/conftest.py `_runs`): what the backend changes
# (values a database cannot hold, ids over its integer range) the coverage cases below reach
# on both backends with their boundary values; the random ones walk the same handlers again.
# Every check runs on every operation (`call_and_validate` runs all of schemathesis's checks
# that apply to a case; those of its coverage phase, such as unsupported methods and their
# `Allow`, run on the coverage cases below), and none is relaxed: the document promises
# nothing the server then refuses, and refuses nothing it then accepts.


def _empty_arxiv_answer(path: str, params: dict[str, list[str]]) -> Response | None:
    """arXiv's answer for ids it does not know: a real saved feed with no entries, so that a
    submission of an unknown id is a 404 and no test reaches the internet."""
    if path != "/api/query":
        return None
    root = etree.parse(str(ARXIV_FEED)).getroot()
    for entry in root.findall("{http://www.w3.org/2005/Atom}entry"):
        root.remove(entry)
    return Response(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@dataclass(frozen=True)
class FuzzedSite:
    server: LiveServer
    token: str
    paper_ids: list[str]  # real ids in the catalog, some on a daily list and some not


@pytest.fixture(scope="module")
def fuzzed_site(
    tmp_path_factory: pytest.TempPathFactory, catalog_server: str | None
) -> Iterator[FuzzedSite]:
    """The app over real HF daily lists and 200 real arXiv records (some on no daily list, so
    submissions can succeed), served on 127.0.0.1, and an API token of a fresh account."""
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    home = tmp_path_factory.mktemp("fuzz-home")
    databases = ExitStack()
    url = databases.enter_context(scratch_database())
    arxiv = FixtureServer(route=_empty_arxiv_answer)
    arxiv.start()
    cli = Cli(
        {
            "PAPERFEED_HOME": str(home),
            "PAPERFEED_DATABASE_URL": url,
            "PAPERFEED_CONFIG": None,
            "PAPERFEED_REQUEST_DELAY": "0",
        }
    )
    cli("import", "snapshot", DATA / HEAD200, "--no-progress", "--no-index")
    cli("import", "hf-daily", *sorted(HF_DAILY.glob("*.json")), "--no-progress")
    runtime = Runtime(
        Settings(
            home=home,
            database_url=url,
            request_delay=0.0,
            http_retries=0,
            http_timeout=10.0,
            arxiv_api_endpoint=f"{arxiv.url}/api/query",
            rate_limit_scale=1000.0,  # fuzzing submits far more than a person would
        )
    )
    user = confirmed_user(runtime.accounts, "fuzzer@example.org", "fuzzer")
    token = runtime.accounts.create_api_token(user, "fuzz")
    listed = [card.public_id for card in runtime.daily.papers(dt.date(2026, 6, 12))[:4]]
    unlisted = [f"0704.{n:04d}" for n in range(1, 5)]  # from the snapshot, on no daily list
    try:
        with live_server(runtime) as server:
            yield FuzzedSite(server, token, [*listed, *unlisted, "pf-1"])
    finally:
        runtime.close()
        arxiv.stop()
        databases.close()  # drops the PostgreSQL database


@pytest.fixture(scope="module")
def api_schema(fuzzed_site: FuzzedSite) -> Any:
    """The OpenAPI document as the running app serves it. Invalid data may also be refused with
    413 (schemathesis's default list of refusals lacks it): a note or comment far over its
    length limit is a body over the server's body limit, refused before it is read."""
    return schemathesis.openapi.from_url(f"{fuzzed_site.server.url}/openapi.json", config=_CONFIG)


_REFUSALS = SchemathesisConfig.from_dict({}).projects.get_default()
_CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    *_REFUSALS.checks.negative_data_rejection.expected_statuses,
                    "413",
                ]
            }
        },
        # A collection's import takes a file's text: any string fits the schema, and one that
        # is neither BibTeX nor a list of ids is refused with 400 and the line that is not.
        "operations": [
            {
                "include-path": "/api/v1/collections/{collection_id}/import",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [
                            *_REFUSALS.checks.positive_data_acceptance.expected_statuses,
                            "400",
                        ]
                    }
                },
            }
        ],
    }
)


def _documented_routes() -> list[str]:
    """`METHOD /path` of every API route (the lazy fixture loader of schemathesis does not run
    on pytest 9, so the operations are listed at collection from the routers themselves;
    test_document_lists_exactly_the_api_routes keeps that list honest)."""
    routers = (native.router, library.router, foryou.router, hf.router)
    return sorted(
        f"{method} {route.path_format}"
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
    )


OPERATIONS = _documented_routes()
# The operations that take an API token (test_document_says_which_operations_need_a_token).
SECURED = {
    "POST /api/v1/papers/{paper_id}/upvote",
    "DELETE /api/v1/papers/{paper_id}/upvote",
    "POST /api/v1/submit",
    # the library: private, reads included (api/library.py)
    *(
        route
        for route in _documented_routes()
        if route.split(" ", 1)[1].startswith(
            (
                "/api/v1/collections",
                "/api/v1/marks",
                "/api/v1/follows",
                "/api/v1/ratings",
                "/api/v1/me/",  # for you (api/foryou.py)
            )
        )
    ),
}


@pytest.mark.postgresql
def test_document_lists_exactly_the_api_routes(api_schema: Any) -> None:
    served = {
        f"{op.method.upper()} {op.path}"
        for op in (result.ok() for result in api_schema.get_all_operations())
    }
    assert served == set(OPERATIONS)
    assert {
        "GET /api/v1/search",
        "GET /api/v1/papers/{paper_id}",
        "POST /api/v1/papers/{paper_id}/upvote",
        "DELETE /api/v1/papers/{paper_id}/upvote",
        "GET /api/v1/daily",
        "GET /api/v1/trending",
        "POST /api/v1/submit",
    } <= served


@pytest.mark.postgresql
def test_document_says_which_operations_need_a_token(fuzzed_site: FuzzedSite) -> None:
    with http_client(fuzzed_site.server.url) as client:
        document = client.get("/openapi.json").json()
    [scheme] = document["components"]["securitySchemes"].values()
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    secured = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security")
    }
    assert secured == SECURED


def _cases(operation: Any, mode: GenerationMode, paper_ids: list[str]) -> st.SearchStrategy[Any]:
    """Generated cases; valid ones also name real papers half of the time, so that votes and
    submissions reach the database instead of stopping at "not found"."""
    generated = operation.as_strategy(generation_mode=mode)
    if mode is not GenerationMode.POSITIVE:
        return generated

    def naming(pid: str) -> st.SearchStrategy[Any]:
        if operation.path == "/api/v1/submit":
            return operation.as_strategy(generation_mode=mode, body={"paper": pid})
        return operation.as_strategy(generation_mode=mode, path_parameters={"paper_id": pid})

    if operation.path == "/api/v1/submit":  # (arXiv ids only: `pf-N` names no arXiv paper)
        arxiv_ids = [pid for pid in paper_ids if re.fullmatch(ARXIV_REFERENCE_PATTERN, pid)]
        return st.one_of(generated, st.sampled_from(arxiv_ids).flatmap(naming))
    if "{paper_id}" in operation.path:
        return st.one_of(generated, st.sampled_from(paper_ids).flatmap(naming))
    return generated


def _sent_query_names(query: dict[str, Any] | None) -> set[str]:
    """The names of the query parameters in the URL that schemathesis's HTTP client (requests)
    sends for `query`."""
    url = requests.Request("GET", "http://fuzzed/", params=query or {}).prepare().url or ""
    return set(parse_qs(urlsplit(url).query, keep_blank_values=True))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_answers_as_documented(
    label: str,
    mode: GenerationMode,
    api_schema: Any,
    fuzzed_site: FuzzedSite,
) -> None:
    """Generated requests (valid ones, and with mode NEGATIVE ones that break the schema) get
    no 5xx, a documented status, and a body matching the documented schema; invalid input is
    refused with a 4xx."""
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    auth = {"Authorization": f"Bearer {fuzzed_site.token}"}

    @given(case=_cases(operation, mode, fuzzed_site.paper_ids))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def fuzz(case: Any) -> None:
        if mode is GenerationMode.NEGATIVE:
            # The HTTP client leaves a query parameter out of the URL when its value is None
            # or an empty list or object: the request sent would not be the invalid one made.
            assume(_sent_query_names(case.query) == set(case.query or {}))
        case.call_and_validate(headers=auth, timeout=30)

    try:
        fuzz()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        pytest.skip("no parameter of this operation has a value its schema forbids")


@pytest.mark.postgresql  # boundary values: ids over its integer range, NUL in text, ...
@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_answers_its_coverage_cases_as_documented(
    label: str, api_schema: Any, fuzzed_site: FuzzedSite
) -> None:
    """schemathesis's coverage phase (the `st run` CLI's second): boundary and pattern values
    of every parameter, each parameter missing or of the wrong type, methods the path does not
    take (a 405 with an `Allow` of exactly the documented methods). The operations that take
    an API token get each case twice, with the token and without one (a 401, never a
    success); the others (public reads: a token changes nothing there) get it anonymously."""
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    token = {"Authorization": f"Bearer {fuzzed_site.token}"}
    runs = [token, {}] if label in SECURED else [{}]
    cases = api_schema.iter_coverage_cases(
        operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=api_schema.config.generation_for(operation=operation, phase="coverage"),
    )
    count = 0
    for case in cases:  # (made once for both runs: making them costs half as much as sending)
        for headers in runs:
            case.call_and_validate(headers=headers, timeout=30)
        count += 1
    assert count > 0


@pytest.mark.postgresql
def test_fuzzed_catalog_holds_the_real_daily_lists(fuzzed_site: FuzzedSite) -> None:
    with http_client(fuzzed_site.server.url) as client:
        daily = client.get("/api/v1/daily", params={"date": "2026-06-12"}).json()
        assert len(daily["papers"]) == 30
        assert client.get("/api/v1/papers/0704.0001").json()["id"] == "0704.0001"
