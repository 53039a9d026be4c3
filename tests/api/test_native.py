"""The native JSON API (`/api/v1`) over HTTP, as a client script would use it: the real app on
127.0.0.1 over a catalog holding the real Hugging Face daily lists and 200 real arXiv records,
indexed for search by words and by meaning."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest
from lxml import etree

from paperfeed.accounts.service import User
from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.conftest import DATA, scratch_database
from tests.support.accounts import confirmed_user
from tests.support.cli import HEAD200, Cli
from tests.support.http import FixtureServer, Response
from tests.support.server import live_server

HF_DAILY = DATA / "fixtures" / "hf_papers"
ARXIV_FEED = DATA / "fixtures" / "arxiv_api" / "query_transformer_cs.LG_2026-06-14.xml"
ATOM = "{http://www.w3.org/2005/Atom}"
PASSWORD = "correct horse battery staple"


@dataclass
class Site:
    runtime: Runtime
    client: httpx.Client

    def user(self, name: str) -> tuple[User, dict[str, str]]:
        """A new account and the Authorization header of a fresh API token of it."""
        user = confirmed_user(self.runtime.accounts, f"{name}@example.org", name, PASSWORD)
        token = self.runtime.accounts.create_api_token(user, "test")
        return user, {"Authorization": f"Bearer {token}"}


def _no_such_paper(path: str, params: dict[str, list[str]]) -> Response | None:
    """arXiv's answer for an id it does not have: a real saved feed without entries."""
    if path != "/api/query":
        return None
    root = etree.parse(str(ARXIV_FEED)).getroot()
    for entry in root.findall(f"{ATOM}entry"):
        root.remove(entry)
    return Response(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, catalog_server: str | None) -> Iterator[Site]:
    """One served catalog for the module (indexing takes seconds); each test writes with its
    own account and papers, so the tests do not depend on each other."""
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    home = tmp_path_factory.mktemp("native-api")
    databases = ExitStack()
    url = databases.enter_context(scratch_database())
    arxiv = FixtureServer(route=_no_such_paper)
    arxiv.start()
    env = {"PAPERFEED_HOME": str(home), "PAPERFEED_DATABASE_URL": url, "PAPERFEED_CONFIG": None}
    cli = Cli(env)
    cli("import", "snapshot", DATA / HEAD200, "--no-progress", "--no-index")
    cli("import", "hf-daily", *sorted(HF_DAILY.glob("*.json")), "--no-progress")
    runtime = Runtime(
        Settings(
            home=home,
            database_url=url,
            request_delay=0.0,
            http_retries=0,
            arxiv_api_endpoint=f"{arxiv.url}/api/query",
        )
    )
    try:
        with (
            live_server(runtime) as server,
            httpx.Client(base_url=server.url, timeout=60) as client,
        ):
            yield Site(runtime, client)
    finally:
        runtime.close()
        arxiv.stop()
        databases.close()  # drops the PostgreSQL database


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and body["error"], body
    return str(body["error"])


# -- reads --------------------------------------------------------------------------------------


def test_search_returns_ranked_results_with_snippets(site: Site) -> None:
    response = site.client.get("/api/v1/search", params={"q": "MiniMax Sparse Attention"})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "MiniMax Sparse Attention"
    assert body["total"] >= len(body["results"]) > 1
    results = body["results"]
    assert results[0]["id"] == "2606.13392"
    assert results[0]["title"] == "MiniMax Sparse Attention"
    for hit in results:
        assert hit["id"] and hit["title"] and isinstance(hit["score"], float)
        assert hit["url"] == f"/papers/{hit['id']}"
    scores = [hit["score"] for hit in results]
    assert scores == sorted(scores, reverse=True)
    assert results[0]["snippet"] and "<mark>" in results[0]["snippet_html"]


def test_a_hidden_paper_is_neither_found_nor_counted(site: Site) -> None:
    """Hiding a paper takes it out of search results and out of their count, in the API,
    on the search page and in the HF-compatible search."""
    query = {"q": "MiniMax Sparse Attention", "limit": 100}

    def native() -> tuple[int, list[str]]:
        body = site.client.get("/api/v1/search", params=query).json()
        return body["total"], [hit["id"] for hit in body["results"]]

    def page_count() -> str:
        html = site.client.get("/search", params={"q": query["q"]}).text
        return html.split('<p class="count" role="status">')[1].split(" result")[0]

    total, ids = native()
    assert "2606.13392" in ids and total >= len(ids)
    counted = page_count()
    assert counted == f"{total:,}"
    community = site.runtime
    admin, _ = site.user(f"mod{uuid.uuid4().hex[:8]}")
    admin = site.runtime.accounts.set_role(admin.username, "admin")
    paper_id = community.paper_ids.resolve("2606.13392")
    community.moderation.set_paper_hidden(admin, paper_id, True)
    try:
        hidden_total, hidden_ids = native()
        assert "2606.13392" not in hidden_ids
        assert hidden_total == total - 1
        assert page_count() == f"{total - 1:,}"
        hf = site.client.get("/api/papers/search", params={"q": query["q"]}).json()
        assert "2606.13392" not in [item["paper"]["id"] for item in hf]
        feed = site.client.get("/feeds/search.atom", params={"q": query["q"]}).text
        assert "2606.13392" not in feed
    finally:
        community.moderation.set_paper_hidden(admin, paper_id, False)
    assert native() == (total, ids)


