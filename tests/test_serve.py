"""`paperfeed serve` as a user runs it: a fresh data directory, offline, an empty catalog."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.server import free_port


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
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "paperfeed serve did not answer"
                time.sleep(0.2)
        assert response.status_code == 200
        assert "No papers on this list yet" in response.text
        assert "paperfeed import hf-daily" in response.text
        docs = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5)
        assert docs.json()["info"]["title"] == "paperfeed"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "the catalog is empty" in output
    assert "paperfeed import" in output
    assert f"serving on http://127.0.0.1:{port}/" in output
    if database_url is None:  # the embedded default: the SQLite catalog lives in home
        assert (tmp_path / "home" / "catalog.sqlite3").is_file()
