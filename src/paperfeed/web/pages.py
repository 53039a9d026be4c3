"""Pages: daily lists, trending, search, paper pages, submissions."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from paperfeed.accounts.rate_limit import COMMENT, SUBMIT
from paperfeed.community.errors import CommunityError
from paperfeed.community.trending import MIN_PAPERS
from paperfeed.http.deps import (
    CardsDep,
    CatalogDep,
    DailyDep,
    DiscussionDep,
    FormUserDep,
    ModerationDep,
    PaperIdsDep,
    RuntimeDep,
    SearchDep,
    SubmissionsDep,
    TrendingDep,
    ViewerDep,
    rate_limit,
)
from paperfeed.http.errors import status_of
from paperfeed.papers.categories import is_known_category
from paperfeed.papers.periods import (
    BadPeriod,
    Period,
    describe,
    iso_week,
    parse_day,
    parse_month,
    parse_week,
)
from paperfeed.papers.tex_display import readable
from paperfeed.search.service import missing_notice
from paperfeed.web.forms import redirect
from paperfeed.web.templates import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
MAX_PAGES = 50
TRENDING_PAGE = 50
MAX_ID = 2**31 - 1  # row ids are 32-bit integers; a larger one must not reach the database


# -- daily lists ------------------------------------------------------------------------------


# The daily lists' order: most upvoted first (as on huggingface.co/papers), or newest first.
SortDep = Annotated[Literal["upvotes", "date"], Query()]
VIEWS = {"day": "date", "week": "week", "month": "month"}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, daily: DailyDep, user: ViewerDep, sort: SortDep = "upvotes") -> Response:
    day = daily.latest_or_today()
    return _list(request, daily, user, "day", Period(day, day), sort)


@router.get("/papers/date/{day}", response_class=HTMLResponse)
def daily_page(
    request: Request, day: str, daily: DailyDep, user: ViewerDep, sort: SortDep = "upvotes"
) -> Response:
    date = parse_day(day)
    return _list(request, daily, user, "day", Period(date, date), sort)


@router.get("/papers/week/{week}", response_class=HTMLResponse)
def weekly_page(
    request: Request, week: str, daily: DailyDep, user: ViewerDep, sort: SortDep = "upvotes"
) -> Response:
    return _list(request, daily, user, "week", parse_week(week), sort)


@router.get("/papers/month/{month}", response_class=HTMLResponse)
def monthly_page(
    request: Request, month: str, daily: DailyDep, user: ViewerDep, sort: SortDep = "upvotes"
) -> Response:
    return _list(request, daily, user, "month", parse_month(month), sort)


def _list_url(view: str, day: dt.date, sort: str) -> str:
    """The page of the day, week or month that holds `day`, in the given order."""
    name = {"day": f"{day}", "week": iso_week(day), "month": f"{day:%Y-%m}"}[view]
    return f"/papers/{VIEWS[view]}/{name}" + ("" if sort == "upvotes" else f"?sort={sort}")


def _list(
    request: Request, daily: DailyDep, user: ViewerDep, view: str, period: Period, sort: str
) -> Response:
    """A daily, weekly or monthly list; previous/next lead to the nearest period with papers."""
    day = period.start
    cards = daily.papers(period.start, period.end, viewer=user, sort=sort)
    before, after = daily.adjacent_daily_dates(period.start, period.end)
    if view == "day":
        title, heading = f"Daily papers, {day:%A %-d %B %Y}", f"{day:%A, %-d %B %Y}"
        feed = f"/feeds/daily.atom?date={day}"
    elif view == "week":
        title = heading = f"Papers of week {iso_week(day)}"
        feed = f"/feeds/daily.atom?week={iso_week(day)}"
    else:
        title = heading = f"Papers of {day:%B %Y}"
        feed = f"/feeds/daily.atom?month={day:%Y-%m}"
    return render(
        request,
        "daily.html",
        title=title,
        heading=heading,
        span=None if view == "day" else describe(period),
        cards=cards if view == "day" else cards[:200],
        day=day,
        view=view,
        sort=sort,
        sorts={s: _list_url(view, day, s) for s in ("upvotes", "date")},
        previous=_list_url(view, before, sort) if before else None,
        next=_list_url(view, after, sort) if after else None,
        views={v: _list_url(v, day, sort) for v in VIEWS},
        feed=feed,
    )


# -- trending -----------------------------------------------------------------------------------


@router.get("/trending", response_class=HTMLResponse)
def trending_page(request: Request, trending: TrendingDep, user: ViewerDep) -> Response:
    found = trending.trend(limit=TRENDING_PAGE, viewer=user)
    return render(
        request,
        "trending.html",
        title="Trending papers",
        ranked=found.papers,
        window=found.window,
        min_papers=MIN_PAPERS,
        feed="/feeds/trending.atom",
    )


# -- search ---------------------------------------------------------------------------------------


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    cards: CardsDep,
    search: SearchDep,
    user: ViewerDep,
    q: Annotated[str, Query(max_length=2000)] = "",
    cat: Annotated[str, Query(max_length=40)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    sort: Annotated[str, Query(pattern="^(relevance|date)$")] = "relevance",
    page: Annotated[int, Query(ge=1, le=MAX_PAGES)] = 1,
) -> Response:
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
    hits, total, listed, took, missing = [], 0, 0, 0.0, []
    if q.strip() or categories:
        results = cards.search(
            search,
            q,
            viewer=user,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            sort="date" if sort == "date" else "relevance",
            categories=categories,
            since=since_day,
            until=until_day,
        )
        missing = results.missing_ids  # (shown with a link to arXiv and to /submit)
        shown_apart = {missing_notice(arxiv_id) for arxiv_id in missing}
        notices.extend(n for n in results.notices if n not in shown_apart)
        hits, total, listed, took = results.items, results.total, results.listed, results.took_ms
    # Pages reach the first MAX_PAGES * PAGE_SIZE results this order can list; the count line
    # says so when there are more.
    shown = min(listed, MAX_PAGES * PAGE_SIZE)
    pages = math.ceil(shown / PAGE_SIZE)
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
        shown=shown,
        took=took,
        notices=notices,
        missing=missing,
        feed=f"/feeds/search.atom?{request.url.query}" if q else None,
    )


# -- submissions ----------------------------------------------------------------------------------


@router.get("/submit", response_class=HTMLResponse)
def submit_form(request: Request, paper: Annotated[str, Query(max_length=300)] = "") -> Response:
    """The form, filled in with `paper` when a link names one (search: "not in the
    catalog")."""
    return render(request, "submit.html", title="Submit a paper", error=None, value=paper)


@router.post("/submit", response_class=HTMLResponse)
def submit(
    request: Request,
    user: FormUserDep,
    submissions: SubmissionsDep,
    paper: Annotated[str, Form(max_length=300)],
) -> Response:
    rate_limit(request, SUBMIT, f"user:{user.id}")
    try:
        card, _ = submissions.submit(user, paper)
    except CommunityError as exc:
        return render(
            request,
            "submit.html",
            status_of(exc),
            title="Submit a paper",
            error=str(exc),
            value=paper,
        )
    return redirect(f"/papers/{card.public_id}", "submitted")


# -- paper pages ---------------------------------------------------------------------------------


@router.post("/papers/{public_id:path}/upvote")
def upvote(
    request: Request,
    public_id: str,
    user: FormUserDep,
    paper_ids: PaperIdsDep,
    discussion: DiscussionDep,
    up: Annotated[str, Form()] = "1",
) -> Response:
    card = discussion.upvote(user, paper_ids.resolve(public_id), up=up != "0")
    if request.headers.get("accept", "").startswith("application/json"):
        return JSONResponse({"upvotes": card.upvotes, "voted": card.voted})
    return redirect(f"/papers/{card.public_id}")


@router.post("/papers/{public_id:path}/comments")
def comment(
    request: Request,
    public_id: str,
    user: FormUserDep,
    rt: RuntimeDep,
    body: Annotated[str, Form(max_length=20_000)],
    parent: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    rate_limit(request, COMMENT, f"user:{user.id}")
    paper_id = rt.paper_ids.resolve(public_id)
    try:
        new_id = rt.discussion.add_comment(user, paper_id, body, parent_id=parent)
    except CommunityError as exc:
        return _paper(
            request, rt.cards, rt.discussion, rt.search, rt.catalog, user, paper_id,
            error=str(exc), draft=body, status=status_of(exc),
        )  # fmt: skip
    return redirect(f"/papers/{public_id}#comment-{new_id}", "commented")


@router.post("/comments/{comment_id}/edit")
def edit_comment(
    comment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    user: FormUserDep,
    discussion: DiscussionDep,
    cards: CardsDep,
    body: Annotated[str, Form(max_length=20_000)],
) -> Response:
    """Its author's new text for a comment."""
    paper_id = discussion.edit_comment(user, comment_id, body)
    card = cards.card(paper_id, include_hidden=True)
    return redirect(f"/papers/{card.public_id}#comment-{comment_id}", "comment-edited")


@router.post("/comments/{comment_id}/delete")
def delete_comment(
    comment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    user: FormUserDep,
    discussion: DiscussionDep,
    cards: CardsDep,
) -> Response:
    """Its author deletes a comment (replies to it stay)."""
    paper_id = discussion.delete_comment(user, comment_id)
    card = cards.card(paper_id, include_hidden=True)
    return redirect(f"/papers/{card.public_id}#comments-h", "comment-deleted")


@router.post("/papers/{public_id:path}/hide")
def hide_paper(
    public_id: str,
    user: FormUserDep,
    paper_ids: PaperIdsDep,
    moderation: ModerationDep,
    hidden: Annotated[str, Form()] = "1",
) -> Response:
    moderation.set_paper_hidden(user, paper_ids.resolve(public_id), hidden != "0")
    return redirect(f"/papers/{public_id}", "hidden" if hidden != "0" else "shown")


@router.post("/comments/{comment_id}/hide")
def hide_comment(
    comment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    user: FormUserDep,
    moderation: ModerationDep,
    cards: CardsDep,
    hidden: Annotated[str, Form()] = "1",
) -> Response:
    paper_id = moderation.set_comment_hidden(user, comment_id, hidden != "0")
    card = cards.card(paper_id, include_hidden=True)
    return redirect(f"/papers/{card.public_id}", "hidden" if hidden != "0" else "shown")


@router.get("/papers/{public_id:path}", response_class=HTMLResponse)
def paper_page(
    request: Request,
    public_id: str,
    paper_ids: PaperIdsDep,
    cards: CardsDep,
    discussion: DiscussionDep,
    search: SearchDep,
    catalog: CatalogDep,
    user: ViewerDep,
) -> Response:
    paper_id = paper_ids.resolve(public_id)
    return _paper(request, cards, discussion, search, catalog, user, paper_id)


def _paper(
    request: Request,
    cards: CardsDep,
    discussion: DiscussionDep,
    search: SearchDep,
    catalog: CatalogDep,
    user: ViewerDep,
    paper_id: int,
    *,
    error: str | None = None,
    draft: str = "",
    status: int = 200,
) -> Response:
    is_admin = bool(user and user.is_admin)
    card = cards.card(paper_id, viewer=user, include_hidden=is_admin)
    return render(
        request,
        "paper.html",
        status,
        title=readable(card.title),
        card=card,
        paper=catalog.get(paper_id=paper_id) or {},
        comments=discussion.comments(paper_id, include_hidden=is_admin),
        similar=cards.similar(search, paper_id, limit=6, include_hidden=is_admin),
        error=error,
        draft=draft,
    )
