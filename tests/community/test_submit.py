"""Submitting papers to today's daily list (SubmissionService): from the catalog, or fetched
with the real arXiv fetcher (`HttpArxivFetcher`, the runtime's `arxiv_fetcher`) from a local
server replaying real arXiv API responses."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import pytest

from paperfeed.community.errors import CommunityError, FetchUnavailable, NotFound
from paperfeed.runtime import Runtime
from tests.community.conftest import Clock, MakeUser, community_at, submissions_at
from tests.support.cli import Cli
from tests.support.http import FixtureServer, Response

NOW = dt.datetime(2026, 8, 2, 10, 30)
SEIBERG = "2607.28628"  # in the saved 2026 API response, not on any daily list
ATOM_2026 = "query_cs.AI-LG-CL_max25_2026-08-02.xml"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def import_atom(cli: Cli, data_dir: Path) -> None:
    """The saved 2026 API response into the catalog (its papers on no daily list)."""
    cli("import", "arxiv-atom", data_dir / "fixtures" / "arxiv_api" / ATOM_2026, "--no-index")


def with_endpoint(runtime: Runtime, endpoint: str) -> Runtime:
    return Runtime(runtime.settings.model_copy(update={"arxiv_api_endpoint": endpoint}))


def test_a_paper_new_to_the_catalog_is_fetched_from_arxiv(
    online: Runtime, arxiv_api: FixtureServer, make_user: MakeUser
) -> None:
    community = community_at(online, Clock(NOW))
    indexed: list[str] = []
    submissions = submissions_at(online, Clock(NOW), on_added=lambda: indexed.append("index"))
    card, added = submissions.submit(make_user("ada"), SEIBERG)

    assert added
    assert indexed == ["index"]  # a paper new to the catalog is indexed (once)
    assert card.arxiv_id == SEIBERG
    assert card.title == "Learning to Trace Seiberg Dualities"
    assert card.authors[0] == "Jonathan J. Heckman"
    assert card.categories[:2] == ["hep-th", "cs.AI"]
    assert (card.daily_on, card.daily_at, card.submitted_by) == (NOW.date(), NOW, "ada")
    assert (card.upvotes, card.num_comments, card.voted) == (0, 0, False)
    assert [(path, params["id_list"]) for path, params in arxiv_api.requests] == [
        ("/api/query", [SEIBERG])
    ]
    paper = online.catalog.get(SEIBERG)
    assert paper is not None
    assert paper["sources"] == ["arxiv-api"]
    assert [c.arxiv_id for c in community.daily.papers(NOW.date())] == [SEIBERG]


def test_a_legacy_format_response_is_read_too(online: Runtime, make_user: MakeUser) -> None:
    card, added = submissions_at(online, Clock(NOW)).submit(
        make_user("ada"), "https://arxiv.org/abs/2510.14968v1"
    )
    assert added
    assert card.arxiv_id == "2510.14968"
    assert card.title.startswith("RDD: Retrieval-Based Demonstration Decomposer")


@pytest.mark.parametrize(
    "text",
    [
        SEIBERG,
        f"  {SEIBERG}v1 ",
        f"arXiv:{SEIBERG}",
        f"https://arxiv.org/abs/{SEIBERG}",
        f"https://arxiv.org/pdf/{SEIBERG}v1.pdf",
        f"http://export.arxiv.org/abs/{SEIBERG}v1",
    ],
)
def test_ids_and_urls_name_the_same_paper(online: Runtime, make_user: MakeUser, text: str) -> None:
    card, _ = submissions_at(online).submit(make_user("ada"), text)
    assert card.arxiv_id == SEIBERG


def test_a_catalog_paper_is_listed_without_asking_arxiv(
    online: Runtime,
    arxiv_api: FixtureServer,
    make_user: MakeUser,
    cli: Cli,
    data_dir: Path,
) -> None:
    import_atom(cli, data_dir)
    indexed: list[str] = []
    submissions = submissions_at(online, Clock(NOW), on_added=lambda: indexed.append("index"))
    card, added = submissions.submit(make_user("ada"), "2607.28627")
    assert not added and indexed == []
    assert card.title.startswith("ReToken")
    assert card.daily_on == NOW.date()
    assert arxiv_api.requests == []


def test_a_paper_already_listed_is_refused(
    hf_daily: Runtime, online: Runtime, arxiv_api: FixtureServer, make_user: MakeUser
) -> None:
    """2607.28618 came with the Hugging Face list of 2026-07-31."""
    community = community_at(online, Clock(NOW))
    with pytest.raises(CommunityError, match="already on the daily list of 2026-07-31"):
        submissions_at(online, Clock(NOW)).submit(make_user("ada"), "2607.28618")
    assert arxiv_api.requests == []
    assert community.daily.papers(NOW.date()) == []


def test_the_second_submission_of_a_paper_is_refused(online: Runtime, make_user: MakeUser) -> None:
    community = community_at(online, Clock(NOW))
    submissions_at(online, Clock(NOW)).submit(make_user("ada"), SEIBERG)
    with pytest.raises(CommunityError, match="already on the daily list of 2026-08-02"):
        submissions_at(online, Clock(NOW)).submit(make_user("bob"), f"arXiv:{SEIBERG}v1")
    [card] = community.daily.papers(NOW.date())
    assert card.submitted_by == "ada"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a great paper", "not an arXiv id"),
        ("", "not an arXiv id"),
        ("2613.00001", "no such month"),
        ("1412.12345", "wrong number length"),
        ("https://example.org/abs/2607.28628", "not an arXiv id"),
        ("2607.28628; DROP TABLE papers", "not an arXiv id"),
    ],
)
def test_an_invalid_id_is_refused_with_a_clear_message(
    online: Runtime, arxiv_api: FixtureServer, make_user: MakeUser, text: str, reason: str
) -> None:
    with pytest.raises(CommunityError, match=reason) as raised:
        submissions_at(online).submit(make_user("ada"), text)
    assert not isinstance(raised.value, FetchUnavailable | NotFound)
    assert arxiv_api.requests == []
    assert online.catalog.count() == 0


def test_a_paper_arxiv_does_not_know_is_not_found(
    online: Runtime, arxiv_api: FixtureServer, make_user: MakeUser
) -> None:
    with pytest.raises(NotFound, match=r"arXiv does not know arXiv:2607\.99999"):
        submissions_at(online).submit(make_user("ada"), "2607.99999")
    assert len(arxiv_api.requests) == 1
    assert online.catalog.count() == 0


def test_offline_the_fetch_is_unavailable_with_a_clear_message(
    runtime: Runtime, make_user: MakeUser
) -> None:
    offline = with_endpoint(runtime, f"http://127.0.0.1:{closed_port()}/api/query")
    try:
        with pytest.raises(FetchUnavailable) as raised:
            submissions_at(offline).submit(make_user("ada"), SEIBERG)
    finally:
        offline.close()
    message = str(raised.value)
    assert f"arXiv:{SEIBERG} is not in the catalog" in message
    assert "could not be reached" in message
    assert "try again later" in message and "An administrator can" in message
    assert "paperfeed" not in message and "`" not in message  # no command for a web user
    assert runtime.catalog.count() == 0


@pytest.mark.parametrize(
    "answer",
    [
        Response(b"Service Unavailable", 503, "text/plain"),
        Response(b"rate limited", 429, "text/plain"),
        Response(
            b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><entry>
<id>http://arxiv.org/api/errors#incorrect_id_format_for_2607.28628</id>
<title>Error</title><summary>incorrect id format for 2607.28628</summary>
</entry></feed>"""
        ),
    ],
    ids=["503", "429", "error-feed"],
)
def test_an_arxiv_failure_is_unavailable_not_a_crash(
    runtime: Runtime, arxiv_api: FixtureServer, make_user: MakeUser, answer: Response
) -> None:
    arxiv_api.route = lambda path, params: answer
    failing = with_endpoint(runtime, f"{arxiv_api.url}/api/query")
    try:
        with pytest.raises(FetchUnavailable, match="could not be reached"):
            submissions_at(failing).submit(make_user("ada"), SEIBERG)
    finally:
        failing.close()
    assert len(arxiv_api.requests) == 1
    assert runtime.catalog.count() == 0


