"""Path and query parameters both APIs share: the daily-list periods, read by `papers.periods`.

The patterns go into the OpenAPI document only; the period module checks the values, with a
message a person can read (FastAPI's own would be a regular expression)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import WithJsonSchema
from starlette.convertors import Convertor, register_url_convertor

from paperfeed.papers import periods


class PaperIdConvertor(Convertor[str]):
    """`{paper_id:paper}`: a paper id in a path. Like `path` (old-style arXiv ids and arxiv.org
    URLs hold slashes), but it never ends in an action of the API, so that
    `GET /api/v1/papers/X/upvote` is not read as a request for the paper `X/upvote`: it is a
    405 whose `Allow` lists the upvote route's methods."""

    regex = r"(?:[^/]|/(?!(?:upvote|similar)$))+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("paper", PaperIdConvertor())

DateParam = Annotated[
    str | None,
    Query(description="entered the daily list that day, e.g. 2026-06-12"),
    WithJsonSchema({"type": "string", "pattern": periods.DATE_PATTERN}),
]
WeekParam = Annotated[
    str | None,
    Query(description="entered the daily list in that ISO week, e.g. 2026-W24"),
    WithJsonSchema({"type": "string", "pattern": periods.WEEK_PATTERN}),
]
MonthParam = Annotated[
    str | None,
    Query(description="entered the daily list in that month, e.g. 2026-07"),
    WithJsonSchema({"type": "string", "pattern": periods.MONTH_PATTERN}),
]
SinceParam = Annotated[
    str | None,
    Query(description="first submitted on or after this day (YYYY-MM-DD)"),
    WithJsonSchema({"type": "string", "pattern": periods.DATE_PATTERN}),
]
UntilParam = Annotated[
    str | None,
    Query(description="first submitted on or before this day (YYYY-MM-DD)"),
    WithJsonSchema({"type": "string", "pattern": periods.DATE_PATTERN}),
]
