"""Worker processes a paperfeed process forks for itself (snapshot parse workers, digest
section choosers)."""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int) -> None:
    """Called in a worker: it ends when process `parent` does. Killed (`kill -9`), a parent
    cannot shut its pool down, and its workers would wait for work forever."""
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
