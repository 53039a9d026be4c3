"""Several server processes on one port (`paperfeed serve --workers N`), each with its own
listening socket (SO_REUSEPORT), so that the kernel spreads new connections over them.

uvicorn's own `--workers` shares one listening socket: the process that wakes first accepts
every connection waiting, so a client opening 16 keep-alive connections at once often had all
16 served by one process while the other idled (a daily page at concurrency 16: 158 requests/s
against ~480 with the connections split; bench/README.md). With a socket per process the
kernel hands each new connection to one of them by a hash of its addresses."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
from typing import Any

import uvicorn

APP = "paperfeed.http.server:app"
# uvicorn's options that every way of serving the app shares. No proxy headers: uvicorn would
# believe X-Forwarded-For from 127.0.0.1 (anyone on the machine); the app itself believes
# them only from PAPERFEED_TRUSTED_PROXIES (http/app.py).
SERVER_OPTIONS: dict[str, Any] = {"proxy_headers": False}
STARTUP_FAILURE = 3  # a worker that exits with this never started: restarting will not help
log = logging.getLogger("paperfeed.serve")


class PortUnavailable(OSError):
    """Something else listens on the port, or it cannot be bound."""


def _listener(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    sock = _listener(host, port, reuse_port=True)
    server = uvicorn.Server(uvicorn.Config(APP, **options))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def serve_workers(host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """Run `workers` server processes until SIGINT or SIGTERM; a process that dies after it
    started is replaced. `options` are uvicorn.Config's (not host and port)."""
    # Another program (or another paperfeed) on the port must be an error, as with one
    # process: sockets of the same user with SO_REUSEPORT would otherwise share it silently.
    try:
        _listener(host, port, reuse_port=False).close()
    except OSError as exc:
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited state
    stop = threading.Event()

    def start() -> multiprocessing.process.BaseProcess:
        process = context.Process(target=_worker, args=(host, port, options), daemon=False)
        process.start()
        return process

    def request_stop(_signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(workers)]
    log.info("%d server processes: %s", workers, ", ".join(str(p.pid) for p in processes))
    try:
        while not stop.wait(0.5):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("server process %s failed to start; stopping", process.pid)
                    stop.set()
                    break
                log.warning(
                    "server process %s died (exit %s); restarting", process.pid, process.exitcode
                )
                processes[index] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
