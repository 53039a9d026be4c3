"""The library in the native API over HTTP (the real app on 127.0.0.1 over real imported
papers): collections, items with notes, exports, marks, follows and ratings, each reader's
alone, with the same token authentication as the other writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import bibtexparser
import httpx
import pytest

from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.conftest import DATA, scratch_database
from tests.support.accounts import confirmed_user
from tests.support.cli import HEAD200, Cli
from tests.support.server import live_server

HF_DAILY = DATA / "fixtures" / "hf_papers"
PAPER, OTHER, THIRD = "2606.12730", "2606.00467", "0704.0002"


class Site:
    def __init__(self, runtime: Runtime, client: httpx.Client) -> None:
        self.runtime, self.client = runtime, client

    def user(self, name: str) -> dict[str, str]:
        user = confirmed_user(self.runtime.accounts, f"{name}@example.org", name)
        return {"Authorization": f"Bearer {self.runtime.accounts.create_api_token(user)}"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, catalog_server: str | None) -> Iterator[Site]:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    home = tmp_path_factory.mktemp("library-api")
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database())
        cli = Cli(
            {"PAPERFEED_HOME": str(home), "PAPERFEED_DATABASE_URL": url, "PAPERFEED_CONFIG": None}
        )
        cli("import", "snapshot", DATA / HEAD200, "--no-progress")
        cli("import", "hf-daily", *sorted(HF_DAILY.glob("*.json")), "--no-progress")
        runtime = Runtime(Settings(home=home, database_url=url))
        stack.callback(runtime.close)
        server = stack.enter_context(live_server(runtime))
        client = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        yield Site(runtime, client)


def test_every_library_route_needs_a_token(site: Site) -> None:
    for method, path in [
        ("GET", "/api/v1/collections"),
        ("POST", "/api/v1/collections"),
        ("GET", "/api/v1/marks"),
        ("POST", "/api/v1/collections/1/import"),
        ("PUT", f"/api/v1/marks/read/{PAPER}"),
        ("GET", "/api/v1/follows"),
        ("GET", "/api/v1/ratings"),
    ]:
        answer = site.client.request(method, path, json={"name": "x"})
        assert answer.status_code == 401, (method, path)
        assert "API token is required" in answer.json()["error"]
    bad = site.client.get("/api/v1/collections", headers={"Authorization": "Bearer pf_nope"})
    assert (bad.status_code, bad.json()) == (401, {"error": "invalid API token"})


def test_collections_items_and_exports(site: Site) -> None:
    ada, bob = site.user("api-ada"), site.user("api-bob")
    c = site.client
    made = c.post(
        "/api/v1/collections", json={"name": "Robots <b>", "description": "d"}, headers=ada
    )
    assert made.status_code == 201
    cid = made.json()["id"]
    assert made.json()["public"] is False
    again = c.post("/api/v1/collections", json={"name": "Robots <b>"}, headers=ada)
    assert again.status_code == 409 and "already" in again.json()["error"]
    put = c.put(f"/api/v1/collections/{cid}/items/{PAPER}", json={"note": "read §3"}, headers=ada)
    assert put.status_code == 200
    assert (put.json()["paper"]["id"], put.json()["note"]) == (PAPER, "read §3")
    c.put(f"/api/v1/collections/{cid}/items/arXiv:{OTHER}", headers=ada)
    c.put(f"/api/v1/collections/{cid}/items/{PAPER}", json={}, headers=ada)  # note kept
    detail = c.get(f"/api/v1/collections/{cid}", headers=ada).json()
    assert [(i["paper"]["id"], i["note"]) for i in detail["papers"]] == [
        (OTHER, ""),
        (PAPER, "read §3"),
    ]
    assert detail["size"] == 2

    # private: bob sees nothing of it, and cannot change it
    assert c.get(f"/api/v1/collections/{cid}", headers=bob).status_code == 404
    assert c.get(f"/api/v1/collections/{cid}/export", headers=bob).status_code == 404
    assert c.put(f"/api/v1/collections/{cid}/items/{THIRD}", headers=bob).status_code == 404
    assert (
        c.patch(f"/api/v1/collections/{cid}", json={"public": True}, headers=bob).status_code == 404
    )
    assert c.get("/api/v1/collections", headers=bob).json() == []
    assert site.client.get(f"/collections/{cid}").status_code == 404  # anonymous page

    patched = c.patch(f"/api/v1/collections/{cid}", json={"public": True}, headers=ada).json()
    assert patched["public"] is True and patched["name"] == "Robots <b>"
    assert c.get(f"/api/v1/collections/{cid}", headers=bob).status_code == 200
    assert site.client.get(f"/feeds/collections/{cid}.atom").status_code == 200

    bib = c.get(f"/api/v1/collections/{cid}/export", headers=ada)
    assert bib.headers["content-type"].startswith("application/x-bibtex")
    parsed = bibtexparser.parse_string(bib.text)
    assert parsed.failed_blocks == [] and len(parsed.entries) == 2
    data = c.get(f"/api/v1/collections/{cid}/export", params={"format": "json"}, headers=ada).json()
    assert [(p["id"], p["note"]) for p in data["papers"]] == [(OTHER, ""), (PAPER, "read §3")]

    gone = c.delete(f"/api/v1/collections/{cid}/items/{OTHER}", headers=ada)
    assert gone.status_code == 204
    assert c.delete(f"/api/v1/collections/{cid}", headers=bob).status_code == 404
    assert c.delete(f"/api/v1/collections/{cid}", headers=ada).status_code == 204
    assert c.get(f"/api/v1/collections/{cid}", headers=ada).status_code == 404


def test_a_collection_is_filled_from_bibtex_or_a_list_of_ids(site: Site) -> None:
    ada, bob = site.user("api-import-ada"), site.user("api-import-bob")
    c = site.client
    cid = c.post("/api/v1/collections", json={"name": "Imported"}, headers=ada).json()["id"]
    bibtex = (
        f"@article{{one, title={{A paper}}, eprint={{{PAPER}}}, archivePrefix={{arXiv}}}}\n"
        "@misc{empty, note={no title, no id: nothing names a paper}}\n"
    )
    report = c.post(f"/api/v1/collections/{cid}/import", json={"text": bibtex}, headers=ada)
    assert report.status_code == 200, report.text
    found = report.json()
    assert (found["saved"], found["already"], found["added_to_catalog"]) == (1, 0, 0)
    assert len(found["not_recognised"]) == 1 and found["not_recognised"][0]["why"]

    ids = f"https://arxiv.org/abs/{OTHER}\n{PAPER}\n"
    again = c.post(
        f"/api/v1/collections/{cid}/import", json={"text": ids, "format": "ids"}, headers=ada
    ).json()
    assert (again["saved"], again["already"]) == (1, 1)
    papers = c.get(f"/api/v1/collections/{cid}", headers=ada).json()["papers"]
    assert {p["paper"]["id"] for p in papers} == {PAPER, OTHER}

    # another reader's collection, an empty text and an unknown format are refused
    other = c.post(f"/api/v1/collections/{cid}/import", json={"text": ids}, headers=bob)
    assert other.status_code == 404
    empty = c.post(f"/api/v1/collections/{cid}/import", json={"text": ""}, headers=ada)
    assert empty.status_code == 400 and "error" in empty.json()
    odd = c.post(
        f"/api/v1/collections/{cid}/import", json={"text": ids, "format": "ris"}, headers=ada
    )
    assert odd.status_code == 400


def test_marks_follows_and_ratings(site: Site) -> None:
    ada, bob = site.user("api-cy"), site.user("api-di")
    c = site.client
    assert c.put(f"/api/v1/marks/read/{PAPER}", headers=ada).json() == {
        "id": PAPER, "mark": "read", "marked": True,
    }  # fmt: skip
    c.put(f"/api/v1/marks/not-interested/{OTHER}", headers=ada)
    c.post(f"/api/v1/papers/{THIRD}/upvote", headers=ada)
    shelf = c.post("/api/v1/collections", json={"name": "Later"}, headers=ada).json()
    c.put(f"/api/v1/collections/{shelf['id']}/items/{PAPER}", headers=ada)
    marks = c.get("/api/v1/marks", headers=ada).json()
    assert [m["paper"] for m in marks["read"]] == [PAPER]
    assert [m["paper"] for m in marks["not_interested"]] == [OTHER]
    assert c.get("/api/v1/marks", headers=bob).json() == {"read": [], "not_interested": []}
    rated = c.get("/api/v1/ratings", headers=ada).json()
    assert {r["paper"]: (r["upvoted"], r["saved"]) for r in rated["likes"]} == {
        THIRD: (True, False), PAPER: (False, True),
    }  # fmt: skip
    assert rated["dislikes"] == [OTHER]
    c.delete(f"/api/v1/marks/not-interested/{OTHER}", headers=ada)
    assert c.get("/api/v1/ratings", headers=ada).json()["dislikes"] == []
    assert c.put("/api/v1/marks/read/9999.99999", headers=ada).status_code == 404

    author = c.post("/api/v1/follows/authors", json={"name": "Balázs, C."}, headers=ada)
    assert author.status_code == 201 and author.json()["kind"] == "author"
    category = c.post("/api/v1/follows/categories", json={"category": "hep-ph"}, headers=ada).json()
    search = c.post(
        "/api/v1/follows/searches",
        json={"q": "diphoton", "cat": "hep-ph", "since": "2007-01-01"},
        headers=ada,
    ).json()
    assert search["filters"] == {"cat": "hep-ph", "since": "2007-01-01"}
    bad = c.post("/api/v1/follows/categories", json={"category": "cs.NOPE"}, headers=ada)
    assert bad.status_code == 400
    listed = c.get("/api/v1/follows", headers=ada).json()
    assert [f["kind"] for f in listed] == ["author", "category", "search"]
    papers = c.get(f"/api/v1/follows/{category['id']}/papers", headers=ada).json()
    assert papers and all("hep-ph" in p["categories"] for p in papers)
    found = c.get(f"/api/v1/follows/{search['id']}/papers", headers=ada).json()
    assert all("hep-ph" in p["categories"] for p in found)
    assert c.get(f"/api/v1/follows/{category['id']}/papers", headers=bob).status_code == 404
    assert c.delete(f"/api/v1/follows/{category['id']}", headers=bob).status_code == 404
    assert c.delete(f"/api/v1/follows/{category['id']}", headers=ada).status_code == 204
    assert len(c.get("/api/v1/follows", headers=ada).json()) == 2
    assert c.get("/api/v1/follows", headers=bob).json() == []
