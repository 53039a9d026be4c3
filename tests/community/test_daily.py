"""Daily lists over the real Hugging Face daily papers of 2026-06-12, 2026-07-31 and
2026-08-03: by date and by range, ranked by upvotes (imported plus those cast here)."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed.community.cards import PaperCard
from paperfeed.community.daily import DAILY_MAX
from paperfeed.ingest.runner import write_batch
from paperfeed.papers.record import DailyEntry, PaperRecord
from paperfeed.runtime import Runtime
from tests.community.conftest import MakeUser

JUNE_12 = dt.date(2026, 6, 12)
JULY_31 = dt.date(2026, 7, 31)
AUGUST_3 = dt.date(2026, 8, 3)


def ids(cards: list[PaperCard]) -> list[str | None]:
    return [c.arxiv_id for c in cards]


def test_a_day_lists_its_papers_by_upvotes(hf_daily: Runtime) -> None:
    cards = hf_daily.daily.papers(JUNE_12)
    assert len(cards) == 30
    assert {c.daily_on for c in cards} == {JUNE_12}
    assert ids(cards)[:4] == ["2606.13681", "2606.13392", "2606.08063", "2606.13289"]
    assert [c.upvotes for c in cards[:4]] == [118, 103, 74, 25]
    upvotes = [c.upvotes for c in cards]
    assert upvotes == sorted(upvotes, reverse=True)


def test_cards_carry_the_imported_daily_details(hf_daily: Runtime) -> None:
    [card] = [c for c in hf_daily.daily.papers(JUNE_12) if c.arxiv_id == "2606.12730"]
    assert card.title.startswith("Rethinking Psychometric Evaluation of LLMs")
    assert card.authors[:2] == ["Rafal Kocielnik", "Pengrui Han"]
    assert card.submitted_by == "RKocielnik"
    assert (card.upvotes, card.num_comments, card.hf_comments) == (5, 0, 3)
    assert card.daily_at == dt.datetime(2026, 6, 12)
    assert card.github_repo is not None
    assert card.code_links()[0] == card.github_repo
    assert card.public_id == "2606.12730"
    assert not card.hidden
    assert not card.voted


def test_a_range_merges_days_and_ranks_them_together(hf_daily: Runtime) -> None:
    cards = hf_daily.daily.papers(JUNE_12, AUGUST_3)
    assert len(cards) == 63
    assert {c.daily_on for c in cards} == {JUNE_12, JULY_31, AUGUST_3}
    # 292 and 283 (July) beat 168 (July) and 118 (June).
    assert ids(cards)[:4] == ["2607.28618", "2607.28227", "2607.28568", "2606.13681"]
    assert len(hf_daily.daily.papers(JULY_31, AUGUST_3)) == 33


def test_days_without_a_list_are_empty(hf_daily: Runtime) -> None:
    assert hf_daily.daily.papers(dt.date(2026, 7, 30)) == []
    assert hf_daily.daily.papers(dt.date(2026, 6, 13), dt.date(2026, 7, 30)) == []


def test_sort_by_date_puts_the_newest_list_first(hf_daily: Runtime) -> None:
    cards = hf_daily.daily.papers(JUNE_12, AUGUST_3, sort="date")
    days = [c.daily_on for c in cards]
    assert days == [AUGUST_3] * 3 + [JULY_31] * 30 + [JUNE_12] * 30


def test_submitter_filter(hf_daily: Runtime) -> None:
    cards = hf_daily.daily.papers(JUNE_12, AUGUST_3, submitter="RKocielnik")
    assert len(cards) == 2
    assert {c.submitted_by for c in cards} == {"RKocielnik"}
    assert "2606.12730" in ids(cards)
    assert hf_daily.daily.papers(JUNE_12, AUGUST_3, submitter="nobody-at-all") == []


def test_upvotes_cast_here_add_to_the_imported_ones_and_reorder(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    """2606.06113 has 13 imported upvotes, below 2606.12243 (14); two upvotes cast here put it
    at 15, above."""
    community = hf_daily
    before = ids(community.daily.papers(JUNE_12))
    assert before.index("2606.12243") < before.index("2606.06113")
    paper_id = community.paper_ids.resolve("2606.06113")
    ada, bob = make_user("ada"), make_user("bob")
    community.discussion.upvote(ada, paper_id)
    community.discussion.upvote(bob, paper_id)

    cards = community.daily.papers(JUNE_12, viewer=ada)
    after = ids(cards)
    assert after.index("2606.06113") == after.index("2606.12243") - 1
    moved = cards[after.index("2606.06113")]
    assert (moved.upvotes, moved.voted) == (15, True)
    assert not cards[after.index("2606.12243")].voted
    assert [c.upvotes for c in cards] == sorted((c.upvotes for c in cards), reverse=True)


def test_equal_upvotes_rank_the_later_catalog_paper_first(hf_daily: Runtime) -> None:
    """Same upvotes and same listing time: the paper added to the catalog later comes first."""
    community = hf_daily
    cards = community.daily.papers(JUNE_12)
    twos = [c for c in cards if c.upvotes == 2]
    assert len(twos) > 2
    assert [c.paper_id for c in twos] == sorted((c.paper_id for c in twos), reverse=True)


def test_latest_daily_date(hf_daily: Runtime) -> None:
    assert hf_daily.daily.latest_daily_date() == AUGUST_3


def test_latest_daily_date_of_an_empty_catalog(runtime: Runtime) -> None:
    assert runtime.daily.latest_daily_date() is None
    assert runtime.daily.adjacent_daily_dates(JUNE_12) == (None, None)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (JULY_31, (JUNE_12, AUGUST_3)),
        (dt.date(2026, 7, 1), (JUNE_12, JULY_31)),  # a day without a list
        (JUNE_12, (None, JULY_31)),
        (AUGUST_3, (JULY_31, None)),
        (dt.date(2026, 1, 1), (None, JUNE_12)),
        (dt.date(2027, 1, 1), (AUGUST_3, None)),
    ],
)
def test_adjacent_daily_dates(
    hf_daily: Runtime, day: dt.date, expected: tuple[dt.date | None, dt.date | None]
) -> None:
    assert hf_daily.daily.adjacent_daily_dates(day) == expected


def _crowded_day(runtime: Runtime, upvotes: list[int]) -> list[int]:
    """One daily list of len(upvotes) papers, added to the catalog in this order."""
    when = dt.datetime(2026, 6, 12, 9)
    records = [
        PaperRecord(
            source="hf-daily",
            arxiv_id=f"2606.{n + 1:05d}",
            title=f"Paper number {n + 1}",
            daily=DailyEntry(submitted_at=when, upvotes=votes),
        )
        for n, votes in enumerate(upvotes)
    ]
    return [r.paper_id for r in write_batch(runtime.engine, runtime.catalog_writer, records)]


def test_a_list_longer_than_the_cut_keeps_its_most_upvoted_papers(runtime: Runtime) -> None:
    """The cut at DAILY_MAX drops the least upvoted papers, never the top one that happened
    to be added last."""
    _crowded_day(runtime, [n % 7 for n in range(DAILY_MAX)] + [1000])
    cards = runtime.daily.papers(JUNE_12)
    assert len(cards) == DAILY_MAX
    assert (cards[0].arxiv_id, cards[0].upvotes) == (f"2606.{DAILY_MAX + 1:05d}", 1000)
    zeros = sum(n % 7 == 0 for n in range(DAILY_MAX))
    assert sum(c.upvotes == 0 for c in cards) == zeros - 1  # the one cut has no upvotes


def test_the_cut_counts_upvotes_cast_here(runtime: Runtime, make_user: MakeUser) -> None:
    """A paper with no imported upvotes but two cast here outranks (and survives) a crowd of
    papers with one imported upvote each."""
    paper_ids = _crowded_day(runtime, [1] * DAILY_MAX + [0])
    for name in ("ada", "bob"):
        runtime.discussion.upvote(make_user(name), paper_ids[-1])
    cards = runtime.daily.papers(JUNE_12)
    assert len(cards) == DAILY_MAX
    assert (cards[0].paper_id, cards[0].upvotes) == (paper_ids[-1], 2)
