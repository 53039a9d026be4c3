"""The trending formula of `community.trending`, checked against its documented definition:

score = sum of weight * 2 ** (-age_hours / 36) over the signals of the last 7 days,
upvote 1.0, comment 2.0, submission 3.0, future-dated signals counted as now."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed.community import trending
from paperfeed.community.trending import Signal, decay, rank, trending_score

NOW = dt.datetime(2026, 8, 3, 12, 0)


def ago(**delta: float) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


def test_documented_constants() -> None:
    assert trending.HALF_LIFE_HOURS == 36.0
    assert trending.WINDOW_DAYS == 7
    assert (trending.UPVOTE, trending.COMMENT, trending.SUBMISSION) == (1.0, 2.0, 3.0)


@pytest.mark.parametrize(
    ("age_hours", "expected"),
    [
        (0.0, 1.0),
        (36.0, 0.5),  # one half-life
        (72.0, 0.25),  # "an upvote from three days ago counts a quarter of one cast now"
        (18.0, 2**-0.5),
        (108.0, 0.125),
        (168.0, 2 ** (-168 / 36)),  # the window's edge
        (-5.0, 1.0),  # from the future: counts as now, never more
    ],
)
def test_decay_halves_every_half_life(age_hours: float, expected: float) -> None:
    assert decay(age_hours) == pytest.approx(expected, rel=1e-12)


def test_decay_with_another_half_life() -> None:
    assert decay(12.0, half_life_hours=12.0) == pytest.approx(0.5)
    assert decay(12.0, half_life_hours=24.0) == pytest.approx(2**-0.5)


def test_score_sums_weighted_decayed_signals() -> None:
    signals = [
        Signal(trending.SUBMISSION, ago(hours=36)),
        Signal(trending.UPVOTE, NOW),
        Signal(trending.UPVOTE, ago(hours=72)),
        Signal(trending.COMMENT, ago(hours=18)),
    ]
    expected = 3.0 * 0.5 + 1.0 + 1.0 * 0.25 + 2.0 * 2**-0.5
    assert trending_score(signals, NOW) == pytest.approx(expected, rel=1e-12)


def test_a_comment_weighs_two_upvotes_and_a_submission_three() -> None:
    when = ago(hours=10)
    upvote = trending_score([Signal(trending.UPVOTE, when)], NOW)
    assert trending_score([Signal(trending.COMMENT, when)], NOW) == pytest.approx(2 * upvote)
    assert trending_score([Signal(trending.SUBMISSION, when)], NOW) == pytest.approx(3 * upvote)


def test_only_the_last_seven_days_count() -> None:
    edge = Signal(1.0, ago(days=7))
    past = Signal(1.0, ago(days=7, seconds=1))
    assert trending_score([edge], NOW) == pytest.approx(2 ** (-168 / 36))
    assert trending_score([past], NOW) == 0.0
    assert trending_score([edge, past, Signal(1.0, ago(days=30))], NOW) == pytest.approx(
        2 ** (-168 / 36)
    )


def test_future_dated_signals_count_as_now() -> None:
    skewed = [Signal(trending.UPVOTE, NOW + dt.timedelta(minutes=3))]
    far = [Signal(trending.COMMENT, NOW + dt.timedelta(days=2))]
    assert trending_score(skewed, NOW) == 1.0
    assert trending_score(far, NOW) == 2.0


def test_no_signals_score_zero() -> None:
    assert trending_score([], NOW) == 0.0


def test_custom_half_life_applies_to_every_signal() -> None:
    signals = [Signal(1.0, ago(hours=24)), Signal(2.0, ago(hours=48))]
    assert trending_score(signals, NOW, half_life_hours=24.0) == pytest.approx(0.5 + 2 * 0.25)


def test_rank_orders_by_score_best_first() -> None:
    ranked = rank(
        {
            1: [Signal(1.0, ago(hours=72))],  # 0.25
            2: [Signal(1.0, NOW)],  # 1.0
            3: [Signal(2.0, ago(hours=36)), Signal(1.0, ago(hours=36))],  # 1.5
            4: [Signal(3.0, ago(hours=108))],  # 0.375
        },
        NOW,
    )
    assert [pid for pid, _ in ranked] == [3, 2, 4, 1]
    assert [score for _, score in ranked] == pytest.approx([1.5, 1.0, 0.375, 0.25])


def test_rank_breaks_ties_by_the_later_paper_id() -> None:
    same = [Signal(1.0, ago(hours=5))]
    ranked = rank({7: same, 12: same, 9: same, 3: [Signal(2.0, NOW)]}, NOW)
    assert [pid for pid, _ in ranked] == [3, 12, 9, 7]


def test_rank_drops_papers_without_a_positive_score() -> None:
    ranked = rank(
        {
            1: [],
            2: [Signal(1.0, ago(days=8))],  # outside the window
            3: [Signal(1.0, ago(days=1))],
        },
        NOW,
    )
    assert [pid for pid, _ in ranked] == [3]


def test_recent_activity_beats_a_bigger_older_burst() -> None:
    """Half-life in practice: 10 upvotes four and a half days ago (10 / 8 = 1.25) lose to two
    upvotes cast now (2.0)."""
    old = [Signal(1.0, ago(hours=108))] * 10
    new = [Signal(1.0, NOW)] * 2
    assert [pid for pid, _ in rank({1: old, 2: new}, NOW)] == [2, 1]
    assert trending_score(old, NOW) == pytest.approx(1.25)
