"""How long work reports where it stands: services call a `Progress` callback with
`ProgressEvent`s and draw nothing; the CLI draws them (cli/progress.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Where a long task (one file's import, one set's harvest, an index stage) stands.
    Services report these to a `Progress` callback and draw nothing themselves; the CLI draws
    them as bars."""

    task: str  # what is being worked through: a file's name, an OAI set
    done: int  # units done so far
    total: int | None  # units in all, when known
    unit: str  # "B": bytes of the file read; "rec": records; "papers"
    detail: str = ""  # e.g. "12,000 records, 9,000 rec/s"
    finished: bool = False  # the task's last report


Progress = Callable[[ProgressEvent], None]
