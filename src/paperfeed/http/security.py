"""Request hygiene shared by pages and API: body size limit, security headers, CSRF tokens,
client addresses for rate limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Sequence

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "pf_csrf"
CSRF_FIELD = "csrf_token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32), or a SHA-256 HMAC

# Pages (the API docs page too) use only our own scripts and stylesheets; nothing inline,
# nothing third-party.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def content_security_policy(image_origins: Sequence[str] = ()) -> str:
    """The pages' policy; `image_origins` (PAPERFEED_REMOTE_IMAGES) may show images too."""
    extra = "".join(f" {origin}" for origin in image_origins)
    return CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", f"img-src 'self' data:{extra}")


class BodyTooLarge(Exception):
    pass


class LimitsAndHeaders:
    """Refuses request bodies over `max_body` bytes with 413 (by Content-Length up front, and
    by counting for chunked uploads) and adds security headers to every response."""

    def __init__(
        self,
        app: ASGIApp,
        max_body: int,
        on_request: Callable[[], None] | None = None,
        image_origins: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.policy = content_security_policy(image_origins)
        self.max_body = max_body
        self.on_request = on_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["paperfeed.started"] = time.perf_counter()
        if self.on_request is not None:
            self.on_request()
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _plain(send, 413, b"request body too large")
            return
        received = 0
        started = refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    # Answer here: frameworks turn errors raised while they read a body into
                    # their own 400, which must not replace the 413 (it is dropped below).
                    if not started and not refused:
                        refused = True
                        await _plain(send, 413, b"request body too large")
                    raise BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not any(k == b"content-security-policy" for k, _ in message["headers"]):
                    extra.append((b"content-security-policy", self.policy.encode()))
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            if not started and not refused:
                await _plain(send, 413, b"request body too large")


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def csrf_token(request: Request, secret: bytes, session: str | None) -> str:
    """The CSRF token of this browser's forms: an HMAC under the server secret of the
    browser's CSRF cookie (a random value set with its first page) and, when it is signed in,
    of its session cookie. Without the secret no one can make a token that fits a cookie, and
    a token taken from one session is no good in another. A cookie that is not one of our
    values (another app on the host can set it) is replaced."""
    browser = request.cookies.get(CSRF_COOKIE)
    if not browser or not _TOKEN.fullmatch(browser):
        browser = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(32)
        request.state.new_csrf = browser
    return _sign(secret, str(browser), session)


def csrf_valid(request: Request, secret: bytes, session: str | None, submitted: str | None) -> bool:
    """Whether a posted token is the one `csrf_token` gave this browser and session."""
    browser = request.cookies.get(CSRF_COOKIE)
    if not browser or not _TOKEN.fullmatch(browser) or not submitted:
        return False
    return hmac.compare_digest(_sign(secret, browser, session).encode(), submitted.encode())


def _sign(secret: bytes, browser: str, session: str | None) -> str:
    message = f"csrf\0{browser}\0{session or ''}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
