"""The allocator setting of bulk imports: freed large buffers are reused, not faulted in
again (measured in a fresh process, in minor page faults)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

# Rounds of ten 8 MiB buffers (the size of an import's blocks), allocated, written, freed.
_ROUNDS = """
import json, resource, sys
from paperfeed.ingest import allocator
kept = sys.argv[1] == "keep" and allocator.keep_freed_buffers()
faults = []
for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffers = [b"x" * (8 << 20) for _ in range(10)]
    del buffers
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"kept": kept, "faults": faults}))
"""


def _rounds(mode: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _ROUNDS, mode], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_freed_buffers_are_reused_while_kept() -> None:
    kept = _rounds("keep")
    if not kept["kept"]:
        pytest.skip("no glibc mallopt here")
    default = _rounds("default")
    pages = (10 * (8 << 20)) // 4096
    # By default every round maps and zero-fills its 80 MiB again; kept, only the first does.
    assert all(n > pages // 2 for n in default["faults"][1:])
    assert all(n < pages // 20 for n in kept["faults"][1:])


_RELEASE = """
import json
from paperfeed.ingest import allocator
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096
with allocator.bulk_buffers():
    buffers = [b"x" * (8 << 20) for _ in range(25)]
    del buffers
    kept = rss()
print(json.dumps({"kept": kept, "released": rss()}))
"""


def test_bulk_buffers_gives_the_memory_back_afterwards() -> None:
    if sys.platform != "linux":
        pytest.skip("reads /proc")
    out = subprocess.run(
        [sys.executable, "-c", _RELEASE], capture_output=True, text=True, check=True
    )
    rss = json.loads(out.stdout)
    if rss["kept"] < 150 << 20:
        pytest.skip("the allocator here returns freed buffers at once")
    assert rss["released"] < rss["kept"] - (150 << 20)
