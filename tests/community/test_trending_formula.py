"""The trending formula of `community.trending`, checked against its documented definition:

score = sum of weight * 2 ** (-age_hours / 36) over the signals of the last 7 days,
upvote 1.0, comment 2.0, submission 1.0, future-dated signals counted as now; when fewer than
30 papers have signals in the week, window and half-life double until enough do."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed.community import trending
from paperfeed.community.trending import Signal, Window, decay, rank, trend, trending_score, windows

NOW = dt.datetime(2026, 8, 3, 12, 0)


def ago(**delta: float) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


def test_documented_constants() -> None:
    assert trending.HALF_LIFE_HOURS == 36.0
    assert trending.WINDOW_DAYS == 7
    assert trending.MIN_PAPERS == 30
    assert (trending.UPVOTE, trending.COMMENT, trending.SUBMISSION) == (1.0, 2.0, 1.0)
    assert Window().half_life_hours == 36.0
    assert (Window(28).days, Window(28).half_life_hours) == (28, 144.0)


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
    expected = 1.0 * 0.5 + 1.0 + 1.0 * 0.25 + 2.0 * 2**-0.5
    assert trending_score(signals, NOW) == pytest.approx(expected, rel=1e-12)


def test_a_comment_weighs_two_upvotes_and_a_submission_one() -> None:
    when = ago(hours=10)
    upvote = trending_score([Signal(trending.UPVOTE, when)], NOW)
    assert trending_score([Signal(trending.COMMENT, when)], NOW) == pytest.approx(2 * upvote)
    assert trending_score([Signal(trending.SUBMISSION, when)], NOW) == pytest.approx(upvote)


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


def test_a_wider_window_has_a_longer_half_life() -> None:
    signals = [Signal(1.0, ago(hours=72)), Signal(2.0, ago(hours=144)), Signal(1.0, ago(days=20))]
    assert trending_score(signals, NOW, Window(14)) == pytest.approx(0.5 + 2 * 0.25)
    assert trending_score(signals, NOW, Window(28)) == pytest.approx(
        2**-0.5 + 2 * 0.5 + 2 ** (-480 / 144)
    )


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


def test_windows_double_until_they_reach_the_oldest_signal() -> None:
    assert [w.days for w in windows(NOW, None)] == [7]
    assert [w.days for w in windows(NOW, ago(days=3))] == [7]
    assert [w.days for w in windows(NOW, ago(days=7))] == [7]
    assert [w.days for w in windows(NOW, ago(days=100))] == [7, 14, 28, 56, 112]
    # An imported date near year 1 ends in a window starting at the earliest datetime.
    last = list(windows(NOW, dt.datetime(1, 1, 1)))[-1]
    assert last.start(NOW) == dt.datetime.min


def by_paper(signals: dict[int, list[Signal]]):  # type: ignore[no-untyped-def]
    """`signals_since` over fixed data, as the service reads it from the database."""

    def since(start: dt.datetime) -> dict[int, list[Signal]]:
        return {p: [s for s in sigs if s.at >= start] for p, sigs in signals.items()}

    return since


def test_a_busy_week_keeps_the_seven_day_window() -> None:
    signals = {pid: [Signal(1.0, ago(days=pid % 6))] for pid in range(40)}
    signals[99] = [Signal(500.0, ago(days=10))]  # big, but before the week
    window, ranked = trend(by_paper(signals), NOW, ago(days=10))
    assert window == Window(7)
    assert len(ranked) == 40 and 99 not in dict(ranked)


def test_a_quiet_week_widens_until_a_full_page() -> None:
    """Three papers with activity this week and 60 from months ago: the window widens until
    it holds at least 30 papers, and the half-life grows with it."""
    signals = {pid: [Signal(1.0 + pid, ago(days=120 + pid))] for pid in range(60)}
    signals[100] = [Signal(trending.SUBMISSION, NOW)]
    signals[101] = [Signal(trending.SUBMISSION, ago(hours=2))]
    signals[102] = [Signal(trending.UPVOTE, ago(hours=1))]
    window, ranked = trend(by_paper(signals), NOW, ago(days=179))
    assert window == Window(224)
    assert window.half_life_hours == 36.0 * 32
    assert len(ranked) == 63
    scores = dict(ranked)
    assert scores[5] == pytest.approx(6.0 * 2 ** (-(125 * 24) / (36.0 * 32)))
    # Stopping early: the first window with 30 ranked papers wins.
    signals.update({200 + n: [Signal(1.0, ago(days=20))] for n in range(27)})
    window, ranked = trend(by_paper(signals), NOW, ago(days=179))
    assert window == Window(28) and len(ranked) == 30


@pytest.mark.parametrize("days", [7, 14, 56, 224, 3584])
def test_a_fresh_submission_never_outranks_26_upvotes_in_the_window(days: int) -> None:
    """At the far edge of any window a signal still counts 1/25.4: a paper with 26 upvotes
    (and its submission) anywhere in the window beats a fresh submission without upvotes."""
    window = Window(days)
    edge = window.start(NOW)
    popular = [Signal(trending.SUBMISSION, edge)] + [Signal(trending.UPVOTE, edge)] * 26
    fresh = [Signal(trending.SUBMISSION, NOW)]
    assert [pid for pid, _ in rank({1: popular, 2: fresh}, NOW, window)] == [1, 2]
