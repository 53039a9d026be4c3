"""Comments their authors edit or delete (replies stay), and an account closed or taken away as
JSON (MemberService), on real imported papers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from paperfeed.accounts.service import AccountError
from paperfeed.community.errors import CommunityError, Forbidden, NotFound
from paperfeed.db.schema import comments, daily_papers, votes
from paperfeed.runtime import Runtime
from tests.community.conftest import PASSWORD, Clock, MakeUser, community_at, submissions_at

PAPER = "2606.12730"  # 5 upvotes imported from Hugging Face
OTHER = "2606.13392"
NOON = dt.datetime(2026, 6, 12, 12, 0)


def parents(runtime: Runtime) -> dict[str, int | None]:
    """Each stored comment's parent, by the comment's body."""
    with runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(comments.c.id, comments.c.body, comments.c.parent_id))
        by_id = {row.id: row for row in rows}
    return {
        row.body: (by_id[row.parent_id].body if row.parent_id else None)  # type: ignore[misc]
        for row in by_id.values()
    }


def test_authors_edit_and_delete_their_own_comments_and_replies_stay(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    clock = Clock(NOON)
    community = community_at(hf_daily, clock)
    paper_id = community.paper_ids.resolve(PAPER)
    ada, bob = make_user("ada"), make_user("bob")
    first = community.discussion.add_comment(ada, paper_id, "first")
    reply = community.discussion.add_comment(bob, paper_id, "reply", parent_id=first)
    community.discussion.add_comment(ada, paper_id, "answer", parent_id=reply)

    with pytest.raises(Forbidden, match="only its author"):
        community.discussion.edit_comment(bob, first, "hijacked")
    with pytest.raises(Forbidden):
        community.discussion.delete_comment(bob, first)
    with pytest.raises(CommunityError, match="the comment is empty"):
        community.discussion.edit_comment(ada, first, "  \r\n ")
    with pytest.raises(NotFound):
        community.discussion.edit_comment(ada, 10**6, "x")

    clock.now = NOON + dt.timedelta(hours=1)
    assert community.discussion.edit_comment(ada, first, "first, *edited*") == paper_id
    shown = {c.id: c for c in community.discussion.comments(paper_id)}
    assert shown[first].body == "first, *edited*"
    assert "<em>edited</em>" in shown[first].html
    assert shown[first].edited_at == NOON + dt.timedelta(hours=1)
    assert shown[reply].edited_at is None
    assert shown[first].by(ada) and not shown[first].by(bob) and not shown[first].by(None)

    community.discussion.delete_comment(ada, first)
    # Bob's reply stays, now at the top; Ada's answer to it is untouched.
    assert parents(hf_daily) == {"reply": None, "answer": "reply"}


def test_closing_an_account_removes_votes_and_comments_and_keeps_others_replies(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    community = community_at(hf_daily, Clock(NOON))
    paper_id = community.paper_ids.resolve(PAPER)
    ada, bob = make_user("ada"), make_user("bob")
    community.discussion.upvote(ada, paper_id)
    community.discussion.upvote(bob, paper_id)
    assert community.cards.card(paper_id).upvotes == 7
    top = community.discussion.add_comment(ada, paper_id, "ada's question")
    answer = community.discussion.add_comment(bob, paper_id, "bob's answer", parent_id=top)
    follow_up = community.discussion.add_comment(ada, paper_id, "ada again", parent_id=answer)
    community.discussion.add_comment(bob, paper_id, "bob to ada again", parent_id=follow_up)
    ada_session = hf_daily.accounts.start_session(ada)
    ada_token = hf_daily.accounts.create_api_token(ada, "laptop")

    with pytest.raises(AccountError, match="the password is wrong"):
        hf_daily.members.close(ada, "not it")
    assert hf_daily.accounts.get(ada.id) == ada

    hf_daily.members.close(ada, PASSWORD)
    assert hf_daily.accounts.get(ada.id) is None
    assert hf_daily.accounts.session_user(ada_session) is None
    assert hf_daily.accounts.token_user(ada_token) is None
    assert community.cards.card(paper_id).upvotes == 6  # bob's vote stays
    with hf_daily.engine.connect() as conn:
        assert conn.execute(sa.select(votes.c.user_id)).scalars().all() == [bob.id]
    # Ada's comments are gone; each of Bob's replies moved up to what stays above it.
    assert parents(hf_daily) == {"bob's answer": None, "bob to ada again": "bob's answer"}
    assert [c.username for c in community.discussion.comments(paper_id)] == ["bob", "bob"]
    # The name is free again.
    assert make_user("ada").username == "ada"


def test_closing_an_account_keeps_its_submissions_without_its_name(
    online: Runtime, make_user: MakeUser
) -> None:
    ada = make_user("ada")
    card, added = submissions_at(online, lambda: NOON, on_added=None).submit(ada, "2607.28628")
    assert added and card.submitted_by == "ada"
    online.members.close(ada, PASSWORD)
    with online.engine.connect() as conn:
        row = conn.execute(
            sa.select(daily_papers.c.submitted_by, daily_papers.c.source).where(
                daily_papers.c.paper_id == online.paper_ids.resolve("2607.28628")
            )
        ).one()
    assert tuple(row) == (None, "paperfeed")


def test_the_data_export_holds_what_the_account_did(online: Runtime, make_user: MakeUser) -> None:
    ada, bob = make_user("ada"), make_user("bob")
    community = community_at(online, Clock(NOON))
    submissions_at(online, lambda: NOON, on_added=None).submit(ada, "2607.28628")
    paper_id = community.paper_ids.resolve("2607.28628")
    community.discussion.upvote(ada, paper_id)
    community.discussion.upvote(bob, paper_id)
    mine = community.discussion.add_comment(ada, paper_id, "<script>x</script> $x$")
    community.discussion.add_comment(bob, paper_id, "bob's", parent_id=mine)
    online.accounts.create_api_token(ada, "laptop")

    data = json.loads(json.dumps(online.members.export(ada)))  # JSON as it is served
    assert data["format"] == "paperfeed-account-export/1"
    assert data["account"]["username"] == "ada"
    assert data["account"]["email"] == "ada@example.org"
    assert [t["name"] for t in data["api_tokens"]] == ["laptop"]
    assert "pf_" not in json.dumps(data["api_tokens"])  # no secret
    assert [v["paper"] for v in data["upvotes"]] == ["2607.28628"]
    assert [(c["paper"], c["body"], c["reply_to"]) for c in data["comments"]] == [
        ("2607.28628", "<script>x</script> $x$", None)
    ]
    assert data["comments"][0]["created_at"] == NOON.isoformat()
    assert [(s["paper"], s["daily_list"]) for s in data["submissions"]] == [
        ("2607.28628", "2026-06-12")
    ]
    assert "password" not in json.dumps(data)
    assert online.members.export(bob)["submissions"] == []
