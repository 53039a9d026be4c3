"""Rendering pages: the templates, the context every page gets (the signed-in user, the CSRF
field, today by the runtime's clock, the status message after a redirect), the error page.
Pages for a signed-in user are sent with `Cache-Control: private, no-store`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from paperfeed import __version__
from paperfeed.http.deps import form_csrf_token, get_runtime, viewer
from paperfeed.http.security import CSRF_COOKIE, CSRF_FIELD
from paperfeed.papers.authors import author_path
from paperfeed.papers.tex_display import to_html
from paperfeed.web.forms import safe_next

# Status messages shown after a redirect, by code (never text from the URL: a link could
# otherwise put any words on our page).
MESSAGES = {
    "signed-in": "Signed in.",
    "account-confirmed": "Welcome! Your account is confirmed and you are signed in.",
    "signed-out": "Signed out.",
    "submitted": "Thanks! The paper is on today's list.",
    "commented": "Comment posted.",
    "subscribed": "Almost done: open the link in the email we just sent to confirm.",
    "confirmed": "Subscription confirmed: trending papers will come to your inbox.",
    "unsubscribed": "Unsubscribed: no more trending-papers emails.",
    "preferences-saved": "Preferences saved. They apply from the next digest; nothing already "
    "sent is sent again.",
    "reset-sent": "If an account has this email, a reset link is on its way.",
    "password-changed": "Password changed; you are signed in.",
    "password-updated": "Password changed; every other browser is signed out.",
    "tokens-revoked": "All API tokens of the account are revoked.",
    "hidden": "Hidden from everyone but admins.",
    "shown": "Visible again.",
    "token-created": "API token created.",
    "token-revoked": "API token revoked.",
    "account-deleted": "Your account is deleted.",
    "comment-edited": "Comment updated.",
    "comment-deleted": "Comment deleted.",
    "saved": "Saved to your collection.",
    "marked-read": "Marked read.",
    "dismissed": "Marked not interested.",
    "unmarked": "Mark taken away.",
    "collection-created": "Collection created.",
    "collection-saved": "Collection saved.",
    "collection-deleted": "Collection deleted.",
    "note-saved": "Note saved.",
    "removed": "Removed from the collection.",
    "followed": "Followed. Its feed is on your Following page.",
    "unfollowed": "Unfollowed.",
    "feed-token-new": "New secret feed URLs: the old ones no longer work.",
    "feed-token-revoked": "Private feeds are off: their URLs no longer work.",
    "categories-saved": "Categories saved: their new papers are on your list.",
}

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
STATIC_DIR = Path(__file__).with_name("static")
TEMPLATES.env.filters["tex"] = to_html
TEMPLATES.env.filters["author_url"] = author_path


def _csrf_input(request: Request) -> Markup:
    token = form_csrf_token(request)
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


def _is_web_url(value: object) -> bool:
    """Links from imported data are shown only when they are http(s): a `javascript:` URL
    in a paper's code or project link must never become a link."""
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


TEMPLATES.env.tests["web_url"] = _is_web_url


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    started = request.scope.get("paperfeed.started") or time.perf_counter()
    context.setdefault("feed", None)
    user = viewer(request)
    if user is not None:  # the collections a paper's "Save" offers (_library.html)
        context.setdefault("library_names", get_runtime(request).library.names(user))
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer(request),
            "csrf_input": _csrf_input(request),
            "version": __version__,
            "today": get_runtime(request).clock().date(),
            "flash": MESSAGES.get(request.query_params.get("msg", "")),
            **context,
        },
        status_code=status_code,
    )
    set_csrf_cookie(request, response)
    if viewer(request) is not None:  # a page made for one person: no cache may keep it
        response.headers["cache-control"] = "private, no-store"
    elapsed = (time.perf_counter() - started) * 1000
    response.headers["server-timing"] = f"app;dur={elapsed:.2f}"
    return response


def set_csrf_cookie(request: Request, response: Any) -> None:
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(
            CSRF_COOKIE,
            new,
            httponly=True,
            samesite="lax",
            secure=get_runtime(request).settings.secure_cookies,
            max_age=60 * 60 * 24 * 365,
        )


ERROR_HEADINGS = {
    400: "That request did not work",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    413: "Too large",
    429: "Slow down",
}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """The error page, titled by its heading; a 401's sign-in link leads back (`next=`) to
    the page asked for (for a form post: the page the form was on, when it is ours)."""
    heading = ERROR_HEADINGS.get(status, "Something went wrong")
    return render(
        request,
        "error.html",
        status,
        title=heading,
        heading=heading,
        status=status,
        message=message,
        back=_back_to(request) if status == 401 else "/",
    )


def _back_to(request: Request) -> str:
    if request.method in ("GET", "HEAD"):
        url = request.url
        return safe_next(url.path + (f"?{url.query}" if url.query else ""))
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc == request.headers.get("host"):
        return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))
    return "/"