def test_a_non_atom_answer_is_unavailable_not_a_crash(
    runtime: Runtime, arxiv_api: FixtureServer, make_user: MakeUser
) -> None:
    page = b"<html><body><h1>arXiv is down for maintenance</h1></body></html>"
    arxiv_api.route = lambda path, params: Response(page, 200, "text/html")
    failing = with_endpoint(runtime, f"{arxiv_api.url}/api/query")
    try:
        with pytest.raises(FetchUnavailable, match="could not be reached"):
            submissions_at(failing).submit(make_user("ada"), SEIBERG)
    finally:
        failing.close()


def test_without_a_fetcher_a_new_paper_is_unavailable(
    runtime: Runtime, make_user: MakeUser
) -> None:
    with pytest.raises(FetchUnavailable, match="fetching from arXiv is off"):
        submissions_at(runtime, fetcher=None).submit(make_user("ada"), SEIBERG)


def test_a_hidden_paper_is_not_submitted_again(
    online: Runtime, make_user: MakeUser, cli: Cli, data_dir: Path
) -> None:
    import_atom(cli, data_dir)
    community = community_at(online, Clock(NOW))
    paper_id = community.paper_ids.resolve("2607.28627")
    community.moderation.set_paper_hidden(make_user("root", admin=True), paper_id, True)
    with pytest.raises(CommunityError, match="hidden by a moderator"):
        submissions_at(online, Clock(NOW)).submit(make_user("ada"), "2607.28627")
    assert community.daily.papers(NOW.date()) == []
