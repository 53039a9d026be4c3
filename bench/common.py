"""Paths and data shared by the benchmarks."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

from paperfeed.ingest.formats import FORMATS
from paperfeed.papers.record import PaperRecord

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


def oaipmh_files() -> list[Path]:
    """The 51,693 real OAI-PMH records of 2017Q1, as the shared data's pages."""
    return sorted((shared_data_dir() / "arxiv" / "oaipmh_oai_dc_2017Q1").glob("*.xml.gz"))


def oaipmh_records() -> Iterator[PaperRecord]:
    """Those records parsed by the importer's own OAI-PMH parser (deleted records skipped)."""
    parse = FORMATS["oai-pmh"].parser()
    for path in oaipmh_files():
        with gzip.open(path) as stream:
            for item in parse(cast(BinaryIO, stream), path.name):
                if isinstance(item, PaperRecord):
                    yield item
