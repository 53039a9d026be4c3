"""The C allocator, set for a bulk import's large, short-lived buffers.

A snapshot import moves every record through megabyte-sized buffers: blocks of lines to the
parse workers and rows back, each allocated, filled once and freed. glibc's malloc gives
every freed buffer above its mmap threshold (at most 32 MiB) back to the kernel, and trims
the top of its heap whenever more than twice that is free, so the next buffer is mapped and
zero-filled again page by page: 1.4 million page faults in the importer and as many in the
workers on a million records, about 6% of the import's CPU time. Raising both thresholds
for the import keeps those pages for reuse. Where there is no glibc (`mallopt` missing),
nothing changes."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
from collections.abc import Iterator

# mallopt(3) parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# Buffers up to this size come from the heap (the import's blocks are ~8 MB; a block
# stretched by one enormous line may be larger, and is then mapped as before).
_BULK_MMAP_THRESHOLD = 256 << 20
_BULK_TRIM_THRESHOLD = 1 << 30
# Afterwards: the largest thresholds glibc's own adjustment would reach on 64-bit systems.
_AFTER_MMAP_THRESHOLD = 32 << 20
_AFTER_TRIM_THRESHOLD = 64 << 20


@functools.cache  # find_library runs ldconfig; once per process is enough
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def keep_freed_buffers() -> bool:
    """Let freed large buffers stay in this process for reuse (a forked worker inherits
    the setting). Returns whether the allocator took it."""
    libc = _libc()
    if libc is None:
        return False
    return bool(
        libc.mallopt(_M_MMAP_THRESHOLD, _BULK_MMAP_THRESHOLD)
        and libc.mallopt(_M_TRIM_THRESHOLD, _BULK_TRIM_THRESHOLD)
    )


def release_freed_buffers() -> None:
    """Give the memory kept by `keep_freed_buffers` back to the system."""
    libc = _libc()
    if libc is None:
        return
    libc.mallopt(_M_MMAP_THRESHOLD, _AFTER_MMAP_THRESHOLD)
    libc.mallopt(_M_TRIM_THRESHOLD, _AFTER_TRIM_THRESHOLD)
    libc.malloc_trim(0)


@contextlib.contextmanager
def bulk_buffers() -> Iterator[None]:
    """`keep_freed_buffers` for the duration of a bulk import."""
    kept = keep_freed_buffers()
    try:
        yield
    finally:
        if kept:
            release_freed_buffers()
