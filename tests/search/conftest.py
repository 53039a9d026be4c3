"""One catalog with real arXiv records, indexed with the real embedding model, shared by the
search tests of a module (embedding takes a while)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from paperfeed.config import Settings
from paperfeed.ingest.formats import FORMATS
from paperfeed.ingest.runner import Importer
from paperfeed.runtime import Runtime
from tests.conftest import DATA, scratch_database


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, catalog_server: str | None
) -> Iterator[Runtime]:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    home = tmp_path_factory.mktemp("search-home")
    databases = ExitStack()
    url = databases.enter_context(scratch_database())
    runtime = Runtime(Settings(home=home, database_url=url))
    importer = Importer(runtime.engine)
    for name in (
        "arxiv_browse_testdata_kaggle_format.jsonl.gz",
        "kaggle_snapshot_head200.jsonl.gz",
    ):
        importer.import_file(FORMATS["snapshot"], DATA / "arxiv" / name)
    runtime.indexer().update()
    yield runtime
    runtime.close()
    databases.close()  # drops the PostgreSQL database


@pytest.fixture(scope="module")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")
