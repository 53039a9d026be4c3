"""Paper cards: public ids, links, and loading cards for lists in the order asked."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed.community.cards import PaperCard, load_cards
from paperfeed.ingest.runner import write_batch
from paperfeed.papers.ids import InvalidPaperId
from paperfeed.papers.lookup import PaperNotFound
from paperfeed.papers.record import PaperRecord
from paperfeed.runtime import Runtime
from tests.community.conftest import MakeUser


def card(**fields: object) -> PaperCard:
    base: dict[str, object] = {
        "paper_id": 7,
        "arxiv_id": "2606.12730",
        "title": "A paper",
        "abstract": "",
        "authors": [],
        "categories": [],
        "submitted_at": None,
        "updated_at": None,
        "first_seen_at": dt.datetime(2026, 6, 12),
        "links": [],
    }
    return PaperCard(**{**base, **fields})  # type: ignore[arg-type]


def test_public_id_is_the_arxiv_id_or_a_catalog_id() -> None:
    assert card().public_id == "2606.12730"
    assert card(arxiv_id=None, paper_id=42).public_id == "pf-42"


def test_code_and_project_links_are_split_and_the_daily_ones_come_first() -> None:
    links = [
        {"kind": "github", "url": "https://github.com/a/b"},
        {"kind": "project", "url": "https://a.example/project"},
        {"kind": "gitlab", "url": "https://gitlab.com/c/d"},
        {"kind": "other", "url": "https://zenodo.org/records/1"},
    ]
    plain = card(links=links)
    assert plain.code_links() == ["https://github.com/a/b", "https://gitlab.com/c/d"]
    assert plain.project_links() == ["https://a.example/project", "https://zenodo.org/records/1"]

    daily = card(links=links, github_repo="https://github.com/x/y", project_page="https://p.org")
    assert daily.code_links()[0] == "https://github.com/x/y"
    assert daily.project_links()[0] == "https://p.org"
    # Known already: not repeated.
    same = card(links=links, github_repo="https://github.com/a/b")
    assert same.code_links() == ["https://github.com/a/b", "https://gitlab.com/c/d"]


def test_new_means_first_on_a_daily_list_in_the_last_24_hours() -> None:
    now = dt.datetime(2026, 8, 3, 12, 0)
    listed = card(daily_at=dt.datetime(2026, 8, 2, 12, 0), first_seen_at=dt.datetime(2017, 1, 1))
    assert listed.is_new(now)
    assert not listed.is_new(now + dt.timedelta(seconds=1))  # 24 hours and a second ago
    assert not listed.is_new(dt.datetime(2026, 8, 2, 11, 59))  # listed after "now"
    # Imported today but on no daily list: not new (an old paper of a fresh import).
    assert not card(first_seen_at=now).is_new(now)


def test_hugging_face_discussion_is_linked_only_where_it_has_comments() -> None:
    assert card(hf_comments=2).hf_discussion_url() == "https://huggingface.co/papers/2606.12730"
    assert card(hf_comments=0).hf_discussion_url() is None
    assert card(hf_comments=2, arxiv_id=None).hf_discussion_url() is None


def test_resolve_finds_papers_by_either_id(hf_daily: Runtime) -> None:
    paper_ids = hf_daily.paper_ids
    paper_id = paper_ids.resolve("2606.12730")
    assert paper_ids.resolve(f"pf-{paper_id}") == paper_id
    assert paper_ids.resolve(f"#{paper_id}") == paper_id  # the CLI's older spelling
    assert paper_ids.resolve("arXiv:2606.12730v2") == paper_id
    assert paper_ids.resolve("https://arxiv.org/pdf/2606.12730v1.pdf") == paper_id
    with pytest.raises(PaperNotFound, match="not in the catalog"):
        paper_ids.resolve("2606.99999")
    with pytest.raises(PaperNotFound, match="not in the catalog"):
        paper_ids.resolve("pf-999999")
    with pytest.raises(PaperNotFound, match="not in the catalog"):
        paper_ids.resolve("pf-" + "9" * 20)  # beyond the 32-bit row ids: never asked
    with pytest.raises(InvalidPaperId, match="not an arXiv id"):
        paper_ids.resolve("../etc/passwd")


def test_papers_without_an_arxiv_id_get_catalog_ids(runtime: Runtime) -> None:
    [result] = write_batch(
        runtime.engine,
        runtime.catalog_writer,
        [PaperRecord(source="listing", title="A workshop paper without an arXiv id")],
    )
    found = runtime.cards.card(runtime.paper_ids.resolve(f"pf-{result.paper_id}"))
    assert (found.arxiv_id, found.public_id) == (None, f"pf-{result.paper_id}")
    assert found.daily_on is None
    assert found.upvotes == 0


def test_cards_come_in_the_order_asked_without_missing_or_repeated_ones(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    community = hf_daily
    a, b, c = (community.paper_ids.resolve(x) for x in ("2606.12730", "2607.28618", "2607.26654"))
    ada = make_user("ada")
    community.discussion.upvote(ada, b)
    cards = community.cards.cards([c, 10**9, a, b, a], viewer=ada)
    assert [x.paper_id for x in cards] == [c, a, b]
    assert [x.voted for x in cards] == [False, False, True]
    assert [x.upvotes for x in cards] == [3, 5, 293]


def test_load_cards_in_chunks_keeps_the_order(hf_daily: Runtime) -> None:
    """More ids than one query takes (500): the order still follows the request."""
    ids = [x.paper_id for x in hf_daily.daily.papers(dt.date(2026, 6, 12))]
    wanted = list(reversed(ids)) + list(range(10**6, 10**6 + 600))
    with hf_daily.engine.connect() as conn:
        cards = load_cards(conn, wanted)
    assert [x.paper_id for x in cards] == list(reversed(ids))


def test_hidden_cards_are_dropped_unless_asked_for(hf_daily: Runtime, make_user: MakeUser) -> None:
    community = hf_daily
    a, b = community.paper_ids.resolve("2606.12730"), community.paper_ids.resolve("2606.13392")
    community.moderation.set_paper_hidden(make_user("root", admin=True), a, True)
    assert [x.paper_id for x in community.cards.cards([a, b])] == [b]
    with hf_daily.engine.connect() as conn:
        every = load_cards(conn, [a, b], include_hidden=True)
    assert [(x.paper_id, x.hidden) for x in every] == [(a, True), (b, False)]


def test_only_web_links_are_offered() -> None:
    card = PaperCard(
        paper_id=1,
        arxiv_id=None,
        title="t",
        abstract="",
        authors=[],
        categories=[],
        submitted_at=None,
        updated_at=None,
        first_seen_at=dt.datetime(2026, 1, 1),
        links=[
            {"kind": "github", "url": "javascript:alert(1)"},
            {"kind": "project", "url": "data:x"},
        ],
        github_repo="JavaScript:alert(2)",
        project_page="https://example.org/p",
    )
    assert card.code_links() == []
    assert card.project_links() == ["https://example.org/p"]
