"""Periods of the daily lists: a day (`YYYY-MM-DD`), an ISO week (`YYYY-Www`) or a month
(`YYYY-MM`). One parser and one error message style for pages, feeds and both APIs.

Years run from 1900 to 2099, so that the patterns below match exactly the days, weeks and
months that exist (the OpenAPI document promises no value that is then refused): W53 only in
the years that have 53 ISO weeks, 29 February only in leap years."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

FIRST_YEAR, LAST_YEAR = 1900, 2099
YEARS_NOTE = f"years {FIRST_YEAR}-{LAST_YEAR}"
_YEAR = r"(?:19|20)[0-9]{2}"
_LEAP_YEAR = r"(?:19(?:0[48]|[2468][048]|[13579][26])|20(?:[02468][048]|[13579][26]))"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"  # months of 31 days
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"  # months of 30 days
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"  # February (the 29th: leap years only, below)
)
_YEARS_WITH_WEEK_53 = "|".join(
    str(year)
    for year in range(FIRST_YEAR, LAST_YEAR + 1)
    if dt.date(year, 12, 28).isocalendar().week == 53
)
DATE_PATTERN = rf"^(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)$"
WEEK_PATTERN = rf"^(?:{_YEAR}-W(?:0[1-9]|[1-4][0-9]|5[0-2])|(?:{_YEARS_WITH_WEEK_53})-W53)$"
MONTH_PATTERN = rf"^{_YEAR}-(?:0[1-9]|1[0-2])$"
_DATE, _WEEK, _MONTH = (re.compile(p) for p in (DATE_PATTERN, WEEK_PATTERN, MONTH_PATTERN))


class BadPeriod(ValueError):
    """Text that is not a day, ISO week or month; the message names it and the form wanted."""


@dataclass(frozen=True, slots=True)
class Period:
    """From `start` to `end`, both included (start > end: an empty period)."""

    start: dt.date
    end: dt.date

    @property
    def empty(self) -> bool:
        return self.start > self.end


def parse_day(text: str) -> dt.date:
    if not _DATE.fullmatch(text):
        raise BadPeriod(f"date {text[:40]!r} is not a day as YYYY-MM-DD ({YEARS_NOTE})")
    return dt.date.fromisoformat(text)


def parse_week(text: str) -> Period:
    """Monday to Sunday of an ISO week such as 2026-W23."""
    if not _WEEK.fullmatch(text):
        raise BadPeriod(f"week {text[:40]!r} is not an ISO week as YYYY-Www ({YEARS_NOTE})")
    year, week = int(text[:4]), int(text[6:])
    return Period(dt.date.fromisocalendar(year, week, 1), dt.date.fromisocalendar(year, week, 7))


def parse_month(text: str) -> Period:
    """The first to the last day of a month such as 2026-07."""
    if not _MONTH.fullmatch(text):
        raise BadPeriod(f"month {text[:40]!r} is not a month as YYYY-MM ({YEARS_NOTE})")
    year, month = int(text[:4]), int(text[5:])
    return Period(
        dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    )


def select(
    *, date: str | None = None, week: str | None = None, month: str | None = None
) -> Period | None:
    """The period that query parameters select: the days all the given ones share (possibly
    none), or None when none is given. Empty strings count as given (and are refused)."""
    periods = []
    if date is not None:
        day = parse_day(date)
        periods.append(Period(day, day))
    if week is not None:
        periods.append(parse_week(week))
    if month is not None:
        periods.append(parse_month(month))
    if not periods:
        return None
    return Period(max(p.start for p in periods), min(p.end for p in periods))


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def describe(period: Period) -> str:
    """The days of a period in words: `27 July – 2 August 2026`, `1–31 July 2026`,
    `28 December 2026 – 3 January 2027`, `31 July 2026`."""
    start, end = period.start, period.end
    if start == end:
        return f"{end:%-d %B %Y}"
    if start.year != end.year:
        return f"{start:%-d %B %Y} – {end:%-d %B %Y}"
    if start.month != end.month:
        return f"{start:%-d %B} – {end:%-d %B %Y}"
    return f"{start:%-d}–{end:%-d %B %Y}"
