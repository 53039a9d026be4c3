"""TrendingService.ranked: the documented formula over the real imported daily lists and
the votes and comments cast here, at moments the test chooses."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed.community import trending
from paperfeed.runtime import Runtime
from tests.community.conftest import Clock, MakeUser, community_at

JUNE_12 = dt.datetime(2026, 6, 12)
AUGUST_3 = dt.datetime(2026, 8, 3)


def imported(
    upvotes: int, comments: int, age_hours: float, half_life: float = trending.HALF_LIFE_HOURS
) -> float:
    weight = trending.SUBMISSION + upvotes * trending.UPVOTE + comments * trending.COMMENT
    return weight * 2 ** (-age_hours / half_life)


def test_scores_follow_the_formula_on_imported_lists(hf_daily: Runtime) -> None:
    now = JUNE_12 + dt.timedelta(days=1)
    community = community_at(hf_daily, Clock(now))
    ranked, at = community.trending.ranked(limit=5)
    assert at == now
    assert [c.arxiv_id for c, _ in ranked] == [
        "2606.13681",  # 118 upvotes, 3 comments
        "2606.13392",  # 103, 4
        "2606.08063",  # 74, 3
        "2606.13289",  # 25, 2
        "2606.13106",  # 18, 2
    ]
    assert [score for _, score in ranked] == pytest.approx(
        [
            imported(118, 3, 24),
            imported(103, 4, 24),
            imported(74, 3, 24),
            imported(25, 2, 24),
            imported(18, 2, 24),
        ]
    )


def test_only_the_last_week_counts(hf_daily: Runtime) -> None:
    """On 2026-08-05 the July 31 and August 3 lists count; June's is long gone."""
    now = AUGUST_3 + dt.timedelta(days=2)
    ranked, at = community_at(hf_daily, Clock(now)).trending.ranked(limit=100)
    assert at == now
    assert len(ranked) == 33
    assert {c.daily_on for c, _ in ranked} == {dt.date(2026, 7, 31), dt.date(2026, 8, 3)}


def test_comments_can_outweigh_upvotes(hf_daily: Runtime) -> None:
    """2607.28227 (283 upvotes, 7 comments) outranks 2607.28618 (292 upvotes, 2 comments):
    five more comments are worth ten upvotes."""
    now = AUGUST_3 + dt.timedelta(days=1)
    ranked, _ = community_at(hf_daily, Clock(now)).trending.ranked(limit=2)
    assert [c.arxiv_id for c, _ in ranked] == ["2607.28227", "2607.28618"]
    assert [s for _, s in ranked] == pytest.approx([imported(283, 7, 96), imported(292, 2, 96)])


def test_a_quiet_catalog_widens_the_window(hf_daily: Runtime) -> None:
    """An offline catalog imported from files months ago still shows its trend: nothing
    happened in the last week, so the window doubles until it holds the lists (224 days from
    2026-12-01 reach back to April), with a half-life of 36 h x 32."""
    now = dt.datetime(2026, 12, 1)
    found = community_at(hf_daily, Clock(now)).trending.trend(limit=100)
    assert found.taken_at == now
    assert (found.window.days, found.window.half_life_hours) == (224, 36.0 * 32)
    assert len(found.papers) == 63
    age = (now - dt.datetime(2026, 7, 31)).total_seconds() / 3600  # listed on July 31
    assert [c.arxiv_id for c, _ in found.papers[:2]] == ["2607.28227", "2607.28618"]
    assert found.papers[0][1] == pytest.approx(imported(283, 7, age, half_life=36.0 * 32))


