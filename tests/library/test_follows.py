"""Follows (FollowService) on real imported papers, indexed for search: each follow's papers
are what the author's page or the search page lists, newest first; the secret feed token."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from paperfeed.community.errors import CommunityError, NotFound
from paperfeed.papers.authors import author_key
from paperfeed.runtime import Runtime
from tests.library.conftest import MakeUser
from tests.support.cli import HEAD200, Cli


@pytest.fixture
def indexed(hf_daily: Runtime, cli: Cli, data_dir: Path) -> Runtime:
    """The HF daily lists and the 200 arXiv records of the snapshot head (with their
    categories), indexed for search by the import as a user would."""
    cli("import", "snapshot", data_dir / HEAD200, "--no-progress")
    hf_daily.index.after_import()
    return hf_daily


def test_follows_list_the_papers_of_their_pages(indexed: Runtime, make_user: MakeUser) -> None:
    follows, search, cards = indexed.follows, indexed.search, indexed.cards
    ada = make_user("ada")
    paper = cards.card(indexed.paper_ids.resolve("2606.12730"))
    author = paper.authors[0]

    by_author, new = follows.follow(ada, "author", f"  {author.upper()} ")
    assert new and by_author.value == author.upper()
    found = follows.papers(by_author, search)
    assert paper.paper_id in [c.paper_id for c in found]
    assert all(any(author_key(a) == author_key(author) for a in c.authors) for c in found)
    assert [c.paper_id for c in found] == [
        c.paper_id for c in cards.by_author(search, author, limit=50)[0]
    ]

    paper = cards.card(indexed.paper_ids.resolve("0704.0002"))  # an arXiv record
    category = paper.categories[0]
    by_category, _ = follows.follow(ada, "category", category)
    in_category = follows.papers(by_category, search)
    assert in_category and all(category in c.categories for c in in_category)
    listed = cards.search(search, "", sort="date", categories=[category], limit=50).cards
    assert [c.paper_id for c in in_category] == [c.paper_id for c in listed]  # the search page's

    query, _ = follows.follow(ada, "search", "diffusion", {"cat": category, "since": "2026-01-01"})
    matched = follows.papers(query, search)
    since = dt.date(2026, 1, 1)
    expected = cards.search(
        search, "diffusion", sort="date", categories=[category], since=since, limit=50
    )
    assert [c.paper_id for c in matched] == [c.paper_id for c in expected.cards]
    assert query.filters == {"cat": category, "since": "2026-01-01"}

    again, new = follows.follow(ada, "author", author.lower())  # the same author
    assert not new and again.id == by_author.id
    everything = follows.all_papers(follows.follows(ada), search)
    assert {c.paper_id for c in found} <= {c.paper_id for c in everything} or len(everything) == 50


def test_follows_are_checked_and_private(indexed: Runtime, make_user: MakeUser) -> None:
    follows = indexed.follows
    ada, bob = make_user("ada"), make_user("bob")
    for kind, value, filters, message in [
        ("category", "cs.NOPE", None, "not an arXiv category"),
        ("search", "", {}, "needs words or a category"),
        ("search", "x", {"since": "2026-13-01"}, "2026-13-01"),
        ("search", "x", {"sort": "date"}, "no filter 'sort'"),
        ("planet", "x", None, "one follows"),
    ]:
        with pytest.raises(CommunityError, match=message):
            follows.follow(ada, kind, value, filters)
    with pytest.raises(NotFound, match="has letters or digits"):
        follows.follow(ada, "author", " , ")
    mine, _ = follows.follow(ada, "category", "cs.CL")
    with pytest.raises(NotFound):
        follows.get(bob, mine.id)
    with pytest.raises(NotFound):
        follows.unfollow(bob, mine.id)
    assert follows.follows(bob) == []


def test_the_secret_feed_token_can_be_replaced_and_revoked(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    follows = hf_daily.follows
    ada, bob = make_user("ada"), make_user("bob")
    assert follows.feed_token(ada) is None
    mine, _ = follows.follow(ada, "category", "cs.CL")  # the first follow turns feeds on
    token = follows.feed_token(ada)
    assert token and follows.feed_follow(token, mine.id) == mine
    bobs, _ = follows.follow(bob, "category", "cs.CL")
    with pytest.raises(NotFound):  # ada's token does not open bob's follow
        follows.feed_follow(token, bobs.id)
    new = follows.regenerate_feed_token(ada)
    assert new != token
    with pytest.raises(NotFound):
        follows.feed_follow(token, mine.id)
    follows.revoke_feed_token(ada)
    with pytest.raises(NotFound):
        follows.feed_follow(new, mine.id)
    follows.follow(ada, "category", "cs.LG")
    assert follows.feed_token(ada) is None  # revoked stays revoked
    for wrong in ("", "x" * 65, "nope"):
        with pytest.raises(NotFound):
            follows.feed_follows(wrong)
