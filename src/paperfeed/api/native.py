"""paperfeed's own JSON API (`/api/v1`). Reads are anonymous; writes need an API token."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from paperfeed.accounts.rate_limit import SUBMIT
from paperfeed.accounts.service import User
from paperfeed.api.params import DateParam, MonthParam, SinceParam, UntilParam, WeekParam
from paperfeed.api.schemas import (
    AuthorPapersResponse,
    DailyResponse,
    ErrorResponse,
    Paper,
    SearchResponse,
    SearchResult,
    SubmitRequest,
    TrendingPaper,
    TrendingResponse,
    VoteResponse,
)
from paperfeed.http.deps import (
    CardsDep,
    DailyDep,
    DiscussionDep,
    PaperIdsDep,
    SearchDep,
    SubmissionsDep,
    TokenUserDep,
    TrendingDep,
    rate_limit,
)
from paperfeed.papers import periods
from paperfeed.papers.authors import MAX_NAME

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
}
router = APIRouter(prefix="/api/v1", tags=["native"], responses=ERRORS)


WRITE_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse},
    429: {"model": ErrorResponse},
}


@router.get("/search", response_model=SearchResponse, summary="Hybrid search")
def search(
    cards: CardsDep,
    search: SearchDep,
    q: Annotated[str, Query(max_length=2000, description="query language as on /search")] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    sort: Literal["relevance", "date"] = "relevance",
    mode: Literal["hybrid", "lexical", "dense"] = "hybrid",
    cat: Annotated[str | None, Query(max_length=40)] = None,
    since: SinceParam = None,
    until: UntilParam = None,
) -> SearchResponse:
    since_day = periods.parse_day(since) if since is not None else None
    until_day = periods.parse_day(until) if until is not None else None
    results = cards.search(
        search,
        q,
        limit=limit,
        offset=offset,
        sort=sort,
        mode=mode,
        categories=[cat] if cat else [],
        since=since_day,
        until=until_day,
    )
    hits = [
        SearchResult(
            **Paper.fields_of(card),
            score=h.score,
            matched_by=h.matched_by,
            snippet=h.snippet.text if h.snippet else None,
            snippet_html=h.snippet.html if h.snippet else None,
        )
        for h, card in results.items
    ]
    return SearchResponse(
        query=q,
        total=results.total,
        listed=results.listed,
        took_ms=round(results.took_ms, 3),
        notices=results.notices,
        results=hits,
    )


@router.get(
    "/papers/{paper_id:paper}/similar", response_model=list[Paper], summary="Similar papers"
)
def similar(
    paper_id: str,
    cards: CardsDep,
    paper_ids: PaperIdsDep,
    search: SearchDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[Paper]:
    pid = paper_ids.resolve(paper_id)
    return [Paper.of(c) for c in cards.similar(search, pid, limit=limit)]


@router.post(
    "/papers/{paper_id:paper}/upvote",
    response_model=VoteResponse,
    responses=WRITE_ERRORS,
    summary="Upvote a paper (idempotent)",
)
def upvote(
    paper_id: str, user: TokenUserDep, paper_ids: PaperIdsDep, discussion: DiscussionDep
) -> VoteResponse:
    return _vote(discussion, paper_ids.resolve(paper_id), user, up=True)


@router.delete(
    "/papers/{paper_id:paper}/upvote",
    response_model=VoteResponse,
    responses=WRITE_ERRORS,
    summary="Withdraw an upvote (idempotent)",
)
def withdraw_upvote(
    paper_id: str, user: TokenUserDep, paper_ids: PaperIdsDep, discussion: DiscussionDep
) -> VoteResponse:
    return _vote(discussion, paper_ids.resolve(paper_id), user, up=False)


def _vote(discussion: DiscussionDep, paper_id: int, user: User, *, up: bool) -> VoteResponse:
    card = discussion.upvote(user, paper_id, up=up)
    return VoteResponse(id=card.public_id, upvotes=card.upvotes, voted=card.voted)


@router.get("/papers/{paper_id:paper}", response_model=Paper, summary="One paper")
def paper(paper_id: str, cards: CardsDep, paper_ids: PaperIdsDep) -> Paper:
    return Paper.of(cards.card(paper_ids.resolve(paper_id)))


@router.get(
    "/authors/{name}/papers", response_model=AuthorPapersResponse, summary="An author's papers"
)
def author_papers(
    cards: CardsDep,
    search: SearchDep,
    name: Annotated[str, Path(min_length=1, max_length=MAX_NAME, description="the author's name")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=2_000)] = 0,
) -> AuthorPapersResponse:
    """The papers of the author with this name, newest first, as on `/authors/NAME`."""
    found, total = cards.by_author(search, name.strip(), limit=limit, offset=offset)
    return AuthorPapersResponse(
        author=name.strip(), total=total, papers=[Paper.of(c) for c in found]
    )


@router.get("/daily", response_model=DailyResponse, summary="Daily papers")
def daily(
    daily: DailyDep,
    date: DateParam = None,
    week: WeekParam = None,
    month: MonthParam = None,
    sort: Literal["upvotes", "date"] = "upvotes",
) -> DailyResponse:
    """Papers that entered the daily list on a date, in an ISO week or in a month (given
    together: the days they share; default: the latest date with a list), by upvotes or newest
    first."""
    period = periods.select(date=date, week=week, month=month)
    if period is None:
        latest = daily.latest_or_today()
        period = periods.Period(latest, latest)
    cards = [] if period.empty else daily.papers(period.start, period.end, sort=sort)
    return DailyResponse(start=period.start, end=period.end, papers=[Paper.of(c) for c in cards])


@router.get("/trending", response_model=TrendingResponse, summary="Trending papers")
def trending(
    trending: TrendingDep, limit: Annotated[int, Query(ge=1, le=100)] = 30
) -> TrendingResponse:
    """Time-decayed community signals of the last week (a wider window when it was quiet);
    the formula is in the README ("Trending")."""
    found = trending.trend(limit=limit)
    return TrendingResponse(
        taken_at=found.taken_at,
        window_days=found.window.days,
        half_life_hours=found.window.half_life_hours,
        papers=[
            TrendingPaper(**Paper.fields_of(card), trending_score=round(score, 6))
            for card, score in found.papers
        ],
    )


@router.post(
    "/submit",
    response_model=Paper,
    status_code=201,
    responses={**WRITE_ERRORS, 409: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
    summary="Submit a paper to today's daily list",
)
def submit(
    request: Request, body: SubmitRequest, user: TokenUserDep, submissions: SubmissionsDep
) -> Paper:
    rate_limit(request, SUBMIT, f"user:{user.id}")
    card, _ = submissions.submit(user, body.paper)
    return Paper.of(card)
