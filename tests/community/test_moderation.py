"""Moderation: only admins hide papers and comments; hidden papers vanish from every list."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed.community.errors import CommunityError, NotFound
from paperfeed.runtime import Runtime
from tests.community.conftest import Clock, MakeUser, community_at

JUNE_12 = dt.date(2026, 6, 12)
PAPER = "2606.13681"  # the top of June 12's list (118 upvotes)


def test_only_an_admin_can_hide_a_paper(hf_daily: Runtime, make_user: MakeUser) -> None:
    community = hf_daily
    paper_id = community.paper_ids.resolve(PAPER)
    with pytest.raises(CommunityError, match="only an admin"):
        community.moderation.set_paper_hidden(make_user("ada"), paper_id, True)
    assert community.daily.papers(JUNE_12)[0].paper_id == paper_id


def test_a_hidden_paper_vanishes_from_lists_cards_and_trending(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    community = community_at(hf_daily, Clock(dt.datetime(2026, 6, 13)))
    paper_id = community.paper_ids.resolve(PAPER)
    admin, ada = make_user("root", admin=True), make_user("ada")
    community.discussion.upvote(ada, paper_id)

    community.moderation.set_paper_hidden(admin, paper_id, True)

    assert paper_id not in [c.paper_id for c in community.daily.papers(JUNE_12)]
    assert len(community.daily.papers(JUNE_12)) == 29
    assert paper_id not in [c.paper_id for c, _ in community.trending.ranked(limit=100)[0]]
    assert community.cards.cards([paper_id, community.paper_ids.resolve("2606.13392")], viewer=ada)[
        0
    ].arxiv_id == ("2606.13392")
    with pytest.raises(NotFound):
        community.cards.card(paper_id)
    with pytest.raises(NotFound):
        community.discussion.upvote(ada, paper_id)
    with pytest.raises(NotFound):
        community.discussion.add_comment(ada, paper_id, "Still here?")
    # Admins can still look at it (to unhide it).
    hidden = community.cards.card(paper_id, include_hidden=True)
    assert (hidden.hidden, hidden.upvotes) == (True, 119)

    community.moderation.set_paper_hidden(admin, paper_id, False)
    assert community.daily.papers(JUNE_12)[0].paper_id == paper_id
    assert community.trending.ranked(limit=1)[0][0][0].paper_id == paper_id
    assert not community.cards.card(paper_id).hidden


def test_hiding_twice_and_showing_twice_is_harmless(hf_daily: Runtime, make_user: MakeUser) -> None:
    community = hf_daily
    paper_id = community.paper_ids.resolve(PAPER)
    admin = make_user("root", admin=True)
    community.moderation.set_paper_hidden(admin, paper_id, True)
    community.moderation.set_paper_hidden(admin, paper_id, True)
    assert community.cards.card(paper_id, include_hidden=True).hidden
    community.moderation.set_paper_hidden(admin, paper_id, False)
    community.moderation.set_paper_hidden(admin, paper_id, False)
    assert not community.cards.card(paper_id).hidden


def test_hidden_comments_leave_the_list_and_the_count(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    community = hf_daily
    paper_id = community.paper_ids.resolve(PAPER)
    admin, ada = make_user("root", admin=True), make_user("ada")
    spam = community.discussion.add_comment(ada, paper_id, "Buy cheap GPUs at https://spam.example")
    kept = community.discussion.add_comment(ada, paper_id, "A real question about table 2.")
    card = community.cards.card(paper_id)
    assert (card.num_comments, card.hf_comments) == (2, 3)  # here; on Hugging Face

    with pytest.raises(CommunityError, match="only an admin"):
        community.moderation.set_comment_hidden(ada, spam, True)
    assert community.moderation.set_comment_hidden(admin, spam, True) == paper_id

    assert [c.id for c in community.discussion.comments(paper_id)] == [kept]
    everything = community.discussion.comments(paper_id, include_hidden=True)
    assert [(c.id, c.hidden) for c in everything] == [(spam, True), (kept, False)]
    assert community.cards.card(paper_id).num_comments == 1

    community.moderation.set_comment_hidden(admin, spam, False)
    assert [c.id for c in community.discussion.comments(paper_id)] == [spam, kept]


def test_hiding_an_unknown_comment_is_not_found(hf_daily: Runtime, make_user: MakeUser) -> None:
    with pytest.raises(NotFound):
        hf_daily.moderation.set_comment_hidden(make_user("root", admin=True), 10**9, True)
