"""The for-you service over a real catalog: the real Hugging Face daily list of 2026-07-31
(30 papers), imported and embedded with the real model, real accounts, the injected clock.
What the page, the API, the CLI and the digest show comes from here."""

from __future__ import annotations

import datetime as dt
import threading

from fastapi.testclient import TestClient

from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.http.app import create_app
from paperfeed.http.deps import SESSION_COOKIE
from paperfeed.ingest.runner import write_batch
from paperfeed.papers.record import PaperRecord
from paperfeed.recommend.foryou import Reason, merge
from paperfeed.runtime import Runtime
from tests.recommend.conftest import AGENTS, MEMORY, NOW, like, new_user, pid
from tests.support.cli import Cli
from tests.support.waiting import wait_until


def test_a_reader_who_likes_agent_memory_gets_agent_papers_first_with_reasons(
    rt: Runtime,
) -> None:
    reader = new_user(rt, "mem")
    like(rt, reader, MEMORY[0])
    rt.library.save(reader, rt.library.named(reader, "Reading list").id, pid(rt, MEMORY[1]))
    found = rt.for_you.recommend(reader, limit=10)
    assert found.state == "ready" and found.liked == 2
    top = [item.card.arxiv_id for item in found.items]
    assert not set(top) & set(MEMORY)  # what the reader liked is not recommended
    assert len(set(top[:5]) & AGENTS) >= 3, top
    titles = {rt.cards.card(pid(rt, a)).title for a in MEMORY}
    for item in found.items:
        assert item.reason.kind == "liked"
        assert item.reason.label in titles
        assert item.reason.text == f"Because you liked “{item.reason.label}”"
        assert item.reason.href.removeprefix("/papers/") in MEMORY


def test_dismissed_seen_and_earlier_days_papers_do_not_come_back(
    rt: Runtime, clock: FrozenClock
) -> None:
    reader = new_user(rt, "dis")
    like(rt, reader, *MEMORY)
    first = [i.card.paper_id for i in rt.for_you.recommend(reader, limit=5).items]
    # The same day: a reload shows the same list.
    assert [i.card.paper_id for i in rt.for_you.recommend(reader, limit=5).items] == first
    rt.library.mark(reader, first[0], "dismissed")
    rt.library.mark(reader, first[1], "read")
    again = [i.card.paper_id for i in rt.for_you.recommend(reader, limit=10).items]
    assert first[0] not in again and first[1] not in again
    # Shown today, the others are still candidates (re-ranked: the dismissed paper is a
    # dislike, so one like it may fall below the fifth place).
    assert set(first[2:5]) <= set(again)
    # The next day, what was shown before counts as recommended: none of it comes back.
    clock.advance(dt.timedelta(days=1))
    tomorrow = [i.card.paper_id for i in rt.for_you.recommend(reader, limit=5).items]
    assert tomorrow and not set(tomorrow) & (set(first) | set(again))
    # The account's data export lists what was recommended.
    exported = rt.members.export(reader)["recommended"]
    assert {e["paper"] for e in exported} >= {rt.cards.card(p).public_id for p in first}
    assert {e["in"] for e in exported} == {"page"}
    # The CLI's look records nothing.
    looked = rt.for_you.recommend(reader, limit=30, record=False)
    clock.advance(dt.timedelta(days=1))
    after = {i.card.paper_id for i in rt.for_you.recommend(reader, limit=30).items}
    assert {i.card.paper_id for i in looked.items} - set(tomorrow) <= after


def test_a_new_reader_starts_from_trending_and_then_from_an_author_they_follow(
    rt: Runtime,
) -> None:
    reader = new_user(rt, "new")
    found = rt.for_you.recommend(reader)
    assert found.state == "onboarding" and found.follows == [] and found.items
    assert all(i.reason.kind == "trending" for i in found.items)
    name = rt.cards.card(pid(rt, MEMORY[1])).authors[0]
    rt.follows.follow(reader, "author", name)
    found = rt.for_you.recommend(reader)
    assert found.state == "ready" and found.items
    for item in found.items:
        assert item.reason.kind == "author" and item.reason.label == name
        assert item.reason.text == f"You follow {name}"
        assert name in item.card.authors


def test_a_followed_category_brings_its_new_papers(
    imported: Cli, settings: Settings, session_models: object
) -> None:
    """The Kaggle snapshot head: 200 papers with arXiv categories, of 31 March-2 April 2007."""
    runtime = Runtime(settings, clock=FrozenClock(dt.datetime(2007, 4, 3, 12)))
    try:
        reader = new_user(runtime, "cat")
        runtime.follows.follow(reader, "category", "hep-ph")
        found = runtime.for_you.recommend(reader)
        assert found.state == "ready" and len(found.items) >= 10
        for item in found.items:
            assert item.reason == Reason("category", "hep-ph", "/search?cat=hep-ph&sort=date")
            assert "hep-ph" in item.card.categories
    finally:
        runtime.close()


