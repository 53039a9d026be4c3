"""Follows: "Follow" buttons (author pages, the search page, categories) post here;
`/following` lists the reader's follows with their feeds; the private Atom feeds at secret
URLs (`/feeds/private/TOKEN/...`: a wrong or revoked token is a 404). Thin over
library/follows.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.community.errors import CommunityError
from paperfeed.http.deps import FollowsDep, FormUserDep, SearchDep, SettingsDep, SignedInDep
from paperfeed.http.errors import status_of
from paperfeed.library.follows import MAX_QUERY
from paperfeed.web.feeds import FEED_SIZE, atom_feed
from paperfeed.web.forms import redirect
from paperfeed.web.library import _back
from paperfeed.web.templates import render

router = APIRouter(include_in_schema=False)
MAX_ID = 2**31 - 1
FollowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Token = Annotated[str, Path(max_length=64)]


@router.get("/following", response_class=HTMLResponse)
def following_page(
    request: Request, user: SignedInDep, follows: FollowsDep, settings: SettingsDep
) -> Response:
    return _following(request, user, follows, settings)


def _following(
    request: Request,
    user: SignedInDep,
    follows: FollowsDep,
    settings: SettingsDep,
    error: str | None = None,
    status: int = 200,
) -> Response:
    token = follows.feed_token(user)
    return render(
        request,
        "following.html",
        status,
        title="Following",
        follows=follows.follows(user),
        token=token,
        base=settings.base_url.rstrip("/"),
        error=error,
    )


@router.post("/following")
def follow(
    request: Request,
    user: FormUserDep,
    follows: FollowsDep,
    settings: SettingsDep,
    kind: Annotated[str, Form(max_length=16)],
    value: Annotated[str, Form(max_length=MAX_QUERY)] = "",
    cat: Annotated[str, Form(max_length=40)] = "",
    since: Annotated[str, Form(max_length=10)] = "",
    until: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Follows an author, a category or a search (with its filters)."""
    try:
        follows.follow(user, kind, value, {"cat": cat, "since": since, "until": until})
    except CommunityError as exc:
        return _following(request, user, follows, settings, str(exc), status_of(exc))
    return redirect(_back(request, "/following"), "followed")


@router.post("/following/{follow_id}/delete")
def unfollow(
    request: Request, follow_id: FollowId, user: FormUserDep, follows: FollowsDep
) -> Response:
    follows.unfollow(user, follow_id)
    return redirect(_back(request, "/following"), "unfollowed")


@router.post("/following/feed-token")
def feed_token(
    user: FormUserDep,
    follows: FollowsDep,
    action: Annotated[str, Form(pattern="^(regenerate|revoke)$")] = "regenerate",
) -> Response:
    """A new secret for the private feed URLs (the old ones stop working), or none."""
    if action == "revoke":
        follows.revoke_feed_token(user)
        return redirect("/following", "feed-token-revoked")
    follows.regenerate_feed_token(user)
    return redirect("/following", "feed-token-new")


@router.get("/feeds/private/{token}/follows/{follow_id}.atom")
def follow_feed(
    token: Token, follow_id: FollowId, follows: FollowsDep, search: SearchDep, settings: SettingsDep
) -> Response:
    """The newest papers of one follow."""
    found = follows.feed_follow(token, follow_id)
    cards = follows.papers(found, search, limit=FEED_SIZE)
    path = f"/feeds/private/{token}/follows/{follow_id}.atom"
    return _private(atom_feed(settings, found.label, path, found.page, cards))


@router.get("/feeds/private/{token}/following.atom")
def following_feed(
    token: Token, follows: FollowsDep, search: SearchDep, settings: SettingsDep
) -> Response:
    """The newest papers of all the reader's follows together."""
    chosen = follows.feed_follows(token)
    cards = follows.all_papers(chosen, search, limit=FEED_SIZE)
    path = f"/feeds/private/{token}/following.atom"
    return _private(atom_feed(settings, "papers you follow", path, "/following", cards))


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
