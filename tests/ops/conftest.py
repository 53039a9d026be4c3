from __future__ import annotations

from collections.abc import Iterator

import pytest

from paperfeed.config import Settings
from paperfeed.runtime import Runtime


@pytest.fixture
def lexical_runtime(settings: Settings) -> Iterator[Runtime]:
    """The test's runtime without an embedding model (words only): nothing to load."""
    runtime = Runtime(settings.model_copy(update={"embedder": "none"}))
    yield runtime
    runtime.close()