def test_candidates_are_the_last_days_papers(rt: Runtime, clock: FrozenClock) -> None:
    reader = new_user(rt, "late")
    like(rt, reader, MEMORY[0])
    clock.set(dt.datetime(2026, 8, 20))  # the list is three weeks old: nothing is new
    found = rt.for_you.recommend(reader)
    assert all(i.reason.kind == "trending" for i in found.items)


def test_merge_takes_two_by_taste_then_one_by_follows_each_paper_once() -> None:
    liked = Reason("liked", "A", "/papers/1", 0.9, 1)
    author = Reason("author", "Ada", "/authors/Ada")
    taste = [(10, liked), (11, liked), (12, liked), (13, liked)]
    follows = [(20, author), (11, author), (21, author)]
    assert merge(taste, follows, 10) == [
        (10, liked), (11, liked), (20, author), (12, liked), (13, liked), (21, author)
    ]  # fmt: skip
    assert merge(taste, follows, 3) == [(10, liked), (11, liked), (20, author)]
    assert merge([], follows, 2) == [(20, author), (11, author)]


def test_the_candidates_pool_is_made_ahead_of_the_readers_by_the_index_follower(
    rt: Runtime, clock: FrozenClock
) -> None:
    """A serving process makes the page's pool in the index follower's thread (after each
    poll: `run_tasks`, as the app wires it), so a reader's request makes none; when the
    minute's list moves (a new paper), the next round makes the new list's pool."""
    create_app(rt)  # wires ForYouService.warm into the follower (nothing started here)
    reader = new_user(rt, "warm")
    like(rt, reader, *MEMORY)
    assert rt.recommender.builds == 0
    rt.index.run_tasks()  # the follower's round after a poll (the process has just started)
    made = rt.recommender.builds
    assert made == 2  # the list's vectors, its words
    first = rt.for_you.recommend(reader, limit=5)
    assert first.items and rt.recommender.builds == made  # the request made no pool
    rt.index.run_tasks()  # nothing changed: nothing made
    assert rt.recommender.builds == made
    # A paper on agent memory comes in and is indexed (embedded: a vector, a new index
    # version); the next minute's list holds it.
    record = PaperRecord(
        source="arxiv",
        arxiv_id="2608.00001",
        title="Long-term memory for LLM agents",
        abstract="We give LLM agents a memory of their past sessions, stored as files.",
        categories=["cs.AI"],
        primary_category="cs.AI",
        submitted_at=NOW + dt.timedelta(seconds=30),
    )
    write_batch(rt.engine, rt.catalog_writer, [record])
    rt.index.after_import()
    clock.advance(dt.timedelta(minutes=1))
    rt.index.run_tasks()
    assert rt.recommender.builds == made + 2
    made = rt.recommender.builds
    found = rt.for_you.recommend(reader, limit=30)
    assert rt.recommender.builds == made
    assert "2608.00001" in [item.card.arxiv_id for item in found.items]


def test_one_pool_is_made_once_when_two_threads_need_it_at_once(rt: Runtime) -> None:
    ids, _ = rt.for_you.candidates(NOW - dt.timedelta(days=7), NOW)
    store = rt.search_store
    assert store.meta.dim is not None
    store.vectors(store.meta.dim)  # opened once (as the follower's first poll does)
    start = threading.Barrier(3)
    failed: list[BaseException] = []

    def prepare() -> None:
        start.wait()
        try:
            rt.recommender.prepare(ids)
        except BaseException as exc:  # reported in the test's thread
            failed.append(exc)

    threads = [threading.Thread(target=prepare) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed
    assert rt.recommender.builds == 2  # the vectors and the words, once each
    liked = [pid(rt, MEMORY[0])]
    assert rt.recommender.rank(liked, [], ids, limit=5)
    assert rt.recommender.builds == 2


def test_a_serving_app_makes_the_pool_when_it_starts_not_in_the_first_request(
    rt: Runtime,
) -> None:
    """The app's start (its lifespan) starts the index follower, whose first round makes the
    page's pool; the reader's first `/for-you` then makes none."""
    reader = new_user(rt, "first")
    like(rt, reader, *MEMORY)
    with TestClient(create_app(rt), base_url="http://127.0.0.1") as client:
        wait_until(
            lambda: rt.recommender.builds == 2,
            within=60,
            what=lambda: f"the pool not made at start ({rt.recommender.builds} made)",
        )
        client.cookies.set(SESSION_COOKIE, rt.accounts.start_session(reader))
        page = client.get("/for-you")
        assert page.status_code == 200
        assert page.text.count('class="reason"') >= 5
        assert rt.recommender.builds == 2
