"""Dates in arXiv metadata: RFC 2822 version stamps, ISO dates, announcement days."""

from __future__ import annotations

import datetime as dt
import functools
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

_EASTERN = ZoneInfo("America/New_York")
_CUTOFF = dt.time(14, 0)


def utc_naive(value: dt.datetime) -> dt.datetime:
    """The catalog stores naive UTC datetimes (portable across SQLite and PostgreSQL)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def parse_rfc2822(text: str) -> dt.datetime | None:
    """'Mon, 2 Apr 2007 19:18:42 GMT' -> naive UTC datetime."""
    parts = text.split()
    # arXiv's own stamps are always GMT in this exact shape; parse those without email.utils,
    # which costs ten times more on bulk imports.
    if len(parts) == 6 and parts[5] == "GMT" and parts[2] in _MONTHS and len(parts[4]) == 8:
        try:
            hour, minute, second = parts[4].split(":")
            return dt.datetime(
                int(parts[3]), _MONTHS[parts[2]], int(parts[1]), int(hour), int(minute), int(second)
            )
        except ValueError:
            return None
    try:
        return utc_naive(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def parse_iso(text: str | None) -> dt.datetime | None:
    """'2017-01-04', '2024-01-25T10:00:00Z', '2026-06-12T00:00:00.000Z' -> naive UTC."""
    if not text:
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            return dt.datetime.fromisoformat(text)
        return utc_naive(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _eastern_offset(day: dt.date) -> dt.timedelta:
    # Offset at noon UTC of the day; daylight-saving switches happen at night in ET.
    noon = dt.datetime.combine(day, dt.time(12), dt.UTC)
    offset = noon.astimezone(_EASTERN).utcoffset()
    assert offset is not None
    return offset


def announcement_date(submitted_utc: dt.datetime) -> dt.date:
    """The day arXiv announces a new submission (mailing at 20:00 ET, Sunday-Thursday).

    Submissions received before the 14:00 ET cutoff of a weekday are announced that evening
    (Friday's cutoff is announced on Sunday); later ones wait for the next cutoff. Holidays
    are not modelled."""
    local = submitted_utc + _eastern_offset(submitted_utc.date())
    day = local.date()
    if local.time() >= _CUTOFF or day.weekday() >= 5:
        day += dt.timedelta(days=1)
    while day.weekday() >= 5:  # no cutoff on Saturday or Sunday
        day += dt.timedelta(days=1)
    if day.weekday() == 4:  # Friday's cutoff is mailed on Sunday evening
        day += dt.timedelta(days=2)
    return day
