"""The access log: one line per request with time, client, method, path, status and duration;
secrets in paths and query strings are not written. (JSON lines, PAPERFEED_LOG_FORMAT=json,
from a real `paperfeed serve`: tests/test_serve.py.)"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from paperfeed.ops.logs import ACCESS_LOGGER, TextFormatter
from paperfeed.runtime import Runtime
from tests.support.server import live_server

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


def test_one_text_line_per_request(lexical_runtime: Runtime, access_lines: io.StringIO) -> None:
    token = "s3cr3t-reset-token-value"
    with (
        live_server(lexical_runtime) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
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


def test_access_log_can_be_turned_off(lexical_runtime: Runtime, access_lines: io.StringIO) -> None:
    quiet = Runtime(lexical_runtime.settings.model_copy(update={"access_log": False}))
    try:
        with live_server(quiet) as server:
            assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        quiet.close()
    assert access_lines.getvalue() == ""
