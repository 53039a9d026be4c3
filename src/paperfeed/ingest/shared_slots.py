"""Blocks of lines to the parse workers, and their prepared rows back, through shared memory.

Through the process pool's pipe, a block of ~8 MB is copied four times on its way to a
worker (pickled, written into the pipe, read out of it in pieces, unpickled) and its rows,
~1.7 times the block's size, as often on the way back, much of it on the importer's thread,
which is also the database writer: ~3 s of CPU on a million records. Forked workers inherit
anonymous shared mappings, so the importer copies each block into a free slot, the worker
reads it there and writes the rows back into the same slot, and only a slot number and a
length cross the pipe. A block or a result that does not fit its slot (one enormous line)
goes through the pipe as before; so does everything where workers are spawned, not forked.
The slots live as long as the processes: a killed import leaves nothing behind."""

from __future__ import annotations

import mmap
from collections.abc import Sequence

from paperfeed.ingest import snapshot
from paperfeed.ingest.base import Rejection
from paperfeed.papers.bulk_load import PreparedRows

# A worker's answer: the rows (from `snapshot.prepare_chunk`, for a block sent by pipe), or
# the length of their marshal data in the block's slot; the rejections; the records read.
Prepared = tuple[PreparedRows | int, list[Rejection], int]

# Rows take ~1.7 times the size of their lines (text both raw and normalised).
_CAPACITY_PER_BLOCK_BYTE = 3
_MIN_CAPACITY = 1 << 20


class Slots:
    """A fixed set of shared buffers, created before the workers are forked."""

    def __init__(self, count: int, block_bytes: int) -> None:
        capacity = max(_MIN_CAPACITY, block_bytes * _CAPACITY_PER_BLOCK_BYTE)
        self.buffers: list[mmap.mmap] = [mmap.mmap(-1, capacity) for _ in range(count)]
        self.free = list(range(count))

    def put(self, block: bytes) -> int | None:
        """Copy `block` into a free slot; returns the slot's number, or None if it does not
        fit (or no slot is free)."""
        if not self.free or len(block) > len(self.buffers[self.free[-1]]):
            return None
        index = self.free.pop()
        self.buffers[index][: len(block)] = block
        return index

    def take(
        self, index: int | None, prepared: Prepared
    ) -> tuple[PreparedRows, list[Rejection], int]:
        """The worker's answer for the block in slot `index`, with the rows read from the
        slot when they were left there; frees the slot."""
        rows, rejections, records = prepared
        if index is not None:
            if isinstance(rows, int):
                with memoryview(self.buffers[index]) as view, view[:rows] as data:
                    rows = PreparedRows.loads(data)
            self.free.append(index)
        assert isinstance(rows, PreparedRows)
        return rows, rejections, records

    def close(self) -> None:
        for buffer in self.buffers:
            buffer.close()


# In a forked worker: the importer's slots, inherited.
_inherited: Sequence[mmap.mmap] = ()


def inherit(slots: Slots | None) -> None:
    """Worker initialiser: use the slots the importer created before forking."""
    global _inherited
    _inherited = slots.buffers if slots is not None else ()


def prepare_in_slot(name: str, first: int, index: int, length: int) -> Prepared:
    """Parse worker: `snapshot.prepare_chunk` on the block in slot `index`, writing the rows
    back into that slot when they fit."""
    buffer = _inherited[index]
    rows, rejections, records = snapshot.prepare_chunk(name, (first, buffer[:length]))
    data = rows.dumps()
    if len(data) > len(buffer):
        return rows, rejections, records
    buffer[: len(data)] = data
    return len(data), rejections, records
