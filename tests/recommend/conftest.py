"""For-you fixtures: the real Hugging Face daily list of 2026-07-31 (30 papers), imported and
embedded with the real model, a runtime on a clock the test moves (the morning after the
list), and real accounts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from paperfeed.accounts.service import User
from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.support.accounts import confirmed_user

NOW = dt.datetime(2026, 8, 1, 9, 0)  # the morning after the list
# Two papers on memory for LLM agents; the list has more on agents and memory.
MEMORY = ("2607.27958", "2607.26637")  # Σ-Mem; Filesystem-Based Memory for LLM Agents
AGENTS = {
    "2607.27919",  # Memory Decoder at Scale
    "2607.28227",  # Qwen-UI-Agent
    "2607.18806",  # group travel planning by LLM agents
    "2607.28074",  # Echoverse: environments for computer-use agents
    "2607.27652",  # Harness-G: search agents
    "2607.28374",  # LEDGERMIND: agentic reasoning
    "2607.28595",  # Beacon: agentic visual reasoning
    "2607.20891",  # deep research agents
    "2607.28568",  # AI4AI self-improvement
    "2607.27816",  # user simulation
}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def rt(
    seed_hf_daily_list: None, settings: Settings, clock: FrozenClock, session_models: object
) -> Iterator[Runtime]:
    """The real daily list of 2026-07-31, imported and indexed (the seed: once per process)."""
    runtime = Runtime(settings, clock=clock)
    assert runtime.recommender.ready()
    yield runtime
    runtime.close()


def pid(rt: Runtime, arxiv_id: str) -> int:
    return rt.catalog.ids_for_arxiv([arxiv_id])[arxiv_id]


def new_user(rt: Runtime, name: str) -> User:
    return confirmed_user(rt.accounts, f"{name}@example.org", name)


def like(rt: Runtime, user: User, *arxiv_ids: str) -> None:
    for arxiv_id in arxiv_ids:
        rt.discussion.upvote(user, pid(rt, arxiv_id))
