"""A real HTTP server on 127.0.0.1 that replays recorded responses (the internet is the
one thing tests cannot reach)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Response:
    body: bytes
    status: int = 200
    content_type: str = "text/xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


# A route gets (path, query params) and returns a Response, or None for 404.
Route = Callable[[str, dict[str, list[str]]], Response | None]


@dataclass
class FixtureServer:
    """Serve `route`; every request is recorded in `requests` as (path, params)."""

    route: Route | None = None
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = parse_qs(parts.query, keep_blank_values=True)
                owner.requests.append((parts.path, params))
                response = owner.route(parts.path, params) if owner.route else None
                if response is None:
                    response = Response(b"not found", 404, "text/plain")
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(response.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
