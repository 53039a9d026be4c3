"""The snapshot's bulk loader: the path a large snapshot file takes (declared by the format,
see `paperfeed.ingest.formats`). This process reads blocks of lines and writes; worker
processes, fed through shared memory, parse them into prepared rows in parallel; rows that
match nothing in the catalog are inserted in bulk, the rest merged as usual. Into an empty
SQLite catalog it writes with a rollback journal and builds the secondary indexes once at the
end. Each batch commits with its checkpoint, as on the generic path."""

from __future__ import annotations

import contextlib
import gc
import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import BinaryIO

import sqlalchemy as sa

from paperfeed.db import deferred_indexes
from paperfeed.db.engine import rollback_journal
from paperfeed.ingest import allocator, shared_slots, snapshot
from paperfeed.ingest.runner import FileImport, Importer, save_checkpoint
from paperfeed.papers.bulk_load import PreparedRows, insert_prepared
from paperfeed.papers.catalog_writer import CatalogWriter, UpsertResult
from paperfeed.workers import exit_with_parent

# Files smaller than this take the generic path, parsed in the importer's own process
# (starting workers costs about a second).
PARALLEL_MIN_BYTES = 8 << 20


def parse_workers(configured: int = 0) -> int:
    """Parse worker processes: one per CPU (the writer mostly waits on the database, which
    releases the GIL), at most four; `configured` (> 0) overrides."""
    if configured > 0:
        return configured
    return max(1, min(4, os.cpu_count() or 1))


def write_prepared_batch(
    engine: sa.Engine,
    writer: CatalogWriter,
    rows: PreparedRows,
    block: bytes,
    checkpoint: tuple[str | None, int],
) -> tuple[int, list[UpsertResult]]:
    """`runner.write_batch` for prepared snapshot rows: new papers go straight in, rows that
    match the catalog are parsed again here from their lines in `block` and merged. Returns
    (new papers, merge results)."""
    with engine.begin() as conn:
        rest = insert_prepared(conn, rows, now=writer.clock()) if rows else []
        lines = snapshot.chunk_lines(block) if rest else []
        records = [snapshot.record_from_line(lines[rows.origins[i]]) for i in rest]
        results = writer.upsert(conn, records) if records else []
        key, done = checkpoint
        if key is not None:
            save_checkpoint(conn, key, done, finished=False)
    return len(rows) - len(rest), results


@contextlib.contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """A bulk import allocates millions of short-lived, acyclic objects; the default gen-0
    threshold (700) runs the cycle collector thousands of times for nothing."""
    old = gc.get_threshold()
    gc.set_threshold(50_000, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _worker_init(importer: int, slots: shared_slots.Slots) -> None:
    gc.set_threshold(50_000, *gc.get_threshold()[1:])
    shared_slots.inherit(slots)
    allocator.keep_freed_buffers()  # inherited when forked; spawned workers need it set
    exit_with_parent(importer)  # a parse worker must not outlive its importer


def _worker_context() -> multiprocessing.context.BaseContext:
    # Fork where there is one: workers start at once and need no importable __main__ (the
    # importer may run inside any script). They only parse; they never touch the database.
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _load_engine(importer: Importer) -> Iterator[sa.Engine]:
    """The engine to load with. Into an empty SQLite catalog: one that writes pages once
    (see `rollback_journal`), with the secondary indexes built once at the end."""
    engine = importer.engine
    if engine.dialect.name != "sqlite" or not deferred_indexes.catalog_is_empty(engine):
        yield engine
        return
    with rollback_journal(engine) as writer, deferred_indexes.deferred(writer):
        try:
            yield writer
        finally:
            print("building catalog indexes...", file=importer.log)


class SnapshotBulkLoader:
    """The snapshot format's `BulkLoader`."""

    def applies(self, engine: sa.Engine, size: int | None) -> bool:
        return (
            engine.dialect.name in ("sqlite", "postgresql")
            and size is not None
            and size >= PARALLEL_MIN_BYTES
        )

    def load(self, importer: Importer, job: FileImport, stream: BinaryIO) -> int:
        with _load_engine(importer) as engine:
            position = _load_parallel(importer, engine, job, stream)
            job.report(position, finished=True)
        return position


LOADER = SnapshotBulkLoader()


def _load_parallel(importer: Importer, engine: sa.Engine, job: FileImport, stream: BinaryIO) -> int:
    """Results are consumed in file order, and at most a few blocks are in flight (memory
    stays flat)."""
    name = str(job.path)
    workers = parse_workers(importer.workers)
    chunks = snapshot.line_blocks(stream, name, job.skip, importer.batch_size)
    first = next(chunks, None)
    if first is None:
        return job.skip
    chunks = itertools.chain([first], chunks)
    in_flight = workers * 2 + 1
    context = _worker_context()
    # Forked workers share the importer's memory maps; spawned ones get blocks by pipe.
    slots = shared_slots.Slots(
        in_flight if context.get_start_method() == "fork" else 0, len(first[1])
    )
    position = job.skip
    with (
        contextlib.closing(slots),
        _fewer_gc_passes(),
        allocator.bulk_buffers(),
        ProcessPoolExecutor(
            workers,
            mp_context=context,
            initializer=_worker_init,
            initargs=(os.getpid(), slots),
        ) as pool,
    ):
        pending: deque[tuple[bytes, int | None, Future[shared_slots.Prepared]]] = deque()

        def submit() -> None:
            chunk = next(chunks, None)
            if chunk is None:
                return
            first_line, block = chunk
            index = slots.put(block)
            future: Future[shared_slots.Prepared] = (
                pool.submit(snapshot.prepare_chunk, name, chunk)
                if index is None
                else pool.submit(shared_slots.prepare_in_slot, name, first_line, index, len(block))
            )
            pending.append((block, index, future))

        for _ in range(in_flight):
            submit()
        while pending:
            block, index, future = pending.popleft()
            rows, rejections, records = slots.take(index, future.result())
            submit()
            job.reject(rejections)
            position += records
            new, results = write_prepared_batch(
                engine, importer.writer, rows, block, (job.key, position)
            )
            job.summary.new += new
            job.summary.count(results)
            job.report(position)
    return position
