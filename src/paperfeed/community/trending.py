"""Trending: a time-decayed sum of community signals over a window that widens when the last
week is quiet. Pure functions over plain data, shared by the pages, the API, the feeds and the
emails.

    score(paper, now) = sum over its signals s in the window of
                        weight(s) * 2 ** (-age_hours(s) / half_life)

Signals and weights: each upvote 1.0 (at the time it was cast; upvotes imported from Hugging
Face count at the time the paper entered the daily list, the best time known for them), each
comment 2.0 (a discussion is a stronger signal than a click), the daily-list submission
itself 1.0 (the submitter's own vote). Signals dated in the future (clock skew between nodes)
count as now; the service reads signals up to MAX_CLOCK_SKEW after now.

The window: the last 7 days with a half-life of 36 hours (an upvote from three days ago counts
a quarter of one cast now), when at least MIN_PAPERS papers have signals in it. Otherwise
the window doubles (14 days with a half-life of 72 hours, 28 days and 144 hours, ...), window
and half-life together, until it holds MIN_PAPERS papers or reaches back to the oldest signal.
So a quiet week, or an offline catalog imported from old files, still shows a full page, and a
few actions of one user do not replace it: they rank among the papers of the wider window.
Because the half-life grows with the window, a signal at the window's far edge still counts
2 ** (-7 * 24 / 36) = 1/25.4 of one cast now, so a fresh submission without upvotes (1.0)
never outranks a paper with 26 upvotes anywhere in the window (27 / 25.4 > 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

HALF_LIFE_HOURS = 36.0
WINDOW_DAYS = 7
MIN_PAPERS = 30
UPVOTE = 1.0
COMMENT = 2.0
SUBMISSION = 1.0
MAX_CLOCK_SKEW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Signal:
    weight: float
    at: dt.datetime  # UTC, naive


@dataclass(frozen=True)
class Window:
    """The last `days` days, with a half-life that grows with the window (36 h per 7 days)."""

    days: int = WINDOW_DAYS

    @property
    def half_life_hours(self) -> float:
        return HALF_LIFE_HOURS * self.days / WINDOW_DAYS

    @property
    def widened(self) -> bool:
        return self.days > WINDOW_DAYS

    def start(self, now: dt.datetime) -> dt.datetime:
        # (never before year 1: an imported date there must not overflow the window)
        if self.days >= (now - dt.datetime.min).days:
            return dt.datetime.min
        return now - dt.timedelta(days=self.days)


def decay(age_hours: float, half_life_hours: float = HALF_LIFE_HOURS) -> float:
    return float(2.0 ** (-max(0.0, age_hours) / half_life_hours))


def trending_score(signals: Iterable[Signal], now: dt.datetime, window: Window = Window()) -> float:
    start = window.start(now)
    return sum(
        s.weight * decay((now - s.at).total_seconds() / 3600, window.half_life_hours)
        for s in signals
        if s.at >= start
    )


def rank(
    signals_by_paper: Mapping[int, Iterable[Signal]],
    now: dt.datetime,
    window: Window = Window(),
) -> list[tuple[int, float]]:
    """Paper ids with a positive score, best first (ties: the higher paper id, i.e. the one
    added to the catalog later, first)."""
    scored = [(pid, trending_score(sigs, now, window)) for pid, sigs in signals_by_paper.items()]
    return sorted(
        ((pid, score) for pid, score in scored if score > 0),
        key=lambda item: (-item[1], -item[0]),
    )


def windows(now: dt.datetime, oldest: dt.datetime | None) -> Iterator[Window]:
    """7 days, then twice as long each time; the last one reaches back to `oldest` (the
    oldest signal; None: there is none, and the 7 days are the only window)."""
    days = WINDOW_DAYS
    while True:
        window = Window(days)
        yield window
        if oldest is None or window.start(now) <= oldest:
            return
        days *= 2


def trend(
    signals_since: Callable[[dt.datetime], Mapping[int, Iterable[Signal]]],
    now: dt.datetime,
    oldest: dt.datetime | None,
) -> tuple[Window, list[tuple[int, float]]]:
    """The ranking at `now` in the shortest window with at least MIN_PAPERS ranked papers (or
    the widest one). `signals_since(start)`: each paper's signals from `start` on."""
    window, ranked = Window(), []
    for window in windows(now, oldest):
        ranked = rank(signals_since(window.start(now)), now, window)
        if len(ranked) >= MIN_PAPERS:
            break
    return window, ranked
