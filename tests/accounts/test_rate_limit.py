"""Fixed-window rate limits kept in the database: counted per action and client, shared by
every engine (process) on the same database, exact under concurrent hits."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from paperfeed.accounts import rate_limit
from paperfeed.accounts.rate_limit import Limit, RateLimited, RateLimiter
from paperfeed.clock import utcnow
from paperfeed.db.engine import make_engine
from paperfeed.db.schema import rate_limits
from paperfeed.runtime import Runtime

# Windows this long never roll over during a test (their boundaries are years apart).
DECADE = dt.timedelta(days=3650)


def limit(count: int, action: str = "test") -> Limit:
    return Limit(action, count, DECADE)


def allowed(limiter: RateLimiter, lim: Limit, client: str, attempts: int) -> int:
    """How many of `attempts` hits pass."""
    passed = 0
    for _ in range(attempts):
        try:
            limiter.hit(lim, client)
            passed += 1
        except RateLimited:
            pass
    return passed


@pytest.fixture
def second_engine(runtime: Runtime) -> Iterator[sa.Engine]:
    """Another engine on the same database, as another app process would have."""
    engine = make_engine(runtime.settings)
    yield engine
    engine.dispose()


def test_the_allowance_passes_and_the_next_attempt_is_refused(runtime: Runtime) -> None:
    limiter = runtime.rate_limiter
    lim = limit(3)
    for _ in range(3):
        limiter.hit(lim, "203.0.113.7")
    with pytest.raises(RateLimited) as raised:
        limiter.hit(lim, "203.0.113.7")
    refused = raised.value
    assert refused.limit == lim
    assert 1 <= refused.retry_after <= DECADE.total_seconds()
    assert str(refused) == f"too many test attempts; try again in {refused.retry_after} s"
    with pytest.raises(RateLimited):  # and stays refused
        limiter.hit(lim, "203.0.113.7")


def test_retry_after_points_at_the_end_of_the_window(runtime: Runtime) -> None:
    lim = Limit("hourly", 1, dt.timedelta(hours=1))
    _avoid_window_boundary(lim.per)
    runtime.rate_limiter.hit(lim, "c")
    with pytest.raises(RateLimited) as raised:
        runtime.rate_limiter.hit(lim, "c")
    now = int(time.time())
    window_end = (now // 3600 + 1) * 3600
    assert abs(raised.value.retry_after - (window_end - now)) <= 2
    assert 1 <= raised.value.retry_after <= 3600


def test_clients_are_counted_separately(runtime: Runtime) -> None:
    limiter = runtime.rate_limiter
    lim = limit(2)
    assert allowed(limiter, lim, "198.51.100.1", 5) == 2
    assert allowed(limiter, lim, "198.51.100.2", 5) == 2
    assert allowed(limiter, lim, "email:ada@example.org", 1) == 1


def test_actions_are_counted_separately(runtime: Runtime) -> None:
    limiter = runtime.rate_limiter
    assert allowed(limiter, limit(2, "sign-in"), "c", 3) == 2
    assert allowed(limiter, limit(2, "sign-up"), "c", 3) == 2


def test_long_client_keys_are_cut_not_refused(runtime: Runtime) -> None:
    limiter = runtime.rate_limiter
    lim = limit(1)
    limiter.hit(lim, "x" * 5000)
    with pytest.raises(RateLimited):
        limiter.hit(lim, "x" * 5000)


def test_the_scale_setting_multiplies_every_limit(runtime: Runtime) -> None:
    assert allowed(RateLimiter(runtime.engine, scale=2.5), limit(4), "a", 20) == 10
    assert allowed(RateLimiter(runtime.engine, scale=0.01), limit(4), "b", 5) == 1  # at least 1


def test_runtime_limiter_uses_the_scale_setting(runtime: Runtime) -> None:
    scaled = Runtime(runtime.settings.model_copy(update={"rate_limit_scale": 3.0}))
    try:
        assert allowed(scaled.rate_limiter, limit(2), "c", 10) == 6
    finally:
        scaled.close()


def test_engines_on_the_same_database_share_the_counts(
    runtime: Runtime, second_engine: sa.Engine
) -> None:
    one, two = RateLimiter(runtime.engine), RateLimiter(second_engine)
    lim = limit(3)
    one.hit(lim, "c")
    two.hit(lim, "c")
    one.hit(lim, "c")
    with pytest.raises(RateLimited):
        two.hit(lim, "c")
    with pytest.raises(RateLimited):
        one.hit(lim, "c")


def test_concurrent_hits_from_two_engines_are_counted_exactly(
    runtime: Runtime, second_engine: sa.Engine
) -> None:
    """8 threads on two engines race for fresh windows (first hits of a new key insert the
    row, and racing inserts collide): every hit is counted, and exactly `count` pass."""
    limiters = [RateLimiter(runtime.engine), RateLimiter(second_engine)]
    lim = limit(10)
    rounds, threads_per_round, hits = 5, 8, 3
    passed: dict[str, list[int]] = {f"client-{r}": [] for r in range(rounds)}
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_per_round)

    def worker(n: int) -> None:
        try:
            for client in passed:
                barrier.wait(timeout=30)
                passed[client].append(allowed(limiters[n % 2], lim, client, hits))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_per_round)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert {client: sum(n) for client, n in passed.items()} == {client: 10 for client in passed}
    with runtime.engine.connect() as conn:
        counts = conn.execute(sa.select(rate_limits.c.count)).scalars().all()
    assert counts == [threads_per_round * hits] * rounds


def test_a_new_window_starts_a_new_count(runtime: Runtime) -> None:
    lim = Limit("per-second", 2, dt.timedelta(seconds=1))
    _avoid_window_boundary(lim.per, within=0.5)
    limiter = runtime.rate_limiter
    assert allowed(limiter, lim, "c", 3) == 2
    _wait_for_next_second(margin=0.05)
    assert allowed(limiter, lim, "c", 3) == 2


def _wait_for_next_second(margin: float) -> None:
    now = time.time()
    time.sleep(1 - (now % 1) + margin)


def test_expired_windows_are_purged(runtime: Runtime) -> None:
    old = utcnow() - dt.timedelta(hours=1)
    with runtime.engine.begin() as conn:
        conn.execute(rate_limits.insert().values(key="sign-in|c|0", count=99, expires_at=old))
    runtime.rate_limiter.hit(limit(1), "c")
    with runtime.engine.connect() as conn:
        keys = conn.execute(sa.select(rate_limits.c.key)).scalars().all()
    assert len(keys) == 1
    assert keys[0].startswith("test|c|")


@pytest.mark.parametrize(
    "lim",
    [
        rate_limit.SIGN_IN,
        rate_limit.SIGN_UP,
        rate_limit.PASSWORD_RESET,
        rate_limit.SUBMIT,
        rate_limit.SUBSCRIBE,
        rate_limit.COMMENT,
    ],
    ids=lambda lim: lim.action,
)
def test_shipped_limits_refuse_the_attempt_after_their_allowance(
    runtime: Runtime, lim: Limit
) -> None:
    _avoid_window_boundary(lim.per)
    assert allowed(runtime.rate_limiter, lim, "203.0.113.9", lim.count + 3) == lim.count


def _avoid_window_boundary(per: dt.timedelta, within: float = 1.0) -> None:
    """Wait if a window boundary is less than `within` seconds away (the hits take ~0.1 s)."""
    seconds = per.total_seconds()
    left = seconds - (time.time() % seconds)
    if left < within:
        time.sleep(left + 0.05)
