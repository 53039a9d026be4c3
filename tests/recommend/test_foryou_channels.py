"""For you through its channels: `GET /api/v1/me/for-you` over HTTP on the real app (token
authentication as the other private routes; reasons; the papers count as shown, as on the
page) and `paperfeed recommend USER` (the list as the page has it, recording nothing)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from paperfeed.cli.recommend import recommend
from paperfeed.clock import FrozenClock
from paperfeed.runtime import Runtime
from tests.recommend.conftest import MEMORY, like, new_user, pid
from tests.support.server import live_server


@pytest.fixture
def api(rt: Runtime) -> Iterator[httpx.Client]:
    with live_server(rt) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _token(rt: Runtime, name: str) -> dict[str, str]:
    user = new_user(rt, name)
    return {"Authorization": f"Bearer {rt.accounts.create_api_token(user)}"}


def test_the_api_needs_a_token_and_gives_reasons(
    rt: Runtime, api: httpx.Client, clock: FrozenClock
) -> None:
    assert api.get("/api/v1/me/for-you").status_code == 401
    bad = api.get("/api/v1/me/for-you", headers={"Authorization": "Bearer pf_nope"})
    assert bad.status_code == 401 and "error" in bad.json()

    headers = _token(rt, "api")
    new = api.get("/api/v1/me/for-you", headers=headers).json()
    assert new["state"] == "onboarding"
    assert {p["reason"]["kind"] for p in new["papers"]} == {"trending"}

    reader = rt.accounts.by_username("api")
    assert reader is not None
    like(rt, reader, *MEMORY)
    got = api.get("/api/v1/me/for-you", params={"limit": 5}, headers=headers)
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    body = got.json()
    assert body["state"] == "ready" and body["since"] == "2026-07-25T09:00:00Z"
    assert len(body["papers"]) == 5
    for item in body["papers"]:
        reason = item["reason"]
        assert reason["kind"] == "liked" and reason["paper"] in MEMORY
        assert reason["text"] == f"Because you liked “{reason['label']}”"
        assert reason["url"] == f"{rt.settings.base_url.rstrip('/')}/papers/{reason['paper']}"
        assert 0 < reason["similarity"] <= 1
        assert item["paper"]["id"] not in MEMORY
    assert api.get("/api/v1/me/for-you", params={"limit": 0}, headers=headers).status_code == 400
    odd = api.get("/api/v1/me/for-you", params={"days": 3}, headers=headers)
    assert odd.status_code == 400 and "only limit" in odd.json()["error"]
    # Shown through the API: the next day they are not recommended again.
    clock.advance(dt.timedelta(days=1))
    later = api.get("/api/v1/me/for-you", params={"limit": 5}, headers=headers).json()
    first = {item["paper"]["id"] for item in body["papers"]}
    assert later["papers"] and not first & {item["paper"]["id"] for item in later["papers"]}


def test_the_cli_prints_the_list_with_reasons_and_records_nothing(rt: Runtime) -> None:
    reader = new_user(rt, "cli")
    like(rt, reader, *MEMORY)
    runner = CliRunner()
    shown = runner.invoke(recommend, ["cli", "--limit", "3"], obj=rt)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert len(lines) == 6
    titles = {rt.cards.card(pid(rt, a)).title for a in MEMORY}
    for paper_line, reason_line in zip(lines[::2], lines[1::2], strict=True):
        public_id, title = paper_line.split(maxsplit=1)
        assert rt.cards.card(pid(rt, public_id)).title == title
        assert reason_line.strip() in {f"Because you liked “{t}”" for t in titles}

    as_json = runner.invoke(recommend, ["cli", "--limit", "3", "--json"], obj=rt)
    data = json.loads(as_json.stdout)
    assert data["state"] == "ready"
    assert [p["id"] for p in data["papers"]] == [line.split()[0] for line in lines[::2]]
    assert all(p["reason_kind"] == "liked" for p in data["papers"])
    # It only looks: the page, afterwards, shows the same papers first.
    page = rt.for_you.recommend(reader, limit=3)
    assert [i.card.public_id for i in page.items] == [p["id"] for p in data["papers"]]

    missing = runner.invoke(recommend, ["nobody"], obj=rt)
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.output
    new_user(rt, "fresh")
    fresh = runner.invoke(recommend, ["fresh", "--limit", "2"], obj=rt)
    assert fresh.exit_code == 0 and "trending papers" in fresh.stderr
    assert "Trending on paperfeed" in fresh.stdout
