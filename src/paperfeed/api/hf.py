"""The Hugging Face-compatible papers API: `HfApi(endpoint="http://this-server")` works
unmodified for `list_papers`, `paper_info`, `list_daily_papers` and `read_paper`.

Semantics where HF's documentation leaves a choice:

* `/api/papers/search?q=&limit=`: paperfeed's hybrid search (words and meaning; the query
  language's filters such as `cat:cs.LG` work too). A missing or blank `q` lists the most
  recent daily papers, as `/api/daily_papers` does without parameters.
* `/api/daily_papers`: `date`, `week` (ISO) and `month` select papers by the day they entered
  the daily list; given together, the days they share. Without any of them, the list is every
  daily paper, newest first.
  `sort=publishedAt` (the default) puts the newest entries to the daily list first;
  `sort=trending` orders a selected period by upvotes (HF's daily page order) and, without
  a period, uses paperfeed's trending ranking (community/trending.py). `p` is a 0-based page
  of `limit` papers; pages beyond the first MAX_DAILY_OFFSET papers are empty.
* Ids are arXiv ids (old-style ones contain a slash) or `pf-<n>` for papers without one.
  Hidden papers are not found.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import PlainTextResponse
from pydantic import WithJsonSchema

from paperfeed.api.hf_shapes import (
    HfError,
    HfListItem,
    HfPaperDetail,
    hf_list_item,
    hf_paper_detail,
    paper_markdown,
)
from paperfeed.community.cards import PaperCard
from paperfeed.community.service import CommunityService, NotFound
from paperfeed.runtime import Runtime
from paperfeed.web.context import runtime

MAX_QUERY_CHARS = 250
SEARCH_LIMIT_MAX = 120
DAILY_LIMIT_MAX = 100
DEFAULT_LIMIT = 50
MAX_DAILY_OFFSET = 10_000  # deeper pages are empty, so no request loads the whole history
RECENT_WINDOW_DAYS = 7

# The period parameters' patterns match exactly the days, ISO weeks and months that exist
# (years 1900-2099), so the OpenAPI document promises no value that is then refused.
FIRST_YEAR, LAST_YEAR = 1900, 2099
_YEARS_NOTE = f"years {FIRST_YEAR}-{LAST_YEAR}"
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
SUBMITTER_PATTERN = r"^[A-Za-z0-9._-]*$"

RuntimeDep = Annotated[Runtime, Depends(runtime)]

# The period patterns are declared for the OpenAPI document only: daily_window checks them,
# with an error message a person can read.
DateParam = Annotated[
    str | None,
    Query(description="entered the daily list that day, e.g. 2026-06-12"),
    WithJsonSchema({"type": "string", "pattern": DATE_PATTERN}),
]
WeekParam = Annotated[
    str | None,
    Query(description="entered the daily list in that ISO week, e.g. 2026-W24"),
    WithJsonSchema({"type": "string", "pattern": WEEK_PATTERN}),
]
MonthParam = Annotated[
    str | None,
    Query(description="entered the daily list in that month, e.g. 2026-07"),
    WithJsonSchema({"type": "string", "pattern": MONTH_PATTERN}),
]
Window = tuple[dt.date, dt.date]

router = APIRouter(tags=["huggingface"])

_BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: {"model": HfError, "description": "Invalid parameters"}
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": HfError, "description": "Paper not found"}
}
# Declared by hand: with a `model`, FastAPI would document the JSON error as markdown.
_MARKDOWN_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "Paper not found",
        "content": {"application/json": {"schema": HfError.model_json_schema()}},
    }
}


class MarkdownResponse(PlainTextResponse):
    media_type = "text/markdown"


# -- period parameters ---------------------------------------------------------------------


def day_window(text: str) -> Window:
    """`YYYY-MM-DD` -> that day; ValueError for anything else."""
    if not re.fullmatch(DATE_PATTERN, text):
        raise ValueError(f"date {text[:40]!r} is not a day as YYYY-MM-DD ({_YEARS_NOTE})")
    day = dt.date.fromisoformat(text)
    return day, day


def week_window(text: str) -> Window:
    """`YYYY-Www` -> Monday to Sunday of that ISO week."""
    if not re.fullmatch(WEEK_PATTERN, text):
        raise ValueError(f"week {text[:40]!r} is not an ISO week as YYYY-Www ({_YEARS_NOTE})")
    year, week = int(text[:4]), int(text[6:])
    return dt.date.fromisocalendar(year, week, 1), dt.date.fromisocalendar(year, week, 7)


def month_window(text: str) -> Window:
    """`YYYY-MM` -> the first to the last day of that month."""
    if not re.fullmatch(MONTH_PATTERN, text):
        raise ValueError(f"month {text[:40]!r} is not a month as YYYY-MM ({_YEARS_NOTE})")
    year, month = int(text[:4]), int(text[5:])
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def daily_window(*, date: str | None, week: str | None, month: str | None) -> Window | None:
    """The period the parameters select (several: the days all of them share, possibly none),
    or None when none is given; ValueError says what is wrong with them."""
    windows = [
        parse(value)
        for parse, value in ((day_window, date), (week_window, week), (month_window, month))
        if value is not None
    ]
    if not windows:
        return None
    return max(start for start, _ in windows), min(end for _, end in windows)


# -- daily lists -----------------------------------------------------------------------------


def recent_daily(
    community: CommunityService, *, needed: int, submitter: str | None = None
) -> list[PaperCard]:
    """At least `needed` daily papers (fewer when the history is shorter), newest entry first.
    Walks back from the latest daily list in periods that double in length, so a long history
    takes a few queries, and skips gaps between lists."""
    cards: list[PaperCard] = []
    end = community.latest_daily_date()
    days = RECENT_WINDOW_DAYS
    while end is not None and len(cards) < needed:
        # (bounded so that an imported list dated near year 1 cannot overflow the date)
        start = end - dt.timedelta(days=min(days - 1, (end - dt.date.min).days))
        cards.extend(community.daily(start, end, sort="date", submitter=submitter))
        end, _ = community.adjacent_daily_dates(start)
        days *= 2
    return cards


def daily_cards(
    community: CommunityService,
    window: Window | None,
    *,
    sort: Literal["publishedAt", "trending"],
    submitter: str | None,
    needed: int,
) -> list[PaperCard]:
    if window is not None:
        start, end = window
        if start > end:  # periods that share no day
            return []
        order = "upvotes" if sort == "trending" else "date"
        return community.daily(start, end, sort=order, submitter=submitter)
    if sort == "publishedAt":
        return recent_daily(community, needed=needed, submitter=submitter)
    # A submitter filter drops ranked papers, so rank deeper when one is given.
    ranked, _ = community.trending(limit=MAX_DAILY_OFFSET if submitter else needed)
    return [card for card, _ in ranked if not submitter or card.submitted_by == submitter]


def find_card(rt: Runtime, public_id: str) -> PaperCard:
    try:
        return rt.community.card(rt.community.resolve(public_id))
    except NotFound:
        raise HTTPException(404, detail="Paper not found") from None


# -- routes (search before `{paper_id:path}`, which would match `search` too) ----------------


@router.get(
    "/api/papers/search",
    response_model_exclude_none=True,
    responses=_BAD_REQUEST,
    summary="Search papers",
)
def search_papers(
    rt: RuntimeDep,
    q: Annotated[
        str,
        Query(
            max_length=MAX_QUERY_CHARS,
            description="Search query (empty: the most recent daily papers)",
        ),
    ] = "",
    limit: Annotated[int, Query(ge=1, le=SEARCH_LIMIT_MAX)] = DEFAULT_LIMIT,
) -> list[HfListItem]:
    if not q.strip():
        cards = recent_daily(rt.community, needed=limit)[:limit]
    else:
        hits = rt.search.search(q, limit=limit).hits
        cards = rt.community.cards([hit.paper_id for hit in hits])
    return [hf_list_item(card) for card in cards]


@router.get(
    "/api/papers/{paper_id:path}",
    response_model_exclude_none=True,
    responses=_NOT_FOUND,
    summary="One paper",
)
def paper_info(paper_id: str, rt: RuntimeDep) -> HfPaperDetail:
    return hf_paper_detail(find_card(rt, paper_id))


@router.get(
    "/api/daily_papers",
    response_model_exclude_none=True,
    responses=_BAD_REQUEST,
    summary="Daily papers",
)
def daily_papers(
    rt: RuntimeDep,
    p: Annotated[int, Query(ge=0, description="0-based page")] = 0,
    limit: Annotated[int, Query(ge=1, le=DAILY_LIMIT_MAX)] = DEFAULT_LIMIT,
    sort: Literal["publishedAt", "trending"] = "publishedAt",
    date: DateParam = None,
    week: WeekParam = None,
    month: MonthParam = None,
    submitter: Annotated[
        str | None,
        Query(max_length=100, pattern=SUBMITTER_PATTERN, description="username of the submitter"),
    ] = None,
) -> list[HfListItem]:
    try:
        window = daily_window(date=date, week=week, month=month)
    except ValueError as exc:
        raise HTTPException(400, detail=str(exc)) from None
    offset = p * limit
    if offset >= MAX_DAILY_OFFSET:
        return []
    cards = daily_cards(
        rt.community, window, sort=sort, submitter=submitter or None, needed=offset + limit
    )
    return [hf_list_item(card) for card in cards[offset : offset + limit]]


@router.get(
    "/papers/{paper_id:path}.md",
    response_class=MarkdownResponse,
    responses=_MARKDOWN_NOT_FOUND,
    summary="One paper as markdown",
)
def read_paper(paper_id: str, rt: RuntimeDep) -> MarkdownResponse:
    return MarkdownResponse(paper_markdown(find_card(rt, paper_id)))
