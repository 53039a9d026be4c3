"""The real app served by uvicorn on 127.0.0.1 in a background thread, for tests that talk
HTTP to it (huggingface_hub, the browser, feedparser)."""

from __future__ import annotations

import functools
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from lxml import html

from paperfeed.http.app import create_app
from paperfeed.http.workers import SERVER_OPTIONS
from paperfeed.runtime import Runtime
from tests.support.waiting import wait_until


def free_port() -> int:
    """A port nothing listens on now (for a server in another process: it binds the port
    itself, so another test may take it in between; in-process servers use `reserve_port`)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_reserved: dict[int, socket.socket] = {}
_reserved_lock = threading.Lock()


def _bound(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def reserve_port() -> int:
    """A port bound now and held for the `LiveServer` made with it (to put the server's
    address into its runtime's `base_url` first): no other test can take it in between."""
    sock = _bound(0)
    port = int(sock.getsockname()[1])
    with _reserved_lock:
        _reserved[port] = sock
    return port


class LiveServer:
    def __init__(self, runtime: Runtime, port: int | None = None) -> None:
        """`port`: serve on this port (one from `reserve_port()`, to put the server's address
        into the runtime's `base_url`); default: a free one. The socket is bound here and
        handed to uvicorn, so no other server can take the port before this one listens."""
        self.runtime = runtime
        with _reserved_lock:
            reserved = _reserved.pop(port, None) if port else None
        self.sock = reserved or _bound(port or 0)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(runtime),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",  # the test owns the runtime and closes it
            **SERVER_OPTIONS,  # as `paperfeed serve` runs it
        )
        self.server = uvicorn.Server(config)
        self.ended: str | None = None  # how the server thread ended, if it has
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # recorded for the failure report, then as before
            self.ended = f"raised {exc!r}"
            raise
        self.ended = "stopped (should_exit)" if self.server.should_exit else "returned"

    def state(self) -> str:
        """One line on whether the server still listens, for a failing test's report."""
        if self.thread.is_alive():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
                return f"{self.url}: running, accepts connections"
            except OSError as exc:
                return f"{self.url}: thread running, but connecting fails: {exc}"
        return f"{self.url}: thread ended: {self.ended}"

    def start(self) -> None:
        self.thread.start()
        wait_until(
            lambda: self.server.started,
            within=20,
            every=0.02,
            what="the test server did not start",
            gone=lambda: None if self.thread.is_alive() else "the test server did not start",
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@contextmanager
def live_server(runtime: Runtime, port: int | None = None) -> Iterator[LiveServer]:
    server = LiveServer(runtime, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def csrf_token(client: httpx.Client, path: str = "/signin") -> str:
    """The CSRF token of the form on a page (its cookie stays in the client)."""
    page = html.fromstring(client.get(path).text)
    return str(page.xpath("//input[@name='csrf_token']/@value")[0])


@functools.cache
def _tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # what httpx.Client makes by default


def http_client(base_url: str = "", **kwargs: Any) -> httpx.Client:
    """`httpx.Client(base_url, **kwargs)` sharing one TLS context with all the others made
    here: httpx builds one per client (and per transport) by default, reading certifi's CA
    certificates each time, about 25 ms of CPU, more than a request to a test server costs.
    Pass `verify` (or a transport of your own) to set it otherwise."""
    kwargs.setdefault("verify", _tls())
    return httpx.Client(base_url=base_url, **kwargs)


def http_transport(**kwargs: Any) -> httpx.HTTPTransport:
    """`httpx.HTTPTransport(**kwargs)` (for its options, e.g. `local_address`) with the shared
    TLS context of `http_client`."""
    kwargs.setdefault("verify", _tls())
    return httpx.HTTPTransport(**kwargs)