def test_a_few_actions_rank_among_the_widened_window(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    """One user's upvote in a quiet week does not collapse the page to that one paper: the
    window still widens to a full page, and the upvote adds to the paper's imported ones."""
    now = dt.datetime(2026, 12, 1)
    community = community_at(hf_daily, Clock(now))
    paper_id = community.paper_ids.resolve("2606.00467")  # 0 upvotes, 2 comments in June
    community.discussion.upvote(make_user("ada"), paper_id)
    found = community.trending.trend(limit=100)
    assert found.window.days == 224 and len(found.papers) == 63
    scores = {c.paper_id: s for c, s in found.papers}
    june = (now - JUNE_12).total_seconds() / 3600
    assert scores[paper_id] == pytest.approx(imported(0, 2, june, half_life=36.0 * 32) + 1.0)


def test_the_window_widens_while_the_week_has_too_few_papers(hf_daily: Runtime) -> None:
    """On 2026-08-10 at 23:00 the last week holds only the 3 papers of August 3: twice the
    window (14 days) reaches the 30 of July 31 as well."""
    now = AUGUST_3 + dt.timedelta(days=6, hours=23)
    found = community_at(hf_daily, Clock(now)).trending.trend(limit=100)
    assert found.taken_at == now and found.window.days == 14
    assert {c.daily_on for c, _ in found.papers} == {dt.date(2026, 7, 31), dt.date(2026, 8, 3)}


def test_an_empty_catalog_has_no_trend(runtime: Runtime) -> None:
    now = dt.datetime(2026, 8, 3, 12)
    assert community_at(runtime, Clock(now)).trending.ranked() == ([], now)


def test_limit(hf_daily: Runtime) -> None:
    community = community_at(hf_daily, Clock(JUNE_12 + dt.timedelta(hours=1)))
    assert len(community.trending.ranked(limit=7)[0]) == 7
    assert len(community.trending.ranked(limit=100)[0]) == 30


def test_votes_and_comments_cast_here_count_from_when_they_were_cast(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    """Two upvotes (36 h and 12 h ago) and a comment (now) lift a June paper with no
    imported upvotes (2606.00467: 0 upvotes, 2 comments) by exactly their decayed weights."""
    clock = Clock(JUNE_12 + dt.timedelta(hours=12))
    community = community_at(hf_daily, clock)
    paper_id = community.paper_ids.resolve("2606.00467")
    ada, bob = make_user("ada"), make_user("bob")
    community.discussion.upvote(ada, paper_id)
    clock.now += dt.timedelta(hours=24)
    community.discussion.upvote(bob, paper_id)
    clock.now += dt.timedelta(hours=12)
    community.discussion.add_comment(bob, paper_id, "The ablation in section 4 is worth a look.")

    scores = {c.arxiv_id: s for c, s in community.trending.ranked(limit=100)[0]}
    age = 48.0  # the list entered on June 12, 00:00
    expected = imported(0, 2, age) + 2 ** (-36 / 36) + 2 ** (-12 / 36) + trending.COMMENT
    assert scores["2606.00467"] == pytest.approx(expected)
    assert scores["2606.12488"] == pytest.approx(imported(1, 2, age))  # untouched neighbour


def test_a_withdrawn_vote_and_a_hidden_comment_stop_counting(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    clock = Clock(JUNE_12 + dt.timedelta(hours=6))
    community = community_at(hf_daily, clock)
    paper_id = community.paper_ids.resolve("2606.00467")
    ada, admin = make_user("ada"), make_user("root", admin=True)
    community.discussion.upvote(ada, paper_id)
    comment = community.discussion.add_comment(ada, paper_id, "Nice.")

    def score() -> float:
        return {c.paper_id: s for c, s in community.trending.ranked(limit=100)[0]}[paper_id]

    base = imported(0, 2, 6)
    assert score() == pytest.approx(base + 1.0 + 2.0)
    community.moderation.set_comment_hidden(admin, comment, True)
    assert score() == pytest.approx(base + 1.0)
    community.discussion.upvote(ada, paper_id, up=False)
    assert score() == pytest.approx(base)


def test_a_vote_from_a_node_with_a_fast_clock_counts_as_now(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    """Signals dated in the future (clock skew between nodes) count as now, as documented."""
    now = JUNE_12 + dt.timedelta(hours=6)
    here = community_at(hf_daily, Clock(now))
    ahead = community_at(hf_daily, Clock(now + dt.timedelta(minutes=2)))
    paper_id = here.paper_ids.resolve("2606.00467")
    ahead.discussion.upvote(make_user("ada"), paper_id)
    ahead.discussion.add_comment(make_user("bob"), paper_id, "Seen from a node two minutes ahead.")

    scores = {c.paper_id: s for c, s in here.trending.ranked(limit=100)[0]}
    assert scores[paper_id] == pytest.approx(imported(0, 2, 6) + 1.0 + 2.0)


def test_hidden_papers_leave_the_trend(hf_daily: Runtime, make_user: MakeUser) -> None:
    community = community_at(hf_daily, Clock(JUNE_12 + dt.timedelta(days=1)))
    top = community.trending.ranked(limit=3)[0]
    assert top[0][0].arxiv_id == "2606.13681"
    community.moderation.set_paper_hidden(make_user("root", admin=True), top[0][0].paper_id, True)
    after = community.trending.ranked(limit=3)[0]
    assert [c.arxiv_id for c, _ in after] == ["2606.13392", "2606.08063", "2606.13289"]
    assert all(not c.hidden for c, _ in after)


def test_viewer_sees_their_own_votes(hf_daily: Runtime, make_user: MakeUser) -> None:
    community = community_at(hf_daily, Clock(JUNE_12 + dt.timedelta(days=1)))
    ada = make_user("ada")
    paper_id = community.paper_ids.resolve("2606.13392")
    community.discussion.upvote(ada, paper_id)
    voted = {c.arxiv_id for c, _ in community.trending.ranked(limit=30, viewer=ada)[0] if c.voted}
    assert voted == {"2606.13392"}
    assert not any(c.voted for c, _ in community.trending.ranked(limit=30)[0])
