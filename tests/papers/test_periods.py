"""The one parser of days, ISO weeks and months (papers/periods.py)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from paperfeed.papers import periods
from paperfeed.papers.periods import BadPeriod, Period


def test_week_53_exists_only_in_years_that_have_it() -> None:
    assert periods.parse_week("2020-W53") == Period(dt.date(2020, 12, 28), dt.date(2021, 1, 3))
    with pytest.raises(BadPeriod, match=r"week '2021-W53' is not an ISO week as YYYY-Www"):
        periods.parse_week("2021-W53")


@pytest.mark.parametrize("year", range(periods.FIRST_YEAR, periods.LAST_YEAR + 1))
def test_the_week_pattern_agrees_with_the_calendar(year: int) -> None:
    has_53 = dt.date(year, 12, 28).isocalendar().week == 53
    assert bool(re.fullmatch(periods.WEEK_PATTERN, f"{year}-W53")) is has_53
    assert re.fullmatch(periods.WEEK_PATTERN, f"{year}-W01")


def test_days_and_months() -> None:
    assert periods.parse_day("2024-02-29") == dt.date(2024, 2, 29)
    assert periods.parse_month("2024-02") == Period(dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    with pytest.raises(BadPeriod, match=r"date '2023-02-29' is not a day as YYYY-MM-DD"):
        periods.parse_day("2023-02-29")
    with pytest.raises(BadPeriod, match=r"month '2026-13' is not a month as YYYY-MM"):
        periods.parse_month("2026-13")


@pytest.mark.parametrize(
    "text",
    ["", "2026-6-1", "1781222400", "0000-01-01", "2100-01-01", "2026-06-12 ", "２０２６-06-12"],
)
def test_anything_else_is_no_day(text: str) -> None:
    with pytest.raises(BadPeriod, match=re.escape(f"date {text!r} is not a day")):
        periods.parse_day(text)


def test_select_takes_the_days_the_parameters_share() -> None:
    assert periods.select() is None
    june = periods.select(month="2026-06", week="2026-W23")
    assert june == Period(dt.date(2026, 6, 1), dt.date(2026, 6, 7))
    assert periods.select(date="2026-06-12", month="2026-07") is not None
    assert periods.select(date="2026-06-12", month="2026-07").empty  # type: ignore[union-attr]
    with pytest.raises(BadPeriod):
        periods.select(date="")


def test_iso_week() -> None:
    assert periods.iso_week(dt.date(2021, 1, 3)) == "2020-W53"


@pytest.mark.parametrize(
    ("period", "text"),
    [
        (Period(dt.date(2026, 7, 27), dt.date(2026, 8, 2)), "27 July – 2 August 2026"),
        (Period(dt.date(2026, 7, 1), dt.date(2026, 7, 31)), "1–31 July 2026"),
        (Period(dt.date(2026, 12, 28), dt.date(2027, 1, 3)), "28 December 2026 – 3 January 2027"),
        (Period(dt.date(2026, 7, 31), dt.date(2026, 7, 31)), "31 July 2026"),
    ],
)
def test_describe(period: Period, text: str) -> None:
    assert periods.describe(period) == text
