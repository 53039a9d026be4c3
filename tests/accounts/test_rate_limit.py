"""Fixed-window rate limits kept in the database: counted per action and client, shared by
every engine (process) on the same database, exact under concurrent hits."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from paperfeed.accounts import rate_limit
from paperfeed.accounts.rate_limit import Limit, RateLimited, RateLimiter
from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.db.engine import make_engine
from paperfeed.db.schema import rate_limits
from paperfeed.runtime import Runtime

# Windows this long never roll over during a test (their boundaries are years apart).
DECADE = dt.timedelta(days=3650)
# The clock of the tests that move through windows: 10:15:30 UTC, 45 min before the hour ends.
START = dt.datetime(2026, 8, 3, 10, 15, 30)


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
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def limiter(runtime: Runtime, clock: FrozenClock) -> RateLimiter:
    """The runtime's limiter on a clock the test moves."""
    return RateLimiter(runtime.engine, runtime.settings.rate_limit_scale, clock=clock)


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


def test_retry_after_points_at_the_end_of_the_window(
    limiter: RateLimiter, clock: FrozenClock
) -> None:
    lim = Limit("hourly", 1, dt.timedelta(hours=1))
    limiter.hit(lim, "c")
    with pytest.raises(RateLimited) as raised:
        limiter.hit(lim, "c")
    assert raised.value.retry_after == 44 * 60 + 30  # 10:15:30 -> 11:00:00
    clock.advance(dt.timedelta(minutes=44, seconds=29))
    with pytest.raises(RateLimited) as raised:
        limiter.hit(lim, "c")
    assert raised.value.retry_after == 1  # never 0: "try again now" would be refused


def test_the_runtime_limiter_reads_the_runtime_clock(settings: Settings) -> None:
    clock = FrozenClock(START)
    rt = Runtime(settings, clock=clock)
    try:
        lim = Limit("hourly", 1, dt.timedelta(hours=1))
        rt.rate_limiter.hit(lim, "c")
        with pytest.raises(RateLimited) as raised:
            rt.rate_limiter.hit(lim, "c")
        assert raised.value.retry_after == 44 * 60 + 30
        clock.advance(dt.timedelta(minutes=45))  # 11:00:30: the next hour's window
        rt.rate_limiter.hit(lim, "c")
    finally:
        rt.close()


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


def test_a_new_window_starts_a_new_count(limiter: RateLimiter, clock: FrozenClock) -> None:
    lim = Limit("per-second", 2, dt.timedelta(seconds=1))
    assert allowed(limiter, lim, "c", 3) == 2
    clock.advance(0.999)  # still the same second
    assert allowed(limiter, lim, "c", 1) == 0
    clock.advance(0.001)
    assert allowed(limiter, lim, "c", 3) == 2


def test_windows_are_fixed_not_sliding(limiter: RateLimiter, clock: FrozenClock) -> None:
    """Hits at the end of one hour do not count against the start of the next."""
    lim = Limit("hourly", 3, dt.timedelta(hours=1))
    clock.set(dt.datetime(2026, 8, 3, 10, 59, 59))
    assert allowed(limiter, lim, "c", 5) == 3
    clock.advance(1)
    assert allowed(limiter, lim, "c", 5) == 3


def test_expired_windows_are_purged(
    runtime: Runtime, limiter: RateLimiter, clock: FrozenClock
) -> None:
    old = clock() - dt.timedelta(hours=1)
    with runtime.engine.begin() as conn:
        conn.execute(rate_limits.insert().values(key="sign-in|c|0", count=99, expires_at=old))
    limiter.hit(limit(1), "c")
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
    limiter: RateLimiter, clock: FrozenClock, lim: Limit
) -> None:
    assert allowed(limiter, lim, "203.0.113.9", lim.count + 3) == lim.count
    clock.advance(lim.per)  # the next window has the whole allowance again
    assert allowed(limiter, lim, "203.0.113.9", lim.count + 3) == lim.count
