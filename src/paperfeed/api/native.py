"""paperfeed's own JSON API (`/api/v1`). Reads are anonymous; writes need an API token."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Security
from fastapi.security import HTTPBearer

from paperfeed.accounts.rate_limit import SUBMIT, Limit
from paperfeed.accounts.service import User
from paperfeed.api.params import DateParam, MonthParam, SinceParam, UntilParam, WeekParam
from paperfeed.api.schemas import (
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
from paperfeed.community.service import CommunityError, Duplicate, FetchUnavailable, NotFound
from paperfeed.papers import periods
from paperfeed.web.context import runtime
from paperfeed.web.forms import rate_limit

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
}
router = APIRouter(prefix="/api/v1", tags=["native"], responses=ERRORS)


# Declares the scheme in the OpenAPI document; token_user itself reads and checks the header.
BEARER = HTTPBearer(
    auto_error=False, description="an API token, created on /account: `Bearer pf_...`"
)


def token_user(request: Request, _: Annotated[object, Security(BEARER)] = None) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    user = (
        runtime(request).accounts.token_user(token.strip()) if scheme.lower() == "bearer" else None
    )
    if user is None:
        raise HTTPException(
            401,
            "an API token is required: `Authorization: Bearer pf_...` (create one on /account)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


TokenUser = Annotated[User, Depends(token_user)]
WRITE_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse},
    429: {"model": ErrorResponse},
}


@router.get("/search", response_model=SearchResponse, summary="Hybrid search")
def search(
    request: Request,
    q: Annotated[str, Query(max_length=2000, description="query language as on /search")] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    sort: Literal["relevance", "date"] = "relevance",
    mode: Literal["hybrid", "lexical", "dense"] = "hybrid",
    cat: Annotated[str | None, Query(max_length=40)] = None,
    since: SinceParam = None,
    until: UntilParam = None,
) -> SearchResponse:
    rt = runtime(request)
    try:
        since_day = periods.parse_day(since) if since is not None else None
        until_day = periods.parse_day(until) if until is not None else None
    except periods.BadPeriod as exc:
        raise HTTPException(400, str(exc)) from None
    results = rt.search.search(
        q,
        limit=limit,
        offset=offset,
        sort=sort,
        mode=mode,
        categories=[cat] if cat else [],
        since=since_day,
        until=until_day,
    )
    cards = {c.paper_id: c for c in rt.community.cards([h.paper_id for h in results.hits])}
    hits = [
        SearchResult(
            **Paper.fields_of(cards[h.paper_id]),
            score=h.score,
            matched_by=h.matched_by,
            snippet=h.snippet.text if h.snippet else None,
            snippet_html=h.snippet.html if h.snippet else None,
        )
        for h in results.hits
        if h.paper_id in cards
    ]
    return SearchResponse(
        query=q,
        total=results.total,
        took_ms=round(results.took_ms, 3),
        notices=results.notices,
        results=hits,
    )


@router.get("/papers/{paper_id:path}/similar", response_model=list[Paper], summary="Similar papers")
def similar(
    request: Request, paper_id: str, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> list[Paper]:
    rt = runtime(request)
    pid = runtime(request).community.resolve(paper_id)
    hits = rt.search.similar(pid, limit=limit)
    return [Paper.of(c) for c in rt.community.cards([h.paper_id for h in hits])]


@router.post(
    "/papers/{paper_id:path}/upvote",
    response_model=VoteResponse,
    responses=WRITE_ERRORS,
    summary="Upvote a paper (idempotent)",
)
def upvote(request: Request, paper_id: str, user: TokenUser) -> VoteResponse:
    return _vote(request, paper_id, user, up=True)


@router.delete(
    "/papers/{paper_id:path}/upvote",
    response_model=VoteResponse,
    responses=WRITE_ERRORS,
    summary="Withdraw an upvote (idempotent)",
)
def withdraw_upvote(request: Request, paper_id: str, user: TokenUser) -> VoteResponse:
    return _vote(request, paper_id, user, up=False)


def _vote(request: Request, paper_id: str, user: User, *, up: bool) -> VoteResponse:
    pid = runtime(request).community.resolve(paper_id)
    card = runtime(request).community.upvote(user, pid, up=up)
    return VoteResponse(id=card.public_id, upvotes=card.upvotes, voted=card.voted)


@router.get("/papers/{paper_id:path}", response_model=Paper, summary="One paper")
def paper(request: Request, paper_id: str) -> Paper:
    pid = runtime(request).community.resolve(paper_id)
    return Paper.of(runtime(request).community.card(pid))


@router.get("/daily", response_model=DailyResponse, summary="Daily papers")
def daily(
    request: Request,
    date: DateParam = None,
    week: WeekParam = None,
    month: MonthParam = None,
    sort: Literal["upvotes", "date"] = "upvotes",
) -> DailyResponse:
    """Papers that entered the daily list on a date, in an ISO week or in a month (given
    together: the days they share; default: the latest date with a list), by upvotes or newest
    first."""
    community = runtime(request).community
    try:
        period = periods.select(date=date, week=week, month=month)
    except periods.BadPeriod as exc:
        raise HTTPException(400, str(exc)) from None
    if period is None:
        latest = community.latest_or_today()
        period = periods.Period(latest, latest)
    cards = [] if period.empty else community.daily(period.start, period.end, sort=sort)
    return DailyResponse(start=period.start, end=period.end, papers=[Paper.of(c) for c in cards])


@router.get("/trending", response_model=TrendingResponse, summary="Trending papers")
def trending(request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 30) -> TrendingResponse:
    """Time-decayed community signals; the formula is in the README ("Trending")."""
    ranked, at = runtime(request).community.trending(limit=limit)
    return TrendingResponse(
        taken_at=at,
        papers=[
            TrendingPaper(**Paper.fields_of(card), trending_score=round(score, 6))
            for card, score in ranked
        ],
    )


@router.post(
    "/submit",
    response_model=Paper,
    status_code=201,
    responses={**WRITE_ERRORS, 409: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
    summary="Submit a paper to today's daily list",
)
def submit(request: Request, body: SubmitRequest, user: TokenUser) -> Paper:
    rt = runtime(request)
    _limit(request, SUBMIT, user)
    try:
        card, added = rt.community.submit(user, body.paper, rt.fetch_from_arxiv)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except FetchUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    except Duplicate as exc:
        raise HTTPException(409, str(exc)) from None
    except CommunityError as exc:
        raise HTTPException(400, str(exc)) from None
    if added:
        rt.index_in_background()
    return Paper.of(card)


def _limit(request: Request, limit: Limit, user: User) -> None:
    rate_limit(request, limit, f"user:{user.id}")
