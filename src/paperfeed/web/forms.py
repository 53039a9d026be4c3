"""Form posts: the redirect-after-post with a status message, and where it may lead. (CSRF
checks, the signed-in user and rate limits are request dependencies: http/deps.py.)"""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

from fastapi.responses import RedirectResponse

# What may stay as written in a query or fragment that a redirect passes on (the rest is
# percent-encoded; what is encoded already stays so).
_QUERY_SAFE = "/?:@!$&'()*+,;=-._~%"


def redirect(path: str, message: str | None = None, **params: str) -> RedirectResponse:
    """A 303 to a same-site `path`, which may carry a query and a fragment of its own
    (`/papers/1?x=1#frag`: kept), with `params` and the status `message` added to its
    query."""
    parts = urlsplit(path)
    extra = urlencode({**params, **({"msg": message} if message else {})})
    query = "&".join(q for q in (quote(parts.query, safe=_QUERY_SAFE), extra) if q)
    target = quote(parts.path, safe="/:.-_~%") + (f"?{query}" if query else "")
    if parts.fragment:
        target += "#" + quote(parts.fragment, safe=_QUERY_SAFE)
    return RedirectResponse(target, status_code=303)


def safe_next(target: str | None) -> str:
    """Only same-site paths may be redirected to after sign-in (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):  # browsers drop tabs and newlines
        return "/"
    return target[:500]
