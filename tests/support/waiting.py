"""Waiting for work that another process or thread does (a server to listen, a child import to
get part-way, a backend to queue on a lock). No clock of ours governs that work, so it cannot
be moved by hand the way `FrozenClock` moves the services' time: the tests poll for what they
wait for, with a deadline, in one way."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    *,
    within: float,
    what: str | Callable[[], str],
    every: float = 0.05,
    gone: Callable[[], str | None] | None = None,
) -> T:
    """Calls `condition` every `every` seconds until it returns something true, and returns
    that. Fails with `what` (or what it returns, when a function) after `within` seconds, or
    at once with the message `gone` returns (for example the output of a process that ended
    instead of doing what was awaited)."""
    deadline = time.monotonic() + within
    while True:
        found = condition()
        if found:
            return found
        if gone is not None and (why := gone()) is not None:
            raise AssertionError(why)
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"{said} (waited {within:g} s)")
        time.sleep(every)


def ended(process: subprocess.Popen[Any], message: str = "") -> Callable[[], str | None]:
    """For `gone`: a message (with the process's output when it was captured) once
    `process` (a subprocess.Popen) has exited."""

    def check() -> str | None:
        if process.poll() is None:
            return None
        output = process.stdout.read() if process.stdout is not None else ""
        return f"{message or 'the process ended'} (exit {process.returncode}): {output}"

    return check
