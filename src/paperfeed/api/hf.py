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

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse

from paperfeed.api.hf_shapes import (
    HfError,
    HfListItem,
    HfPaperDetail,
    hf_list_item,
    hf_paper_detail,
    paper_markdown,
)
from paperfeed.api.params import DateParam, MonthParam, WeekParam
from paperfeed.community.cards import CardService, PaperCard
from paperfeed.community.daily import DailyService
from paperfeed.community.errors import NotFound
from paperfeed.community.signals import TrendingService
from paperfeed.http.deps import CardsDep, DailyDep, PaperIdsDep, SearchDep, TrendingDep
from paperfeed.papers import periods
from paperfeed.papers.ids import InvalidPaperId
from paperfeed.papers.lookup import PaperIds, PaperNotFound
from paperfeed.papers.periods import Period

MAX_QUERY_CHARS = 250
SEARCH_LIMIT_MAX = 120
DAILY_LIMIT_MAX = 100
DEFAULT_LIMIT = 50
MAX_DAILY_OFFSET = 10_000  # deeper pages are empty, so no request loads the whole history
RECENT_WINDOW_DAYS = 7

SUBMITTER_PATTERN = r"^[A-Za-z0-9._-]*$"

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


# -- daily lists -----------------------------------------------------------------------------


def recent_daily(
    daily: DailyService, *, needed: int, submitter: str | None = None
) -> list[PaperCard]:
    """At least `needed` daily papers (fewer when the history is shorter), newest entry first.
    Walks back from the latest daily list in periods that double in length, so a long history
    takes a few queries, and skips gaps between lists."""
    cards: list[PaperCard] = []
    end = daily.latest_daily_date()
    days = RECENT_WINDOW_DAYS
    while end is not None and len(cards) < needed:
        # (bounded so that an imported list dated near year 1 cannot overflow the date)
        start = end - dt.timedelta(days=min(days - 1, (end - dt.date.min).days))
        cards.extend(daily.papers(start, end, sort="date", submitter=submitter))
        end, _ = daily.adjacent_daily_dates(start)
        days *= 2
    return cards


def daily_cards(
    daily: DailyService,
    trending: TrendingService,
    window: Period | None,
    *,
    sort: Literal["publishedAt", "trending"],
    submitter: str | None,
    needed: int,
) -> list[PaperCard]:
    if window is not None:
        if window.empty:  # periods that share no day
            return []
        order = "upvotes" if sort == "trending" else "date"
        return daily.papers(window.start, window.end, sort=order, submitter=submitter)
    if sort == "publishedAt":
        return recent_daily(daily, needed=needed, submitter=submitter)
    # A submitter filter drops ranked papers, so rank deeper when one is given.
    ranked, _ = trending.ranked(limit=MAX_DAILY_OFFSET if submitter else needed)
    return [card for card, _ in ranked if not submitter or card.submitted_by == submitter]


def find_card(cards: CardService, paper_ids: PaperIds, public_id: str) -> PaperCard:
    try:
        return cards.card(paper_ids.resolve(public_id))
    except (NotFound, PaperNotFound, InvalidPaperId):
        raise HTTPException(404, detail="Paper not found") from None


# -- routes (search before `{paper_id:path}`, which would match `search` too) ----------------


@router.get(
    "/api/papers/search",
    response_model_exclude_none=True,
    responses=_BAD_REQUEST,
    summary="Search papers",
)
def search_papers(
    cards: CardsDep,
    daily: DailyDep,
    search: SearchDep,
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
        found = recent_daily(daily, needed=limit)[:limit]
    else:
        found = cards.search(search, q, limit=limit).cards
    return [hf_list_item(card) for card in found]


@router.get(
    "/api/papers/{paper_id:path}",
    response_model_exclude_none=True,
    responses=_NOT_FOUND,
    summary="One paper",
)
def paper_info(paper_id: str, cards: CardsDep, paper_ids: PaperIdsDep) -> HfPaperDetail:
    return hf_paper_detail(find_card(cards, paper_ids, paper_id))


@router.get(
    "/api/daily_papers",
    response_model_exclude_none=True,
    responses=_BAD_REQUEST,
    summary="Daily papers",
)
def daily_papers(
    daily: DailyDep,
    trending: TrendingDep,
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
    window = periods.select(date=date, week=week, month=month)
    offset = p * limit
    if offset >= MAX_DAILY_OFFSET:
        return []
    cards = daily_cards(
        daily, trending, window, sort=sort, submitter=submitter or None, needed=offset + limit
    )
    return [hf_list_item(card) for card in cards[offset : offset + limit]]


@router.get(
    "/papers/{paper_id:path}.md",
    response_class=MarkdownResponse,
    responses=_MARKDOWN_NOT_FOUND,
    summary="One paper as markdown",
)
def read_paper(paper_id: str, cards: CardsDep, paper_ids: PaperIdsDep) -> MarkdownResponse:
    return MarkdownResponse(paper_markdown(find_card(cards, paper_ids, paper_id)))
