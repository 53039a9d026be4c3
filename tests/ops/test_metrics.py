"""Prometheus metrics: `paperfeed serve --workers 2` with PAPERFEED_METRICS_PORT adds up the
counts of both processes on the metrics port (and not on the public one); search stages and
mail are counted; imports and the index lag are read from the catalog. The same server run
(starting two server processes takes seconds) checks PAPERFEED_LOG_FORMAT=json: every line
it prints is a JSON object, with one access line per request."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from paperfeed.mail.service import MailError, compose
from paperfeed.runtime import Runtime
from tests.support.cli import HEAD200, Cli
from tests.support.server import free_port
from tests.support.waiting import ended, wait_until

REQUESTS = 40


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_serve_with_two_workers_counts_and_logs_json(tmp_path: Path, data_dir: Path) -> None:
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
    env["PAPERFEED_METRICS_PORT"] = str(metrics_port)
    process = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        answered = 0

        def answer_all() -> bool:
            nonlocal answered
            try:
                while answered < REQUESTS:  # each on a new connection: the kernel spreads them
                    assert httpx.get(f"{base}/healthz", timeout=2).status_code == 200
                    answered += 1
            except httpx.TransportError:
                return False
            return True

        wait_until(
            answer_all,
            within=90,
            every=0.2,
            what="paperfeed serve did not answer",
            gone=ended(process),
        )
        assert httpx.get(f"{base}/search", params={"q": "attention"}).status_code == 200
        assert httpx.get(f"{base}/papers/2401.99999").status_code == 404
        assert httpx.get(f"{base}/metrics").status_code == 404  # not on the public port
        scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=60)
    assert scrape.status_code == 200, output
    samples = _samples(scrape.text)

    def value(name: str, **labels: str) -> float:
        return samples[(name, frozenset(labels.items()))]

    assert (
        value("paperfeed_http_requests_total", route="/healthz", method="GET", status="200")
        == REQUESTS
    )
    assert value("paperfeed_http_requests_total", route="/search", method="GET", status="200") == 1
    assert (
        value("paperfeed_http_request_duration_seconds_count", route="/search", method="GET") == 1
    )
    # A 404 of a route is counted under its template, not under the path asked for.
    assert (
        value(
            "paperfeed_http_requests_total",
            route="/papers/{public_id:path}",
            method="GET",
            status="404",
        )
        == 1
    )
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
        ("GET", "/healthz", 200): REQUESTS,
        ("GET", "/search", 200): 1,
        ("GET", "/papers/2401.99999", 404): 1,
        ("GET", "/metrics", 404): 1,
    }
    for entry in access:
        assert entry["client"] == "127.0.0.1" and entry["level"] == "info"
        assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_search_stages_and_mail_are_counted(lexical_runtime: Runtime) -> None:
    runtime = lexical_runtime
    counted = Runtime(
        runtime.settings.model_copy(
            update={"metrics_port": free_port(), "embedder": "none", "smtp_host": None}
        )
    )
    try:
        total = _count("paperfeed_search_stage_duration_seconds_count", stage="total")
        lexical = _count("paperfeed_search_stage_duration_seconds_count", stage="lexical")
        counted.search.search("graph neural networks", mode="lexical")
        assert _count("paperfeed_search_stage_duration_seconds_count", stage="total") == total + 1
        assert (
            _count("paperfeed_search_stage_duration_seconds_count", stage="lexical") == lexical + 1
        )

        sent = _count("paperfeed_mail_messages_total", outcome="sent")
        counted.mailer.send(compose("a@example.org", "b@example.org", "hello", "text"))
        assert _count("paperfeed_mail_messages_total", outcome="sent") == sent + 1
    finally:
        counted.close()
    failing = Runtime(
        runtime.settings.model_copy(
            update={"metrics_port": free_port(), "smtp_host": "127.0.0.1", "smtp_port": free_port()}
        )
    )
    try:
        failed = _count("paperfeed_mail_messages_total", outcome="failed")
        with pytest.raises(MailError):
            failing.mailer.send(compose("a@example.org", "b@example.org", "hello", "text"))
        assert _count("paperfeed_mail_messages_total", outcome="failed") == failed + 1
    finally:
        failing.close()
