"""`paperfeed serve` as a user runs it: a fresh data directory, offline; on an empty catalog,
and with two server processes over an imported one (the Prometheus metrics of both added up
on a port of their own, JSON logs)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cli import HEAD200, Cli
from tests.support.server import free_port, http_client
from tests.support.waiting import ended, wait_until


def test_serve_starts_on_an_empty_catalog_and_says_how_to_import(
    tmp_path: Path, database_url: str | None
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PAPERFEED_HOME": str(tmp_path / "home"),
        "PAPERFEED_CONFIG": str(tmp_path / "none.toml"),
        "PAPERFEED_EMBEDDER": "none",
    }
    env.pop("PAPERFEED_DATABASE_URL", None)
    if database_url:
        env["PAPERFEED_DATABASE_URL"] = database_url
    process = _start(port, env)
    try:
        with http_client(f"http://127.0.0.1:{port}", timeout=5) as client:

            def answer() -> httpx.Response | None:
                try:
                    return client.get("/")
                except httpx.TransportError:
                    return None

            response = wait_until(
                answer,
                within=60,
                every=0.2,
                what="paperfeed serve did not answer",
                gone=ended(process),
            )
            assert response.status_code == 200
            assert "No papers on this list yet" in response.text
            # The page is for whoever reads it (the commands are in the terminal, below).
            assert "an administrator can also import" in response.text
            assert "paperfeed import" not in response.text
            docs = client.get("/openapi.json")
            assert docs.json()["info"]["title"] == "paperfeed"
        sign_ins = _sign_ins_with_a_new_forwarded_address_each(port, 21)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "the catalog is empty" in output
    assert "paperfeed import" in output
    assert f"serving on http://127.0.0.1:{port}/" in output
    if database_url is None:  # the embedded default: the SQLite catalog lives in home
        assert (tmp_path / "home" / "catalog.sqlite3").is_file()
    # No proxy is trusted by default (PAPERFEED_TRUSTED_PROXIES): a client that forges a new
    # X-Forwarded-For with each wrong sign-in is still one client, refused after 10. (The
    # limit counts in 5-minute windows of the wall clock; of 21 attempts, 11 fall into one
    # window even if the burst crosses a boundary.)
    assert sign_ins[:10] == [400] * 10
    assert 429 in sign_ins


def _sign_ins_with_a_new_forwarded_address_each(port: int, attempts: int) -> list[int]:
    with http_client(f"http://127.0.0.1:{port}", timeout=10) as client:
        page = client.get("/signin").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        return [
            client.post(
                "/signin",
                data={"email": f"guess{i}@x.org", "password": "wrong", "csrf_token": token[1]},
                headers={"X-Forwarded-For": f"10.9.{i}.1"},
            ).status_code
            for i in range(attempts)
        ]


def _proc_sockets(port: int) -> dict[int, str]:
    """inode -> TCP state ('0A' listening, '01' established) of the sockets whose local port
    is `port` (from /proc/net/tcp and tcp6)."""
    sockets = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    sockets[int(fields[9])] = fields[3]
    return sockets


def _inodes(pid: int) -> set[int]:
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found


def _children(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry))
    return children


def _start(port: int, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


REQUESTS = 40  # /healthz, each on a new connection
BURST = 16  # keep-alive connections opened at once


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_two_workers_listen_apart_add_up_their_metrics_and_log_json(
    tmp_path: Path, data_dir: Path
) -> None:
    """`paperfeed serve --workers 2`, in one run (starting two server processes takes
    seconds):
    - each process listens on its own socket: 16 keep-alive connections opened at once are
      spread over both (one shared socket let the first process to wake accept them all);
    - with PAPERFEED_METRICS_PORT the metrics port (and not the public one) adds up the counts
      of both processes; search stages are counted, imports and the index lag read from the
      catalog;
    - with PAPERFEED_LOG_FORMAT=json every line it prints is a JSON object, with one access
      line per request;
    - a second server on the same port is refused with a clear message;
    - its processes end with it."""
    home = tmp_path / "home"
    env = {
        **os.environ,
        "PAPERFEED_HOME": str(home),
        "PAPERFEED_CONFIG": str(tmp_path / "none.toml"),
        "PAPERFEED_EMBEDDER": "none",
        "PAPERFEED_LOG_FORMAT": "json",
    }
    env.pop("PAPERFEED_DATABASE_URL", None)
    Cli({"PAPERFEED_HOME": str(home), "PAPERFEED_CONFIG": None, "PAPERFEED_EMBEDDER": "none"})(
        "import", "snapshot", data_dir / HEAD200, "--no-progress", "--no-index"
    )
    port, metrics_port = free_port(), free_port()
    server = _start(port, {**env, "PAPERFEED_METRICS_PORT": str(metrics_port)}, "--workers", "2")
    base = f"http://127.0.0.1:{port}"
    try:

        def listening() -> list[int]:  # both processes listening (each on its own socket)
            states = _proc_sockets(port)
            workers = [
                pid
                for pid in _children(server.pid)
                if any(states.get(inode) == "0A" for inode in _inodes(pid))
            ]
            return workers if len(workers) == 2 else []

        workers = wait_until(
            listening,
            within=90,
            every=0.2,
            what="two server processes did not start listening",
            gone=ended(server),
        )
        connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(BURST)]
        try:
            for conn in connections:
                conn.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            for conn in connections:
                assert conn.recv(64).startswith(b"HTTP/1.1 ")
            states = _proc_sockets(port)
            held = {
                pid: sum(states.get(inode) == "01" for inode in _inodes(pid)) for pid in workers
            }
            assert sum(held.values()) == BURST and all(held.values()), held
        finally:
            for conn in connections:
                conn.close()
        # Each request on a new connection (no keep-alive): the kernel spreads them.
        with http_client(base, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as c:
            for _ in range(REQUESTS):
                assert c.get("/healthz").status_code == 200
            assert c.get("/search", params={"q": "attention"}).status_code == 200
            assert c.get("/papers/2401.99999").status_code == 404
            assert c.get("/metrics").status_code == 404  # not on the public port
            scrape = c.get(f"http://127.0.0.1:{metrics_port}/metrics")
        # A second server on the port (without metrics: its own port would be taken first).
        second = _start(port, env, "--workers", "2")
        refused, _ = second.communicate(timeout=60)
        assert second.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}" in refused
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers), output
    assert scrape.status_code == 200, output
    samples = _samples(scrape.text)

    def value(name: str, **labels: str) -> float:
        return samples[(name, frozenset(labels.items()))]

    requests = "paperfeed_http_requests_total"
    assert value(requests, route="/healthz", method="GET", status="200") == REQUESTS
    assert value(requests, route="/", method="GET", status="200") == BURST  # both processes'
    assert value(requests, route="/search", method="GET", status="200") == 1
    assert (
        value("paperfeed_http_request_duration_seconds_count", route="/search", method="GET") == 1
    )
    # A 404 of a route is counted under its template, not under the path asked for.
    assert value(requests, route="/papers/{public_id:path}", method="GET", status="404") == 1
    assert value("paperfeed_search_stage_duration_seconds_count", stage="total") == 1
    assert value("paperfeed_search_stage_duration_seconds_count", stage="lexical") == 1
    assert value("paperfeed_catalog_up") == 1
    assert value("paperfeed_catalog_papers") == 200
    assert value("paperfeed_import_files", state="finished") == 1
    assert value("paperfeed_import_records", state="finished") == 200
    assert ("paperfeed_index_behind_papers", frozenset()) in samples

    entries = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(e["message"].startswith("paperfeed: metrics on http://127.0.0.1") for e in entries)
    access = [e for e in entries if e["logger"] == "paperfeed.access"]
    assert Counter((e["method"], e["path"], e["status"]) for e in access) == {
        ("GET", "/", 200): BURST,
        ("GET", "/healthz", 200): REQUESTS,
        ("GET", "/search", 200): 1,
        ("GET", "/papers/2401.99999", 404): 1,
        ("GET", "/metrics", 404): 1,
    }
    for entry in access:
        assert entry["client"] == "127.0.0.1" and entry["level"] == "info"
        assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
