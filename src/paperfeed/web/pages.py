"""Pages: daily lists, trending, search, paper pages, submissions."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from paperfeed.accounts.rate_limit import COMMENT, SUBMIT
from paperfeed.community.service import CommunityError, FetchUnavailable, NotFound
from paperfeed.papers.categories import is_known_category
from paperfeed.papers.periods import BadPeriod, iso_week, parse_day, parse_month, parse_week
from paperfeed.papers.tex_display import readable
from paperfeed.web.context import render, runtime, viewer
from paperfeed.web.forms import Csrf, check_csrf, rate_limit, redirect, require_user

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
MAX_PAGES = 50
MAX_ID = 2**31 - 1  # row ids are 32-bit integers; a larger one must not reach the database


def _bad_request(exc: Exception) -> HTTPException:
    return HTTPException(400, str(exc))


# -- daily lists ------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    day = runtime(request).community.latest_or_today()
    return _daily(request, day)


@router.get("/papers/date/{day}", response_class=HTMLResponse)
def daily_page(request: Request, day: str) -> Response:
    try:
        return _daily(request, parse_day(day))
    except BadPeriod as exc:
        raise _bad_request(exc) from None


def _daily(request: Request, day: dt.date) -> Response:
    community = runtime(request).community
    cards = community.daily(day, viewer=viewer(request))
    before, after = community.adjacent_daily_dates(day)
    return render(
        request,
        "daily.html",
        title=f"Daily papers, {day:%A %-d %B %Y}",
        heading=f"{day:%A, %-d %B %Y}",
        cards=cards,
        day=day,
        previous=f"/papers/date/{before}" if before else None,
        next=f"/papers/date/{after}" if after else None,
        week_url=f"/papers/week/{iso_week(day)}",
        month_url=f"/papers/month/{day:%Y-%m}",
        feed=f"/feeds/daily.atom?date={day}",
        view="day",
    )


@router.get("/papers/week/{week}", response_class=HTMLResponse)
def weekly_page(request: Request, week: str) -> Response:
    try:
        period = parse_week(week)
    except BadPeriod as exc:
        raise _bad_request(exc) from None
    start, end = period.start, period.end
    return _range(
        request,
        start,
        end,
        title=f"Papers of week {week}",
        feed=f"/feeds/daily.atom?week={week}",
        previous=f"/papers/week/{iso_week(start - dt.timedelta(days=7))}",
        next=f"/papers/week/{iso_week(end + dt.timedelta(days=1))}",
    )


@router.get("/papers/month/{month}", response_class=HTMLResponse)
def monthly_page(request: Request, month: str) -> Response:
    try:
        period = parse_month(month)
    except BadPeriod as exc:
        raise _bad_request(exc) from None
    start, end = period.start, period.end
    before = start - dt.timedelta(days=1)
    return _range(
        request,
        start,
        end,
        title=f"Papers of {start:%B %Y}",
        feed=f"/feeds/daily.atom?month={month}",
        previous=f"/papers/month/{before:%Y-%m}",
        next=f"/papers/month/{end + dt.timedelta(days=1):%Y-%m}",
    )


def _range(
    request: Request,
    start: dt.date,
    end: dt.date,
    *,
    title: str,
    previous: str,
    next: str,
    feed: str,
) -> Response:
    cards = runtime(request).community.daily(start, end, viewer=viewer(request))
    return render(
        request,
        "daily.html",
        title=title,
        heading=title,
        cards=cards[:200],
        day=start,
        previous=previous,
        next=next,
        week_url=f"/papers/week/{iso_week(start)}",
        month_url=f"/papers/month/{start:%Y-%m}",
        feed=feed,
        view="range",
    )


# -- trending -----------------------------------------------------------------------------------


@router.get("/trending", response_class=HTMLResponse)
def trending_page(request: Request) -> Response:
    ranked, at = runtime(request).community.trending(limit=50, viewer=viewer(request))
    now = runtime(request).clock()
    return render(
        request,
        "trending.html",
        title="Trending papers",
        ranked=ranked,
        taken_at=at,
        stale=(now - at) > dt.timedelta(days=1),
        feed="/feeds/trending.atom",
    )


# -- search ---------------------------------------------------------------------------------------


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: Annotated[str, Query(max_length=2000)] = "",
    cat: Annotated[str, Query(max_length=40)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    sort: Annotated[str, Query(pattern="^(relevance|date)$")] = "relevance",
    page: Annotated[int, Query(ge=1, le=MAX_PAGES)] = 1,
) -> Response:
    rt = runtime(request)
    notices: list[str] = []
    try:
        since_day = parse_day(since) if since else None
        until_day = parse_day(until) if until else None
    except BadPeriod as exc:
        notices.append(str(exc))
        since_day = until_day = None
    categories = [cat] if cat else []
    if cat and not is_known_category(cat) and "." in cat:
        notices.append(f"{cat!r} is not an arXiv category; showing results in all categories")
        categories = []
    hits, total, took = [], 0, 0.0
    if q.strip() or categories:
        results = rt.search.search(
            q,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            sort="date" if sort == "date" else "relevance",
            categories=categories,
            since=since_day,
            until=until_day,
        )
        notices.extend(results.notices)
        cards = {c.paper_id: c for c in rt.community.cards([h.paper_id for h in results.hits])}
        hits = [(h, cards[h.paper_id]) for h in results.hits if h.paper_id in cards]
        total, took = results.total, results.took_ms
    pages = min(MAX_PAGES, math.ceil(total / PAGE_SIZE)) if total else 0
    return render(
        request,
        "search.html",
        title=f"{q} - search" if q else "Search",
        q=q,
        cat=cat,
        since=since,
        until=until,
        sort=sort,
        page=page,
        pages=pages,
        hits=hits,
        total=total,
        took=took,
        notices=notices,
        feed=f"/feeds/search.atom?{request.url.query}" if q else None,
    )


# -- submissions ----------------------------------------------------------------------------------


@router.get("/submit", response_class=HTMLResponse)
def submit_form(request: Request) -> Response:
    return render(request, "submit.html", title="Submit a paper", error=None, value="")


@router.post("/submit", response_class=HTMLResponse)
def submit(
    request: Request,
    paper: Annotated[str, Form(max_length=300)],
    csrf_token: Csrf = None,
) -> Response:
    check_csrf(request, csrf_token)
    user = require_user(request)
    rate_limit(request, SUBMIT, f"user:{user.id}")
    rt = runtime(request)
    try:
        card, added = rt.community.submit(user, paper, rt.fetch_from_arxiv)
    except (CommunityError, FetchUnavailable) as exc:
        status = 404 if isinstance(exc, NotFound) else 400
        return render(
            request, "submit.html", status, title="Submit a paper", error=str(exc), value=paper
        )
    if added:
        rt.index_in_background()
    return redirect(f"/papers/{card.public_id}", "submitted")


# -- paper pages ---------------------------------------------------------------------------------


@router.post("/papers/{public_id:path}/upvote")
def upvote(
    request: Request,
    public_id: str,
    csrf_token: Csrf = None,
    up: Annotated[str, Form()] = "1",
) -> Response:
    check_csrf(request, csrf_token)
    user = require_user(request)
    paper_id = runtime(request).community.resolve(public_id)
    card = runtime(request).community.upvote(user, paper_id, up=up != "0")
    if request.headers.get("accept", "").startswith("application/json"):
        return JSONResponse({"upvotes": card.upvotes, "voted": card.voted})
    return redirect(f"/papers/{card.public_id}")


@router.post("/papers/{public_id:path}/comments")
def comment(
    request: Request,
    public_id: str,
    body: Annotated[str, Form(max_length=20_000)],
    csrf_token: Csrf = None,
    parent: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    check_csrf(request, csrf_token)
    user = require_user(request)
    rate_limit(request, COMMENT, f"user:{user.id}")
    paper_id = runtime(request).community.resolve(public_id)
    rt = runtime(request)
    try:
        rt.community.add_comment(user, paper_id, body, parent_id=parent)
    except CommunityError as exc:
        return _paper(request, paper_id, error=str(exc), draft=body, status=400)
    return redirect(f"/papers/{public_id}", "commented")


@router.post("/papers/{public_id:path}/hide")
def hide_paper(
    request: Request,
    public_id: str,
    csrf_token: Csrf = None,
    hidden: Annotated[str, Form()] = "1",
) -> Response:
    check_csrf(request, csrf_token)
    user = require_user(request)
    paper_id = runtime(request).community.resolve(public_id)
    try:
        runtime(request).community.set_paper_hidden(user, paper_id, hidden != "0")
    except CommunityError as exc:
        raise HTTPException(403, str(exc)) from None
    return redirect(f"/papers/{public_id}", "hidden" if hidden != "0" else "shown")


@router.post("/comments/{comment_id}/hide")
def hide_comment(
    request: Request,
    comment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    csrf_token: Csrf = None,
    hidden: Annotated[str, Form()] = "1",
) -> Response:
    check_csrf(request, csrf_token)
    user = require_user(request)
    community = runtime(request).community
    try:
        paper_id = community.set_comment_hidden(user, comment_id, hidden != "0")
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except CommunityError as exc:
        raise HTTPException(403, str(exc)) from None
    card = community.card(paper_id, include_hidden=True)
    return redirect(f"/papers/{card.public_id}", "hidden" if hidden != "0" else "shown")


@router.get("/papers/{public_id:path}", response_class=HTMLResponse)
def paper_page(request: Request, public_id: str) -> Response:
    return _paper(request, runtime(request).community.resolve(public_id))


def _paper(
    request: Request, paper_id: int, *, error: str | None = None, draft: str = "", status: int = 200
) -> Response:
    rt = runtime(request)
    user = viewer(request)
    is_admin = bool(user and user.is_admin)
    card = rt.community.card(paper_id, viewer=user, include_hidden=is_admin)
    similar = rt.community.cards([h.paper_id for h in rt.search.similar(paper_id, limit=6)])
    paper = rt.catalog.get(paper_id=paper_id) or {}
    return render(
        request,
        "paper.html",
        status,
        title=readable(card.title),
        card=card,
        paper=paper,
        comments=rt.community.comments(paper_id, include_hidden=is_admin),
        similar=similar,
        error=error,
        draft=draft,
    )