def test_a_hidden_paper_is_404_on_every_route(site: Site) -> None:
    paper = "2606.08063"
    admin, auth = site.user(f"mod{uuid.uuid4().hex[:8]}")
    admin = site.runtime.accounts.set_role(admin.username, "admin")
    paper_id = site.runtime.paper_ids.resolve(paper)
    routes = [
        f"/api/v1/papers/{paper}",
        f"/api/v1/papers/{paper}/similar",
        f"/api/papers/{paper}",
        f"/papers/{paper}.md",
        f"/papers/{paper}",
    ]
    assert [site.client.get(path).status_code for path in routes] == [200] * len(routes)
    site.runtime.moderation.set_paper_hidden(admin, paper_id, True)
    try:
        answers = {path: site.client.get(path).status_code for path in routes}
        upvote = f"/api/v1/papers/{paper}/upvote"
        answers["upvote"] = site.client.post(upvote, headers=auth).status_code
        answers["withdraw"] = site.client.delete(upvote, headers=auth).status_code
    finally:
        site.runtime.moderation.set_paper_hidden(admin, paper_id, False)
    assert answers == dict.fromkeys(answers, 404)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "OPTIONS"])
def test_a_method_a_route_does_not_take_is_405_with_every_allowed_method(
    site: Site, method: str
) -> None:
    for paper in ("2606.13392", "https://arxiv.org/abs/2606.13392v1"):
        upvote = site.client.request(method, f"/api/v1/papers/{paper}/upvote")
        assert upvote.status_code == 405
        assert upvote.headers["allow"] == "DELETE, POST"
        assert upvote.json() == {"error": "Method Not Allowed"}
    if method != "GET":
        similar = site.client.request(method, "/api/v1/papers/2606.13392/similar")
        assert (similar.status_code, similar.headers["allow"]) == (405, "GET")
        search = site.client.request(method, "/api/v1/search")
        assert (search.status_code, search.headers["allow"]) == (405, "GET")


def test_paper_ids_with_slashes_still_name_papers(site: Site) -> None:
    """A paper id in a path may hold slashes (an arxiv.org URL, old-style ids)."""
    for path in (
        "/api/v1/papers/https://arxiv.org/abs/2606.13392v2",
        "/api/v1/papers/https://arxiv.org/abs/2606.13392/similar",
    ):
        response = site.client.get(path)
        assert response.status_code == 200, path
    assert site.client.get("/api/v1/papers/hep-th/9901001").status_code == 404  # not imported


def test_search_pages_and_filters(site: Site) -> None:
    first = site.client.get("/api/v1/search", params={"q": "language models", "limit": 5})
    second = site.client.get(
        "/api/v1/search", params={"q": "language models", "limit": 5, "offset": 5}
    )
    ids_first = [hit["id"] for hit in first.json()["results"]]
    ids_second = [hit["id"] for hit in second.json()["results"]]
    assert len(ids_first) == 5 and ids_second and not set(ids_first) & set(ids_second)
    dated = site.client.get(
        "/api/v1/search", params={"q": "language models", "since": "2026-01-01", "sort": "date"}
    ).json()["results"]
    assert dated and all(hit["submitted"] >= "2026-01-01" for hit in dated)


def test_paper_by_id(site: Site) -> None:
    paper = site.client.get("/api/v1/papers/2606.13392").json()
    assert paper["title"] == "MiniMax Sparse Attention"
    assert paper["daily_date"] == "2026-06-12"
    assert paper["arxiv_url"] == "https://arxiv.org/abs/2606.13392"
    assert paper["submitted"].endswith("Z")  # RFC 3339: the offset is written
    versioned = site.client.get("/api/v1/papers/arXiv:2606.13392v2").json()
    assert versioned["id"] == "2606.13392"


def test_unknown_and_malformed_paper_ids_are_json_404s(site: Site) -> None:
    assert "not in the catalog" in _error(site.client.get("/api/v1/papers/2601.99999"), 404)
    _error(site.client.get("/api/v1/papers/not-a-paper"), 404)
    _error(site.client.get("/api/v1/papers/pf-9999999999999999"), 404)  # beyond 32 bits
    _error(site.client.get("/api/v1/papers/pf-2147483648/similar"), 404)
    _error(site.client.get("/api/v1/papers/pf-１２"), 404)  # digits, but not ASCII ones
    _error(site.client.get("/api/v1/papers/2601.99999/similar"), 404)


