"""Paths shared by the benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """`$PAPERFEED_SHARED/data`, else `../shared/data` beside the repository (as in the tests)."""
    shared = Path(os.environ.get("PAPERFEED_SHARED") or REPO.parent / "shared")
    return shared / "data"


def cache_dir() -> Path:
    """Generated inputs: `$PAPERFEED_BENCH_CACHE`, else ~/.cache/paperfeed-bench."""
    base = os.environ.get("PAPERFEED_BENCH_CACHE") or (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paperfeed-bench"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path
