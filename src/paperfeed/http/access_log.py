"""The access log: one line per request (time, client, method, path, status, duration) on the
`paperfeed.access` logger, in the format `paperfeed serve` configures (paperfeed.ops.logs).

The query string is not logged (it holds what people search for), and path segments that are
secrets (the `{token}` of reset, confirmation and unsubscribe links) are replaced."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.ops.logs import ACCESS_LOGGER

log = logging.getLogger(ACCESS_LOGGER)
SECRET_PARAMS = frozenset({"token"})
REDACTED = "[redacted]"


def logged_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    params = scope.get("path_params") or {}
    for name in SECRET_PARAMS & params.keys():
        value = str(params[name])
        if value:
            path = path.replace(value, REDACTED)
    return path


class AccessLog:
    """The outermost middleware: it sees every answer, also the 413 of the body limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            if log.isEnabledFor(logging.INFO):
                duration = (time.perf_counter() - started) * 1000
                client = scope.get("client")
                address = client[0] if client else "-"
                path = logged_path(scope)
                shown = status or 500  # the app failed before it answered
                log.info(
                    "%s %s %s %d %.1fms",
                    address,
                    scope["method"],
                    path,
                    shown,
                    duration,
                    extra={
                        "client": address,
                        "method": scope["method"],
                        "path": path,
                        "status": shown,
                        "duration_ms": round(duration, 2),
                    },
                )
