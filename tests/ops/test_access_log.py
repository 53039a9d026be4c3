"""The access log: one line per request with time, client, method, path, status and duration;
text by default, JSON objects with PAPERFEED_LOG_FORMAT=json; secrets in paths and query
strings are not written."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paperfeed.ops.logs import ACCESS_LOGGER, TextFormatter
from paperfeed.runtime import Runtime
from tests.support.server import free_port, live_server

TEXT_LINE = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) INFO paperfeed\.access "
    r"(?P<client>\S+) (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms"
)


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    """What the access logger writes, formatted as `paperfeed serve` formats text."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger(ACCESS_LOGGER)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_one_text_line_per_request(runtime: Runtime, access_lines: io.StringIO) -> None:
    token = "s3cr3t-reset-token-value"
    with live_server(runtime) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/search", params={"q": "private words"}).status_code == 200
        assert client.get(f"/reset/{token}").status_code in (200, 400, 404)
        assert client.get("/no/such/page").status_code == 404
        assert client.post("/signin", content=b"x" * (1 << 17)).status_code == 413
    lines = access_lines.getvalue().splitlines()
    assert len(lines) == 5, lines
    found = [TEXT_LINE.fullmatch(line) for line in lines]
    assert all(found), lines
    rows = [m.groupdict() for m in found if m]
    assert [(r["method"], r["path"], r["status"]) for r in rows] == [
        ("GET", "/healthz", "200"),
        ("GET", "/search", "200"),
        ("GET", "/reset/[redacted]", rows[2]["status"]),
        ("GET", "/no/such/page", "404"),
        ("POST", "/signin", "413"),
    ]
    assert {r["client"] for r in rows} == {"127.0.0.1"}
    text = access_lines.getvalue()
    assert token not in text and "private" not in text


def test_access_log_can_be_turned_off(runtime: Runtime, access_lines: io.StringIO) -> None:
    quiet = Runtime(runtime.settings.model_copy(update={"access_log": False}))
    try:
        with live_server(quiet) as server:
            assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        quiet.close()
    assert access_lines.getvalue() == ""


def test_serve_writes_json_lines(tmp_path: Path) -> None:
    """`paperfeed serve` with PAPERFEED_LOG_FORMAT=json: every line it prints is a JSON object
    (its own messages, uvicorn's and the access log), one per request."""
    port = free_port()
    env = {
        **os.environ,
        "PAPERFEED_HOME": str(tmp_path / "home"),
        "PAPERFEED_CONFIG": str(tmp_path / "none.toml"),
        "PAPERFEED_EMBEDDER": "none",
        "PAPERFEED_LOG_FORMAT": "json",
    }
    env.pop("PAPERFEED_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "paperfeed serve did not answer"
                time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/nothing-here", timeout=5).status_code == 404
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    entries = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any("serving on" in e["message"] for e in entries), output
    access = [e for e in entries if e["logger"] == "paperfeed.access"]
    assert [(e["method"], e["path"], e["status"]) for e in access] == [
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 200),
        ("GET", "/nothing-here", 404),
    ]
    for entry in access:
        assert entry["client"] == "127.0.0.1" and entry["level"] == "info"
        assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
