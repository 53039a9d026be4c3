"""The access log and the request metrics, both from one middleware: one line per request
(time, client, method, path, status, duration) on the `paperfeed.access` logger, in the format
`paperfeed serve` configures (paperfeed.ops.logs), and the request counters by route template
(paperfeed.ops.metrics) when metrics are on.

The query string is not logged (it holds what people search for), and path segments that are
secrets (the `{token}` of reset, confirmation and unsubscribe links) are replaced."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.ops.logs import ACCESS_LOGGER

log = logging.getLogger(ACCESS_LOGGER)
REDACTED = "[redacted]"
UNMATCHED = "unmatched"  # the route label of requests no route matched (bounded labels)


def _secret(param: str) -> bool:
    """Path parameters that carry secrets: `token`, `*_token`."""
    return param == "token" or param.endswith("_token")


def logged_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    params = scope.get("path_params") or {}
    for name, value in params.items():
        if _secret(name) and str(value):
            path = path.replace(str(value), REDACTED)
    return path


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/papers/{paper_id:path}`), not the path itself."""
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) and template else UNMATCHED


class AccessLog:
    """The outermost middleware: it sees every answer, also the 413 of the body limit."""

    def __init__(self, app: ASGIApp, *, write_log: bool = True, metrics: bool = False) -> None:
        self.app = app
        self.write_log = write_log
        self.observe: Callable[[str, str, int, float], None] | None = None
        if metrics:
            from paperfeed.ops.metrics import observe_request

            self.observe = observe_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = time.perf_counter() - started
            shown = status or 500  # the app failed before it answered
            if self.observe is not None:
                self.observe(route_template(scope), scope["method"], shown, seconds)
            if self.write_log and log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                address = client[0] if client else "-"
                path = logged_path(scope)
                log.info(
                    "%s %s %s %d %.1fms",
                    address,
                    scope["method"],
                    path,
                    shown,
                    seconds * 1000,
                    extra={
                        "client": address,
                        "method": scope["method"],
                        "path": path,
                        "status": shown,
                        "duration_ms": round(seconds * 1000, 2),
                    },
                )
