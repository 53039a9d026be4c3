"""A batch's personal sections (`PersonalDigests.choose_many`: the batch's signals,
impressions and follows read in one query each, `ForYouService.pick_many`) are exactly those
each subscriber gets alone (`PersonalDigests.choose`, in a runtime of its own): the same
sections, papers, order and reasons. The catalog is the real HF daily list of 2026-06-12,
embedded with the real model; readers with upvotes, saved, dismissed and read papers, page
impressions, follows and different preferences; on each backend (`catalog_server`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paperfeed.accounts.service import User
from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.digest.editions import period_key
from paperfeed.digest.personal import PersonalDigests
from paperfeed.digest.preferences import Preferences
from paperfeed.runtime import Runtime
from tests.digest.conftest import DAY
from tests.digest.test_personal import AGENTS, FOLLOWED_PAPER, LIKED
from tests.recommend.conftest import pid
from tests.support.accounts import confirmed_user
from tests.support.cli import Cli


@pytest.fixture
def minilm(digest_settings: Settings, hf_catalog: Cli, session_models: object) -> Settings:
    """The digest settings with the real embedding model, over the indexed catalog."""
    hf_catalog("index", "build", "--no-progress")
    return digest_settings.model_copy(update={"embedder": "minilm"})


@pytest.fixture
def prt(minilm: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    runtime = Runtime(minilm, clock=clock)
    assert runtime.recommender.ready()
    yield runtime
    runtime.close()


def _readers(rt: Runtime) -> list[tuple[User, Preferences]]:
    """Six readers, each with other signals and preferences."""
    agents = sorted(AGENTS)
    author = rt.cards.card(pid(rt, FOLLOWED_PAPER)).authors[0]
    users = {
        name: confirmed_user(rt.accounts, f"{name}@example.org", name)
        for name in ("ada", "bob", "cy", "dee", "eve", "fay")
    }
    ada, bob, cy, _, eve, fay = users.values()
    for arxiv_id in LIKED:
        rt.discussion.upvote(ada, pid(rt, arxiv_id))
        rt.discussion.upvote(eve, pid(rt, arxiv_id))
    rt.follows.follow(ada, "author", author)
    reading = rt.library.named(bob, "Reading list").id
    for arxiv_id in agents[:2]:
        rt.library.save(bob, reading, pid(rt, arxiv_id))
    rt.library.mark(bob, pid(rt, agents[2]), "dismissed")
    rt.library.mark(bob, pid(rt, agents[3]), "read")
    rt.discussion.upvote(cy, pid(rt, agents[4]))
    rt.follows.follow(cy, "search", "agents")
    rt.discussion.upvote(fay, pid(rt, LIKED[0]))
    rt.follows.follow(fay, "author", author)
    # Eve's page showed papers today: recorded, so her digest leaves them out.
    assert rt.for_you.recommend(eve, limit=4).items
    prefs = {
        "ada": Preferences(),
        "bob": Preferences(max_papers=5),
        "cy": Preferences(for_you=False),
        "dee": Preferences(),
        "eve": Preferences(trending=False),
        "fay": Preferences(follows=False, max_papers=3),
    }
    return [(users[name], prefs[name]) for name in users]


def test_a_batch_chooses_what_each_reader_gets_alone(
    prt: Runtime, minilm: Settings, clock: FrozenClock
) -> None:
    readers = _readers(prt)
    clock.advance(3600)
    edition = prt.editions.build("daily", period_key("daily", DAY))
    assert edition is not None
    cards = prt.editions.cards(edition)
    asks = [(u.id, prefs, [c.paper_id for c in prefs.choose(cards)]) for u, prefs in readers]
    now = clock()

    batch = PersonalDigests(prt.for_you, prt.secret).choose_many(asks, edition, now)
    alone_rt = Runtime(minilm, clock=clock)  # nothing kept from the batch's rankings
    try:
        alone = PersonalDigests(alone_rt.for_you, alone_rt.secret)
        each = [alone.choose(uid, prefs, edition, trending, now) for uid, prefs, trending in asks]
    finally:
        alone_rt.close()
    assert batch == each
    # In another order, the same sections for each.
    again = PersonalDigests(prt.for_you, prt.secret).choose_many(asks[::-1], edition, now)
    assert again == batch[::-1]

    # What each reader's signals and preferences make of it (the comparison is not empty).
    ada, bob, cy, dee, eve, fay = batch
    names = {r.label for p in batch for _, r in p.for_you}
    assert len(ada.for_you) == 10 and ada.follows == (
        (pid(prt, FOLLOWED_PAPER), ada.follows[0][1]),
    )
    assert names and "" not in names  # the liked papers' titles
    assert len(bob.for_you) == 5
    left_out = {pid(prt, a) for a in sorted(AGENTS)[:4]}
    assert not {pid for pid, _ in bob.for_you} & left_out
    assert cy.for_you == () and cy.follows and cy.trending
    assert dee.for_you == dee.follows == () and dee.trending
    assert len(eve.for_you) == 10 and eve.trending == ()
    shown = prt.for_you.pick(readers[4][0].id, now=now, since=now, limit=1).shown
    assert len(shown) == 4 and not {pid for pid, _ in eve.for_you} & shown
    assert {pid for pid, _ in eve.for_you} != {pid for pid, _ in ada.for_you}
    assert len(fay.for_you) == 3 and fay.follows == ()
