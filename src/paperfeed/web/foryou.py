"""For you: `/for-you`, the signed-in reader's recommended papers with the reason for each
(others are sent to sign in), and for a new reader the first steps: categories to follow,
an author to follow, a search whose papers they can save or upvote. The rating pages behind
a personal digest's "more like this" and "not for me" links (`/rate/TOKEN`): opening one
shows one button and changes nothing; the button's POST rates. Thin over
recommend/foryou.py and library/."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.accounts.service import User
from paperfeed.community.errors import CommunityError
from paperfeed.http.deps import (
    AccountsDep,
    CardsDep,
    CsrfChecked,
    FollowsDep,
    FormUserDep,
    LibraryDep,
    RuntimeDep,
    SettingsDep,
    ViewerDep,
)
from paperfeed.http.errors import status_of
from paperfeed.library.collections import DEFAULT_COLLECTION
from paperfeed.papers.categories import is_known_category
from paperfeed.recommend import rating_links
from paperfeed.web.forms import redirect
from paperfeed.web.templates import render

router = APIRouter(include_in_schema=False)
SEARCH_RESULTS = 10
RatingToken = Annotated[str, Path(max_length=80)]


def _private(response: Response) -> Response:
    response.headers["cache-control"] = "private, no-store"
    response.headers["x-robots-tag"] = "noindex"
    return response


@router.get("/for-you", response_class=HTMLResponse)
def for_you_page(
    request: Request,
    user: ViewerDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    cards: CardsDep,
    q: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    if user is None:
        return redirect("/signin", next="/for-you")
    found = runtime.for_you.recommend(user)
    followed = {f.value for f in found.follows if f.kind == "category"}
    offered = list(dict.fromkeys([*settings.categories, *sorted(followed)]))
    results = cards.search(runtime.search, q, viewer=user, limit=SEARCH_RESULTS).cards if q else []
    return render(
        request,
        "for_you.html",
        title="For you",
        found=found,
        offered=offered,
        followed=followed,
        search_q=q,
        results=results,
    )


@router.post("/for-you/categories")
def choose_categories(
    user: FormUserDep,
    follows: FollowsDep,
    settings: SettingsDep,
    category: Annotated[list[str] | None, Form(max_length=40)] = None,
) -> Response:
    """Follows the checked categories of those the page offered, and stops following the
    unchecked ones."""
    chosen = set(category or [])
    unknown = sorted(c for c in chosen if not is_known_category(c))
    if unknown:
        raise CommunityError(f"{unknown[0]!r} is not an arXiv category")
    current = {f.value: f for f in follows.follows(user) if f.kind == "category"}
    for name in dict.fromkeys([*settings.categories, *current]):
        if name in chosen and name not in current:
            follows.follow(user, "category", name)
        elif name not in chosen and name in current:
            follows.unfollow(user, current[name].id)
    for name in chosen - set(settings.categories) - set(current):
        follows.follow(user, "category", name)
    return redirect("/for-you", "categories-saved")


# -- the rating links of a personal digest ----------------------------------------------------


def _rating(
    runtime: RuntimeDep, accounts: AccountsDep, token: str
) -> tuple[rating_links.RatingLink, User]:
    """The rating a link names and its reader (404 for a link that is not ours)."""
    link = rating_links.verify(runtime.secret, token)
    user = accounts.get(link.user_id) if link is not None else None
    if link is None or user is None:
        raise HTTPException(404, "this link is not valid (any more)")
    return link, user


@router.get("/rate/{token}", response_class=HTMLResponse)
def rating_page(
    request: Request,
    token: RatingToken,
    runtime: RuntimeDep,
    accounts: AccountsDep,
    cards: CardsDep,
) -> Response:
    """One button; opening the link rates nothing (mail scanners open every link)."""
    link, user = _rating(runtime, accounts, token)
    card = cards.card(link.paper_id, viewer=user)
    return _private(
        render(request, "rate.html", title="Rate a paper", link=link, card=card, token=token)
    )


@router.post("/rate/{token}", response_class=HTMLResponse)
def rate(
    request: Request,
    token: RatingToken,
    _: CsrfChecked,
    runtime: RuntimeDep,
    accounts: AccountsDep,
    cards: CardsDep,
    library: LibraryDep,
) -> Response:
    """ "More like this" saves the paper to the reader's reading list; "not for me" marks it
    not interested. Both can be undone on the paper's card."""
    link, user = _rating(runtime, accounts, token)
    card = cards.card(link.paper_id)
    try:
        if link.rating == "more":
            library.save(user, library.named(user, DEFAULT_COLLECTION).id, card.paper_id)
            message = f"Saved to your {DEFAULT_COLLECTION}: more papers like it will come."
        else:
            library.mark(user, card.paper_id, "dismissed")
            message = "Marked not interested: fewer papers like it will come."
    except CommunityError as exc:
        raise HTTPException(status_of(exc), str(exc)) from None
    return _private(
        render(
            request,
            "message.html",
            title="Thanks",
            heading="Thanks",
            message=f"“{card.title}”: {message}",
        )
    )
