"""Trending: a time-decayed sum of community signals. Pure functions over plain data, shared
by the pages, the API, the feeds and the emails.

    score(paper, now) = sum over its signals s of  weight(s) * 2 ** (-age_hours(s) / HALF_LIFE)

Signals and weights: each upvote 1.0 (at the time it was cast; upvotes imported from Hugging
Face count at the time the paper entered the daily list, the best time known for them), each
comment 2.0 (a discussion is a stronger signal than a click), the daily-list submission
itself 3.0. HALF_LIFE is 36 hours: an upvote from three days ago counts a quarter of one
cast now. Only signals of the last WINDOW days count; signals dated in the future (clock
skew between nodes) count as now. The service reads signals up to MAX_CLOCK_SKEW after now;
later ones belong to a later ranking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

HALF_LIFE_HOURS = 36.0
WINDOW_DAYS = 7
UPVOTE = 1.0
COMMENT = 2.0
SUBMISSION = 3.0
MAX_CLOCK_SKEW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Signal:
    weight: float
    at: dt.datetime  # UTC, naive


def decay(age_hours: float, half_life_hours: float = HALF_LIFE_HOURS) -> float:
    return float(2.0 ** (-max(0.0, age_hours) / half_life_hours))


def trending_score(
    signals: Iterable[Signal], now: dt.datetime, half_life_hours: float = HALF_LIFE_HOURS
) -> float:
    window_start = now - dt.timedelta(days=WINDOW_DAYS)
    return sum(
        s.weight * decay((now - s.at).total_seconds() / 3600, half_life_hours)
        for s in signals
        if s.at >= window_start
    )


def rank(
    signals_by_paper: Mapping[int, Iterable[Signal]], now: dt.datetime
) -> list[tuple[int, float]]:
    """Paper ids with a positive score, best first (ties: the higher paper id, i.e. the one
    added to the catalog later, first)."""
    scored = [(pid, trending_score(sigs, now)) for pid, sigs in signals_by_paper.items()]
    return sorted(
        ((pid, score) for pid, score in scored if score > 0),
        key=lambda item: (-item[1], -item[0]),
    )
