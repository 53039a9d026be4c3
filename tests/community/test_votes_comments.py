"""Upvotes and comments on real imported papers, through DiscussionService."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from paperfeed.community.errors import CommunityError, NotFound
from paperfeed.community.markdown import MAX_COMMENT
from paperfeed.db.schema import comments, votes
from paperfeed.runtime import Runtime
from tests.community.conftest import Clock, MakeUser, community_at

PAPER = "2606.12730"  # 5 upvotes and 3 comments imported from Hugging Face


def stored_votes(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(votes)).scalar_one())


def test_upvote_is_counted_once_and_can_be_withdrawn(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    community = hf_daily
    paper_id = community.paper_ids.resolve(PAPER)
    ada = make_user("ada")

    card = community.discussion.upvote(ada, paper_id)
    assert (card.upvotes, card.voted) == (6, True)
    again = community.discussion.upvote(ada, paper_id)  # a double click
    assert (again.upvotes, again.voted) == (6, True)
    assert stored_votes(hf_daily) == 1

    withdrawn = community.discussion.upvote(ada, paper_id, up=False)
    assert (withdrawn.upvotes, withdrawn.voted) == (5, False)
    assert community.discussion.upvote(ada, paper_id, up=False).upvotes == 5  # withdrawing twice
    assert stored_votes(hf_daily) == 0


def test_votes_of_different_users_add_up(hf_daily: Runtime, make_user: MakeUser) -> None:
    community = hf_daily
    paper_id = community.paper_ids.resolve(PAPER)
    ada, bob = make_user("ada"), make_user("bob")
    community.discussion.upvote(ada, paper_id)
    card = community.discussion.upvote(bob, paper_id)
    assert card.upvotes == 7
    assert community.cards.card(paper_id).upvotes == 7
    assert community.cards.card(paper_id, viewer=ada).voted
    assert not community.cards.card(paper_id).voted
    community.discussion.upvote(ada, paper_id, up=False)
    assert (
        community.cards.card(paper_id, viewer=ada).voted,
        community.cards.card(paper_id).upvotes,
    ) == (
        False,
        6,
    )


def test_a_vote_is_dated_by_the_service_clock(hf_daily: Runtime, make_user: MakeUser) -> None:
    when = dt.datetime(2026, 6, 13, 8, 30)
    community = community_at(hf_daily, Clock(when))
    community.discussion.upvote(make_user("ada"), community.paper_ids.resolve(PAPER))
    with hf_daily.engine.connect() as conn:
        assert conn.execute(sa.select(votes.c.created_at)).scalar_one() == when


def test_upvoting_an_unknown_paper_is_not_found(hf_daily: Runtime, make_user: MakeUser) -> None:
    with pytest.raises(NotFound):
        hf_daily.discussion.upvote(make_user("ada"), 10**9)
    assert stored_votes(hf_daily) == 0


def test_comments_are_listed_in_order_and_rendered_safely(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    clock = Clock(dt.datetime(2026, 6, 13, 9))
    community = community_at(hf_daily, clock)
    paper_id = community.paper_ids.resolve(PAPER)
    ada, bob = make_user("ada"), make_user("bob")
    first = community.discussion.add_comment(
        ada, paper_id, "  **Great** paper; see [code](https://x.org)  "
    )
    clock.now += dt.timedelta(minutes=5)
    reply = community.discussion.add_comment(
        bob, paper_id, "Agreed.\r\n<script>alert(1)</script>", parent_id=first
    )

    listed = community.discussion.comments(paper_id)
    assert [(c.id, c.username, c.parent_id) for c in listed] == [
        (first, "ada", None),
        (reply, "bob", first),
    ]
    assert listed[0].html == (
        '<p><strong>Great</strong> paper; see <a href="https://x.org" '
        'rel="nofollow noopener noreferrer ugc">code</a></p>\n'
    )
    assert listed[1].html == "<p>Agreed.<br>\n&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    assert [c.created_at for c in listed] == [clock.now - dt.timedelta(minutes=5), clock.now]
    assert not any(c.hidden for c in listed)
    card = community.cards.card(paper_id)
    assert (card.num_comments, card.hf_comments) == (2, 3)  # made here; Hugging Face's apart


def test_the_markdown_source_is_stored_trimmed_with_unix_newlines(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    community = hf_daily
    community.discussion.add_comment(
        make_user("ada"), community.paper_ids.resolve(PAPER), "\n one\r\ntwo \n"
    )
    with hf_daily.engine.connect() as conn:
        assert conn.execute(sa.select(comments.c.body)).scalar_one() == "one\ntwo"


@pytest.mark.parametrize("body", ["", "   ", "\r\n\t\n"])
def test_an_empty_comment_is_refused(hf_daily: Runtime, make_user: MakeUser, body: str) -> None:
    community = hf_daily
    with pytest.raises(CommunityError, match="empty"):
        community.discussion.add_comment(make_user("ada"), community.paper_ids.resolve(PAPER), body)


def test_comment_length_limit(hf_daily: Runtime, make_user: MakeUser) -> None:
    community = hf_daily
    paper_id = community.paper_ids.resolve(PAPER)
    ada = make_user("ada")
    with pytest.raises(CommunityError, match=f"at most {MAX_COMMENT} characters"):
        community.discussion.add_comment(ada, paper_id, "x" * (MAX_COMMENT + 1))
    community.discussion.add_comment(ada, paper_id, "x" * MAX_COMMENT)
    assert len(community.discussion.comments(paper_id)) == 1


def test_a_reply_must_be_on_the_same_paper(hf_daily: Runtime, make_user: MakeUser) -> None:
    community = hf_daily
    paper_id, other_id = (
        community.paper_ids.resolve(PAPER),
        community.paper_ids.resolve("2606.13392"),
    )
    ada = make_user("ada")
    elsewhere = community.discussion.add_comment(ada, other_id, "On another paper.")
    with pytest.raises(CommunityError, match="not on this paper"):
        community.discussion.add_comment(ada, paper_id, "A reply", parent_id=elsewhere)
    with pytest.raises(CommunityError, match="not on this paper"):
        community.discussion.add_comment(ada, paper_id, "A reply", parent_id=10**9)
    assert community.discussion.comments(paper_id) == []


def test_commenting_on_an_unknown_paper_is_not_found(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    with pytest.raises(NotFound):
        hf_daily.discussion.add_comment(make_user("ada"), 10**9, "Hello")
