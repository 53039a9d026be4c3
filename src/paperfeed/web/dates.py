"""Parsing the date, ISO-week and month ranges used in daily-list URLs and API queries."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import NoReturn

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class BadDate(ValueError):
    pass


def parse_day(text: str) -> dt.date:
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    _bad(text, "YYYY-MM-DD")


def parse_week(text: str) -> tuple[dt.date, dt.date]:
    """Monday to Sunday of an ISO week such as 2026-W23."""
    match = _WEEK.match(text)
    if not match:
        _bad(text, "YYYY-Www, e.g. 2026-W23")
    try:
        monday = dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        _bad(text, "YYYY-Www with a week that exists in that year")
    return monday, monday + dt.timedelta(days=6)


def parse_month(text: str) -> tuple[dt.date, dt.date]:
    match = _MONTH.match(text)
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        _bad(text, "YYYY-MM")
    year, month = int(match[1]), int(match[2])
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _bad(text: str, expected: str) -> NoReturn:
    raise BadDate(f"{text[:40]!r} is not a valid date; expected {expected}")
