"""Progress bars: the CLI draws the `ProgressEvent`s that services report (services draw
nothing themselves)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TextIO

from tqdm import tqdm

from paperfeed.progress import Progress, ProgressEvent


class ProgressBars:
    """A `Progress` callback that draws one tqdm bar per task, closed at the task's last
    report (or when the bars are closed). Use as a context manager."""

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file  # None: sys.stderr as it is when a bar starts
        self._bars: dict[str, tqdm[Any]] = {}

    def __call__(self, event: ProgressEvent) -> None:
        bar = self._bars.get(event.task)
        if bar is None:
            bar = self._bars[event.task] = tqdm(
                total=event.total,
                unit=event.unit if event.unit == "B" else f" {event.unit}",
                unit_scale=event.unit == "B",
                desc=event.task,
                file=self.file or sys.stderr,
                dynamic_ncols=True,
            )
        elif event.total is not None and bar.total != event.total:
            bar.total = event.total
        bar.update(event.done - bar.n)
        if event.detail:
            bar.set_postfix_str(event.detail, refresh=False)
        if event.finished:
            bar.close()
            del self._bars[event.task]

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Progress | None]:
    """Bars drawing a service's progress (None when not `enabled`), closed at the end."""
    if not enabled:
        yield None
        return
    with ProgressBars() as bars:
        yield bars