def test_similar_papers_exclude_the_paper_itself(site: Site) -> None:
    similar = site.client.get("/api/v1/papers/2606.13392/similar", params={"limit": 5}).json()
    assert 0 < len(similar) <= 5
    assert "2606.13392" not in [paper["id"] for paper in similar]


def test_similar_papers_are_the_services_and_leave_out_a_hidden_paper(site: Site) -> None:
    """The API lists what `SearchService.similar` ranks (words and meaning); hiding the first
    of them takes it out of the list and out of the paper page's similar papers. (The server
    follows the catalog meanwhile: BM25 statistics can move a little between two calls, so
    the lists are compared as sets.)"""
    paper = "2606.13392"
    url = f"/api/v1/papers/{paper}/similar"
    listed = [p["id"] for p in site.client.get(url, params={"limit": 8}).json()]
    ranked = site.runtime.search.similar(site.runtime.paper_ids.resolve(paper), limit=8)
    served = {hit.arxiv_id or f"pf-{hit.paper_id}" for hit in ranked}
    assert len(listed) == 8 and paper not in listed and len(served & set(listed)) >= 6
    first = listed[0]
    assert f"/papers/{first}" in site.client.get(f"/papers/{paper}").text
    admin, _ = site.user(f"mod{uuid.uuid4().hex[:8]}")
    admin = site.runtime.accounts.set_role(admin.username, "admin")
    hidden = site.runtime.paper_ids.resolve(first)
    site.runtime.moderation.set_paper_hidden(admin, hidden, True)
    try:
        after = [p["id"] for p in site.client.get(url, params={"limit": 8}).json()]
        page = site.client.get(f"/papers/{paper}").text
    finally:
        site.runtime.moderation.set_paper_hidden(admin, hidden, False)
    # The others stay (scores are normalised over the candidates, so their order may shift).
    assert first not in after and len(after) == 8 and len(set(listed[1:]) & set(after)) >= 6
    assert f'href="/papers/{first}"' not in page


def test_daily_by_date_week_and_month(site: Site) -> None:
    day = site.client.get("/api/v1/daily", params={"date": "2026-06-12"}).json()
    assert (day["start"], day["end"]) == ("2026-06-12", "2026-06-12")
    assert len(day["papers"]) == 30
    upvotes = [paper["upvotes"] for paper in day["papers"]]
    assert upvotes == sorted(upvotes, reverse=True)
    assert all(paper["daily_date"] == "2026-06-12" for paper in day["papers"])

    week = site.client.get("/api/v1/daily", params={"week": "2026-W24"}).json()
    assert (week["start"], week["end"]) == ("2026-06-08", "2026-06-14")
    assert {p["id"] for p in week["papers"]} == {p["id"] for p in day["papers"]}

    month = site.client.get("/api/v1/daily", params={"month": "2026-08"}).json()
    assert (month["start"], month["end"]) == ("2026-08-01", "2026-08-31")
    assert len(month["papers"]) == 3

    by_date = site.client.get("/api/v1/daily", params={"month": "2026-07", "sort": "date"})
    assert len(by_date.json()["papers"]) == 30


def test_daily_without_parameters_is_the_latest_list(site: Site) -> None:
    latest = site.runtime.daily.latest_daily_date()
    body = site.client.get("/api/v1/daily").json()
    assert body["start"] == str(latest)


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2026-02-30"},
        {"date": "12/06/2026"},
        {"date": "'; DROP TABLE papers;--"},
        {"date": "1781222400"},  # a Unix time is no date
        {"date": ""},
        {"week": "2026-W60"},
        {"week": "2025-W53"},  # 2025 has 52 ISO weeks
        {"month": "2026-13"},
        {"month": "0000-01"},
        {"sort": "random"},
    ],
)
def test_daily_with_a_bad_period_is_400(site: Site, params: dict[str, str]) -> None:
    _error(site.client.get("/api/v1/daily", params=params), 400)


def test_trending_is_ranked_by_score(site: Site) -> None:
    body = site.client.get("/api/v1/trending", params={"limit": 10}).json()
    assert body["taken_at"].endswith("Z")
    papers = body["papers"]
    assert 0 < len(papers) <= 10
    scores = [paper["trending_score"] for paper in papers]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0


