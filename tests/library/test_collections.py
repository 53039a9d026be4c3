"""Collections, notes and marks (LibraryService) on real imported papers: what is private
stays private, and what the recommender reads of a reader (signals.py)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from paperfeed.community.errors import CommunityError, NotFound
from paperfeed.db.schema import collection_items, collections, feed_tokens, follows, paper_marks
from paperfeed.library.signals import reader_signals_of
from paperfeed.runtime import Runtime
from tests.library.conftest import MakeUser
from tests.support.accounts import PASSWORD

PAPERS = ["2606.12730", "2606.00467", "2607.23193", "2607.28582", "2606.13594"]


def ids(runtime: Runtime) -> list[int]:
    return [runtime.paper_ids.resolve(p) for p in PAPERS]


def test_a_private_collection_is_its_owners_alone(hf_daily: Runtime, make_user: MakeUser) -> None:
    library = hf_daily.library
    ada, bob = make_user("ada"), make_user("bob")
    a, b, *_ = ids(hf_daily)
    shelf = library.create(ada, "  To   read ", description="for the trip")
    assert shelf.name == "To read" and not shelf.public
    assert library.save(ada, shelf.id, a, note="great <b>figures</b>")
    assert not library.save(ada, shelf.id, a)  # already there; the note is kept
    library.save(ada, shelf.id, b)
    [first, second] = library.items(ada, shelf.id)
    assert (first.card.paper_id, second.card.paper_id) == (b, a)  # newest first
    assert second.note == "great <b>figures</b>"
    assert [c.size for c in library.collections(ada)] == [2]

    for viewer in (bob, None):  # another reader, an anonymous visitor
        with pytest.raises(NotFound, match="no such collection"):
            library.collection(viewer, shelf.id)
        with pytest.raises(NotFound):
            library.items(viewer, shelf.id)
    with pytest.raises(NotFound):
        library.save(bob, shelf.id, b)
    with pytest.raises(NotFound):
        library.remove(bob, shelf.id, a)
    with pytest.raises(NotFound):
        library.update(bob, shelf.id, public=True)
    with pytest.raises(NotFound):
        library.delete(bob, shelf.id)
    assert library.collections(bob) == []

    library.update(ada, shelf.id, public=True)
    assert library.collection(None, shelf.id).public
    assert [i.card.paper_id for i in library.items(bob, shelf.id)] == [b, a]
    with pytest.raises(NotFound):  # public to read, still ada's alone to change
        library.save(bob, shelf.id, b)
    library.update(ada, shelf.id, public=False)
    with pytest.raises(NotFound):
        library.collection(None, shelf.id)


def test_names_are_checked_and_unique_per_reader(hf_daily: Runtime, make_user: MakeUser) -> None:
    library = hf_daily.library
    ada, bob = make_user("ada"), make_user("bob")
    library.create(ada, "Robots")
    library.create(bob, "Robots")  # another reader's names are theirs
    with pytest.raises(CommunityError, match="already"):
        library.create(ada, "Robots")
    with pytest.raises(CommunityError, match="needs a name"):
        library.create(ada, " \x00 \n")
    with pytest.raises(CommunityError, match="at most 200"):
        library.create(ada, "x" * 201)
    assert library.named(ada, "Robots").name == "Robots"
    assert library.named(ada, "New one").name == "New one"  # made on the way
    assert library.names(ada) == ["New one", "Robots"]


def test_marks_and_what_the_recommender_reads(hf_daily: Runtime, make_user: MakeUser) -> None:
    library = hf_daily.library
    ada, bob = make_user("ada"), make_user("bob")
    upvoted, saved, dismissed, read, both = ids(hf_daily)
    hf_daily.discussion.upvote(ada, upvoted)
    shelf = library.named(ada, "Reading list")
    library.save(ada, shelf.id, saved)
    library.save(ada, shelf.id, both)
    library.mark(ada, dismissed, "dismissed")
    library.mark(ada, both, "dismissed")  # saved, then "not interested": disliked
    library.mark(ada, read, "read")
    library.mark(ada, read, "read")  # idempotent
    library.mark(bob, saved, "dismissed")  # bob's say nothing about ada

    signals = reader_signals_of(hf_daily.engine, ada.id)
    assert signals.liked == {upvoted, saved}
    assert signals.disliked == {dismissed, both}
    assert signals.seen == {upvoted, saved, dismissed, read, both}
    assert reader_signals_of(hf_daily.engine, bob.id).disliked == {saved}

    card = hf_daily.cards.card(both, viewer=ada)
    assert (card.saved, card.dismissed, card.read) == (True, True, False)
    assert not hf_daily.cards.card(both, viewer=bob).saved
    library.mark(ada, read, "read", on=False)
    assert [pid for pid, _ in library.marked(ada, "read")] == []
    with pytest.raises(NotFound):
        library.mark(ada, 10**9, "read")


def test_the_account_export_holds_the_library_and_deletion_removes_it(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    library, follows = hf_daily.library, hf_daily.follows
    ada, bob = make_user("ada"), make_user("bob")
    a, b, c, *_ = ids(hf_daily)
    shelf = library.create(ada, "Shelf <script>", description="d", public=True)
    library.save(ada, shelf.id, a, note="note on a")
    library.mark(ada, b, "read")
    library.mark(ada, c, "dismissed")
    follows.follow(ada, "author", "Ada Lovelace")
    follows.follow(ada, "search", "diffusion", {"cat": "cs.CV", "since": "2026-01-01"})
    library.save(bob, library.named(bob, "Bob's").id, a)

    data = json.loads(json.dumps(hf_daily.members.export(ada)))["library"]
    [exported] = data["collections"]
    assert (exported["name"], exported["public"]) == ("Shelf <script>", True)
    assert [(p["paper"], p["note"]) for p in exported["papers"]] == [(PAPERS[0], "note on a")]
    assert [m["paper"] for m in data["read"]] == [PAPERS[1]]
    assert [m["paper"] for m in data["not_interested"]] == [PAPERS[2]]
    assert [(f["kind"], f["value"], f["filters"]) for f in data["follows"]] == [
        ("author", "Ada Lovelace", {}),
        ("search", "diffusion", {"cat": "cs.CV", "since": "2026-01-01"}),
    ]
    token = follows.feed_token(ada)
    assert token and token not in json.dumps(data)  # the secret stays out

    hf_daily.members.close(ada, PASSWORD)
    with hf_daily.engine.connect() as conn:
        for table in (collections, paper_marks, follows_table(), feed_tokens):
            assert conn.execute(sa.select(sa.func.count()).select_from(table).where(
                table.c.user_id == ada.id)).scalar_one() == 0  # fmt: skip
        left = conn.execute(sa.select(collection_items.c.collection_id)).scalars().all()
    assert left == [library.named(bob, "Bob's").id]  # only bob's
    with pytest.raises(NotFound):
        library.collection(None, shelf.id)


def follows_table() -> sa.Table:
    return follows
