"""Library fixtures: a catalog holding the three real Hugging Face daily lists (63 papers),
real accounts, and the runtime's library services."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from paperfeed.accounts.service import User
from paperfeed.runtime import Runtime
from tests.support.accounts import confirmed_user

MakeUser = Callable[[str], User]


@pytest.fixture
def hf_daily(seed_hf_daily_lists: None, runtime: Runtime) -> Runtime:
    return runtime


@pytest.fixture
def make_user(runtime: Runtime) -> MakeUser:
    def make(name: str) -> User:
        return confirmed_user(runtime.accounts, f"{name}@example.org", name)

    return make
