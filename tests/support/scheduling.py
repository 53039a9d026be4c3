"""How pytest-xdist shares the tests out (`pytest -n N --dist loadfile`, scripts/test).

A file's tests go to one worker, so its module fixtures (an indexed catalog, a browser,
server processes) are built once; but the tests marked `slow` (minutes each) go out one by
one, first, so that two of them in one file run on two workers at once instead of one after
the other at the end of the run. (xdist's own `xdist_group` mark would do it, but with pytest
9.2 it is ignored: xdist renames `item._nodeid`, which pytest no longer reads.)

The controller process collects nothing, so the workers tell it which tests are slow: each
writes their ids to a file in the run's temporary directory while collecting, before it
reports its collection; the controller schedules only once every worker has reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from xdist.scheduler import LoadFileScheduling

SLOW_IDS = "slow-tests.txt"


def tell_controller(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a worker: writes the ids of the slow tests where the controller reads them."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not config.option.basetemp:
        return
    folder = Path(config.option.basetemp).parent  # the controller's basetemp
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{SLOW_IDS}.{worker}"
    ids = [item.nodeid for item in items if item.get_closest_marker("slow")]
    partial.write_text("".join(f"{nodeid}\n" for nodeid in ids))
    os.replace(partial, folder / SLOW_IDS)


class SlowApartScheduling(LoadFileScheduling):
    """`--dist loadfile`, except that each slow test is a unit of its own."""

    def __init__(self, config: pytest.Config, log: object = None) -> None:
        super().__init__(config, log)  # type: ignore[arg-type]
        self._slow: set[str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._slow is None:
            path = self.config._tmp_path_factory.getbasetemp() / SLOW_IDS  # as xdist does
            self._slow = set(path.read_text().split("\n")) - {""} if path.exists() else set()
        return nodeid if nodeid in self._slow else super()._split_scope(nodeid)
