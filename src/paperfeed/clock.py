"""Time, injected. Every service that reads the time takes a `Clock` (naive UTC datetimes, as
the catalog stores them); the runtime passes one clock to all of them, and tests pass a
`FrozenClock` they move by hand instead of sleeping on the wall clock."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from paperfeed.papers.dates import utc_naive

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    """The wall clock: now, as naive UTC. The default `Clock`."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class FrozenClock:
    """A clock that stands still until moved (tests, simulations). Thread-safe."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = utc_naive(start) if start is not None else utcnow().replace(microsecond=0)
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, delta: dt.timedelta | float) -> dt.datetime:
        """Move forward by a timedelta or a number of seconds; returns the new time."""
        step = delta if isinstance(delta, dt.timedelta) else dt.timedelta(seconds=delta)
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self._now = utc_naive(when)
