"""`paperfeed serve` as a user runs it: a fresh data directory, offline, an empty catalog."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port
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
    process = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def answer() -> httpx.Response | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            except httpx.TransportError:
                return None

        response = wait_until(
            answer, within=60, every=0.2, what="paperfeed serve did not answer", gone=ended(process)
        )
        assert response.status_code == 200
        assert "No papers on this list yet" in response.text
        # The page is for whoever reads it (the commands are in the terminal, below).
        assert "an administrator can also import" in response.text
        assert "paperfeed import" not in response.text
        docs = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5)
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
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
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


def _start(tmp_path: Path, port: int, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PAPERFEED_HOME": str(tmp_path / "home"),
        "PAPERFEED_CONFIG": str(tmp_path / "none.toml"),
        "PAPERFEED_EMBEDDER": "none",
    }
    env.pop("PAPERFEED_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_each_listen_and_share_a_burst_of_connections(tmp_path: Path) -> None:
    """With --workers 2, 16 keep-alive connections opened at once are spread over both
    processes (one shared socket let the first process to wake accept them all), and a second
    server on the same port is refused with a clear message."""
    port = free_port()
    server = _start(tmp_path, port, "--workers", "2")
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
        connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        try:
            for conn in connections:
                conn.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            for conn in connections:
                assert conn.recv(64).startswith(b"HTTP/1.1 ")
            states = _proc_sockets(port)
            held = {
                pid: sum(states.get(inode) == "01" for inode in _inodes(pid)) for pid in workers
            }
            assert sum(held.values()) == 16 and all(held.values()), held
        finally:
            for conn in connections:
                conn.close()
        second = _start(tmp_path, port, "--workers", "2")
        output, _ = second.communicate(timeout=60)
        assert second.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}" in output
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers), output