def test_bad_query_parameters_are_json_400s(site: Site) -> None:
    _error(site.client.get("/api/v1/search", params={"q": "x", "limit": 0}), 400)
    _error(site.client.get("/api/v1/search", params={"q": "x", "mode": "telepathy"}), 400)
    _error(site.client.get("/api/v1/search", params={"q": "x", "since": "yesterday"}), 400)
    _error(site.client.get("/api/v1/search", params={"q": "x", "until": "1e9"}), 400)
    _error(site.client.get("/api/v1/trending", params={"limit": "many"}), 400)


# -- writes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/papers/2606.13681/upvote", None),
        ("DELETE", "/api/v1/papers/2606.13681/upvote", None),
        ("POST", "/api/v1/submit", {"paper": "0704.0009"}),
    ],
)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer pf_not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "pf_x"]
)
def test_writes_need_a_valid_token(
    site: Site, method: str, path: str, body: dict[str, str] | None, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = site.client.request(method, path, json=body, headers=headers)
    _error(response, 401)
    if authorization == "Bearer pf_not-a-token":  # a token, not one of ours (RFC 6750 3.1)
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert response.json() == {"error": "invalid API token"}
    else:
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"].startswith("an API token is required")
    assert site.client.get("/api/v1/papers/0704.0009").json()["daily_date"] is None


def test_upvote_is_idempotent_and_can_be_withdrawn(site: Site) -> None:
    _, auth = site.user("voter")
    path = "/api/v1/papers/2606.13289/upvote"
    before = site.client.get("/api/v1/papers/2606.13289").json()["upvotes"]

    first = site.client.post(path, headers=auth)
    second = site.client.post(path, headers=auth)
    assert first.status_code == second.status_code == 200
    voted = {"id": "2606.13289", "upvotes": before + 1, "voted": True}
    assert first.json() == second.json() == voted
    assert site.client.get("/api/v1/papers/2606.13289").json()["upvotes"] == before + 1

    withdrawn = site.client.delete(path, headers=auth)
    again = site.client.delete(path, headers=auth)
    unvoted = {"id": "2606.13289", "upvotes": before, "voted": False}
    assert withdrawn.json() == again.json() == unvoted
    assert site.client.get("/api/v1/papers/2606.13289").json()["upvotes"] == before


def test_votes_of_two_users_add_up(site: Site) -> None:
    _, alice = site.user("alice")
    _, bob = site.user("bob")
    path = "/api/v1/papers/2606.13106/upvote"
    before = site.client.get("/api/v1/papers/2606.13106").json()["upvotes"]
    site.client.post(path, headers=alice)
    assert site.client.post(path, headers=bob).json()["upvotes"] == before + 2


def test_upvote_of_an_unknown_paper_is_404(site: Site) -> None:
    _, auth = site.user("lost")
    _error(site.client.post("/api/v1/papers/2601.99999/upvote", headers=auth), 404)


def test_submit_puts_a_catalog_paper_on_todays_list(site: Site) -> None:
    _, auth = site.user("submitter")
    response = site.client.post(
        "/api/v1/submit", json={"paper": "https://arxiv.org/abs/0704.0002v1"}, headers=auth
    )
    assert response.status_code == 201, response.text
    paper = response.json()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert paper["id"] == "0704.0002"
    assert paper["title"] == "Sparsity-certifying Graph Decompositions"
    assert paper["submitted_by"] == "submitter"
    assert paper["daily_date"] == today

    listed = site.client.get("/api/v1/daily", params={"date": today}).json()["papers"]
    assert "0704.0002" in [p["id"] for p in listed]

    again = site.client.post("/api/v1/submit", json={"paper": "0704.0002"}, headers=auth)
    assert "already on the daily list" in _error(again, 409)
    on_hf_list = site.client.post("/api/v1/submit", json={"paper": "2606.13392"}, headers=auth)
    assert "2026-06-12" in _error(on_hf_list, 409)


@pytest.mark.parametrize("text", ["not an id", "2613.00001", "0704.00001", " ", ""])
def test_submit_of_an_invalid_id_is_400(site: Site, text: str) -> None:
    _, auth = site.user(f"typo-{uuid.uuid4().hex[:8]}")
    _error(site.client.post("/api/v1/submit", json={"paper": text}, headers=auth), 400)


def test_submit_with_a_malformed_body_is_400(site: Site) -> None:
    _, auth = site.user("sloppy")
    for body in (b"{", b"[]", b'{"paper": 7}', b'{"papers": "0704.0003"}'):
        response = site.client.post(
            "/api/v1/submit",
            content=body,
            headers={**auth, "Content-Type": "application/json"},
        )
        _error(response, 400)
    assert site.client.get("/api/v1/papers/0704.0003").json()["daily_date"] is None


def test_submit_of_a_paper_arxiv_does_not_know_is_404(site: Site) -> None:
    _, auth = site.user("hopeful")
    response = site.client.post("/api/v1/submit", json={"paper": "2605.99999"}, headers=auth)
    assert "arXiv does not know" in _error(response, 404)
