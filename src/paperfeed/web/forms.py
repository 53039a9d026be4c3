"""Form posts: the redirect-after-post with a status message, and where it may lead. (CSRF
checks, the signed-in user and rate limits are request dependencies: http/deps.py.)"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi.responses import RedirectResponse


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
