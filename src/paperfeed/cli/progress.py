"""Progress bars on stderr for services that report progress through a callback
(`paperfeed.search.indexer.Progress`: stage, done, total); the services draw nothing."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from paperfeed.search.indexer import Progress


class Bars:
    """One tqdm bar per stage, drawn as the stage reports."""

    def __init__(self) -> None:
        self.bars: dict[str, tqdm[Any]] = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        bar = self.bars.get(stage)
        if bar is None:
            bar = tqdm(total=total, desc=stage, unit=" papers", file=sys.stderr, dynamic_ncols=True)
            self.bars[stage] = bar
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Progress | None]:
    """A progress callback drawing bars (None when not `enabled`), closed at the end."""
    if not enabled:
        yield None
        return
    bars = Bars()
    try:
        yield bars
    finally:
        bars.close()
