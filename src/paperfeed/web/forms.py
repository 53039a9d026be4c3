"""Form posts: CSRF check, rate limits and the redirect-after-post with a status message."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from paperfeed.accounts.rate_limit import Limit, RateLimited
from paperfeed.accounts.service import User
from paperfeed.web.context import runtime, viewer
from paperfeed.web.security import client_address, csrf_valid

# The CSRF token every form posts back (see web/security.py).
Csrf = Annotated[str | None, Form(alias="csrf_token")]


def check_csrf(request: Request, submitted: str | None) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin != expected:
            raise HTTPException(403, "cross-site form post refused")
    if not csrf_valid(request, submitted):
        raise HTTPException(
            403, "this form expired or came from another site; reload the page and try again"
        )


def rate_limit(request: Request, limit: Limit, *extra: str) -> None:
    """Counts the attempt for the client address (and each extra key such as an email)."""
    limiter = runtime(request).rate_limiter
    try:
        limiter.hit(limit, client_address(request))
        for key in extra:
            limiter.hit(limit, key)
    except RateLimited as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None


def require_user(request: Request) -> User:
    user = viewer(request)
    if user is None:
        raise HTTPException(401, "sign in first")
    return user


def redirect(path: str, message: str | None = None, **params: str) -> RedirectResponse:
    query = {**params, **({"msg": message} if message else {})}
    target = quote(path, safe="/:#.-_~%") + (f"?{urlencode(query)}" if query else "")
    return RedirectResponse(target, status_code=303)


def safe_next(target: str | None) -> str:
    """Only same-site paths may be redirected to after sign-in (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):  # browsers drop tabs and newlines
        return "/"
    return target[:500]
