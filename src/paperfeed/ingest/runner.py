"""Runs an import: batches into the catalog, checkpoints for resume, progress and summary."""

from __future__ import annotations

import contextlib
import gc
import itertools
import multiprocessing
import os
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Full, Queue
from typing import Any, BinaryIO, TextIO

import sqlalchemy as sa
from tqdm import tqdm

from paperfeed.clock import utcnow
from paperfeed.db import deferred_indexes
from paperfeed.db.engine import rollback_journal
from paperfeed.db.schema import import_checkpoints
from paperfeed.ingest import allocator, shared_slots, snapshot
from paperfeed.ingest.base import CountingReader, Item, Parser, Rejection, open_input
from paperfeed.papers.catalog import Catalog, Outcome, PreparedRows, UpsertResult
from paperfeed.papers.record import PaperRecord


@dataclass
class ImportSummary:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    resumed_from: int = 0
    seconds: float = 0.0
    unmatched: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return self.new + self.updated + self.unchanged + self.rejected

    def add(self, other: ImportSummary) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected
        self.resumed_from += other.resumed_from
        self.seconds += other.seconds
        self.unmatched.extend(other.unmatched)

    def count(self, results: Iterable[UpsertResult]) -> None:
        for result in results:
            if result.outcome is Outcome.NEW:
                self.new += 1
            elif result.outcome is Outcome.UPDATED:
                self.updated += 1
            else:
                self.unchanged += 1

    def line(self) -> str:
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        return (
            f"new {self.new:,}, updated {self.updated:,}, unchanged {self.unchanged:,}, "
            f"rejected {self.rejected:,} ({self.records:,} records in {self.seconds:.1f} s, "
            f"{rate:,.0f}/s)"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "records": self.records,
            "seconds": round(self.seconds, 3),
            "resumed_from": self.resumed_from,
            "unmatched": self.unmatched,
        }


# Called after each committed batch: (records, results) -> None. The search index hooks here.
BatchHook = Callable[[list[UpsertResult]], None]


def _batches(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


_DONE = object()


def prefetch(batches: Iterator[list[Item]], depth: int = 2) -> Iterator[list[Item]]:
    """Parse ahead in a thread while the caller writes: SQLite and zlib release the GIL, so
    parsing and writing overlap. At most `depth` batches wait, which keeps memory bounded."""
    queue: Queue[object] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        queue.put(batch, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            queue.put(exc)

    worker = threading.Thread(target=produce, name="paperfeed-parse", daemon=True)
    worker.start()
    try:
        while True:
            item = queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=5)


def write_batch(
    engine: sa.Engine,
    catalog: Catalog,
    records: list[PaperRecord],
    checkpoint: tuple[str, int] | None = None,
    after: Callable[[sa.Connection], None] | None = None,
) -> list[UpsertResult]:
    """One transaction: the upsert and, when given, the checkpoint that covers it and `after`
    (the harvester saves its resumption state there, so state and papers commit together)."""
    with engine.begin() as conn:
        results = catalog.upsert(conn, records) if records else []
        if checkpoint is not None:
            key, done = checkpoint
            _save_checkpoint(conn, key, done, finished=False)
        if after is not None:
            after(conn)
    return results


def write_prepared_batch(
    engine: sa.Engine,
    catalog: Catalog,
    rows: PreparedRows,
    block: bytes,
    checkpoint: tuple[str, int],
) -> tuple[int, list[UpsertResult]]:
    """`write_batch` for prepared snapshot rows: new papers go straight in, rows that
    match the catalog are parsed again here from their lines in `block` and merged. Returns
    (new papers, merge results)."""
    with engine.begin() as conn:
        rest = catalog.insert_prepared(conn, rows) if rows else []
        lines = snapshot.chunk_lines(block) if rest else []
        records = [snapshot.record_from_line(lines[rows.origins[i]]) for i in rest]
        results = catalog.upsert(conn, records) if records else []
        key, done = checkpoint
        _save_checkpoint(conn, key, done, finished=False)
    return len(rows) - len(rest), results


# Files smaller than this are parsed in the importer's own process (starting workers costs
# about a second).
PARALLEL_MIN_BYTES = 8 << 20


def parse_workers(configured: int = 0) -> int:
    """Parse worker processes for the bulk path: one per CPU (the writer mostly waits on
    SQLite, which releases the GIL), at most four; `configured` (> 0) overrides."""
    if configured > 0:
        return configured
    return max(1, min(4, os.cpu_count() or 1))


def _truncate_wal(engine: sa.Engine) -> None:
    """Copy the WAL into the database and empty it, so a finished import leaves no large
    -wal file (readers still holding old pages make this a partial checkpoint: harmless)."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()  # outside a transaction (the engine begins IMMEDIATE)
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    except sqlite3.OperationalError:
        pass  # busy: the next writer's checkpoints catch up
    finally:
        raw.close()


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
    threading.Thread(target=_exit_with, args=(importer,), daemon=True).start()


def _exit_with(importer: int) -> None:
    """A parse worker must not outlive its importer: killed (`kill -9`), the importer cannot
    shut its pool down, and the workers would wait for work forever."""
    while os.getppid() == importer:
        time.sleep(0.5)
    os._exit(1)


def _worker_context() -> multiprocessing.context.BaseContext:
    # Fork where there is one: workers start at once and need no importable __main__ (the
    # importer may run inside any script). They only parse; they never touch the database.
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _checkpoint_key(fmt: str, path: Path) -> str:
    stat = path.stat()
    return f"{fmt}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _load_checkpoint(engine: sa.Engine, key: str) -> tuple[int, bool]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(import_checkpoints.c.records_done, import_checkpoints.c.finished).where(
                import_checkpoints.c.key == key
            )
        ).first()
    return (int(row[0]), bool(row[1])) if row else (0, False)


def _save_checkpoint(conn: sa.Connection, key: str, done: int, *, finished: bool) -> None:
    values = {"records_done": done, "finished": finished, "updated_at": utcnow()}
    updated = conn.execute(
        import_checkpoints.update().where(import_checkpoints.c.key == key).values(values)
    )
    if updated.rowcount == 0:
        conn.execute(import_checkpoints.insert().values(key=key, **values))


def _show_progress(
    bar: tqdm[Any], counter: CountingReader, position: int, skip: int, started: float
) -> None:
    bar.update(counter.count - bar.n)
    rate = (position - skip) / max(time.perf_counter() - started, 1e-9)
    bar.set_postfix_str(f"{position:,} records, {rate:,.0f} rec/s", refresh=False)


class Importer:
    """Imports files of one format into the catalog."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        batch_size: int = 5000,
        progress: bool = True,
        log: TextIO = sys.stderr,
        on_batch: BatchHook | None = None,
        workers: int = 0,
    ) -> None:
        self.engine = engine
        self.workers = parse_workers(workers)
        self.catalog = Catalog(engine)
        self.batch_size = batch_size
        self.progress = progress
        self.log = log
        self.on_batch = on_batch

    def import_file(
        self,
        fmt: str,
        parser: Parser,
        path: Path,
        *,
        report_unmatched: bool = False,
    ) -> ImportSummary:
        """Import one file; resumes after the last committed batch of an interrupted run."""
        key = _checkpoint_key(fmt, path)
        done, finished = _load_checkpoint(self.engine, key)
        skip = 0 if finished else done
        summary = ImportSummary(resumed_from=skip)
        if skip:
            print(f"{path}: resuming after record {skip:,}", file=self.log)
        started = time.perf_counter()
        stream, counter = open_input(path)
        total = path.stat().st_size
        if (
            parser is snapshot.parse
            and self.engine.dialect.name in ("sqlite", "postgresql")
            and self.on_batch is None
            and not report_unmatched
            and total >= PARALLEL_MIN_BYTES
        ):
            with stream, self._bulk_load() as writer:
                position = self._import_snapshot_parallel(
                    writer, stream, counter, path, key, skip, summary, started
                )
            return self._finish(key, position, summary, started)
        with stream, self._progress_bar(path) as bar:
            position = skip
            for batch in prefetch(_batches(parser(stream, str(path), skip), self.batch_size)):
                records = [item for item in batch if isinstance(item, PaperRecord)]
                self._report_rejections(batch, summary)
                position += len(batch)
                results = write_batch(self.engine, self.catalog, records, (key, position))
                summary.count(results)
                if report_unmatched:
                    # A reading-list entry that created a paper matched nothing in the catalog.
                    summary.unmatched.extend(
                        r.record.title or r.record.key()
                        for r in results
                        if r.outcome is Outcome.NEW
                    )
                if self.on_batch is not None and results:
                    self.on_batch(results)
                _show_progress(bar, counter, position, skip, started)
        return self._finish(key, position, summary, started)

    @contextlib.contextmanager
    def _bulk_load(self) -> Iterator[sa.Engine]:
        """The engine to load with. Into an empty SQLite catalog: one that writes pages once
        (see `rollback_journal`), with the secondary indexes built once at the end."""
        if self.engine.dialect.name != "sqlite" or not deferred_indexes.catalog_is_empty(
            self.engine
        ):
            yield self.engine
            return
        with rollback_journal(self.engine) as writer, deferred_indexes.deferred(writer):
            try:
                yield writer
            finally:
                print("building catalog indexes...", file=self.log)

    def _finish(
        self, key: str, position: int, summary: ImportSummary, started: float
    ) -> ImportSummary:
        with self.engine.begin() as conn:
            _save_checkpoint(conn, key, position, finished=True)
        _truncate_wal(self.engine)
        summary.seconds = time.perf_counter() - started
        return summary

    def _progress_bar(self, path: Path) -> tqdm[Any]:
        return tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            desc=path.name,
            disable=not self.progress,
            file=self.log,
            dynamic_ncols=True,
        )

    def _report_rejections(self, items: Sequence[object], summary: ImportSummary) -> None:
        for item in items:
            if isinstance(item, Rejection):
                summary.rejected += 1
                print(f"rejected {item.location}: {item.reason}", file=self.log)

    def _import_snapshot_parallel(
        self,
        writer: sa.Engine,
        stream: BinaryIO,
        counter: CountingReader,
        path: Path,
        key: str,
        skip: int,
        summary: ImportSummary,
        started: float,
    ) -> int:
        """The snapshot bulk path: this process reads blocks of lines and writes; worker
        processes parse (JSON, normalisation, the row and its hash) in parallel. Results are
        consumed in file order, and at most a few blocks are in flight (memory stays flat)."""
        name = str(path)
        workers = self.workers
        chunks = snapshot.line_blocks(stream, name, skip, self.batch_size)
        first = next(chunks, None)
        if first is None:
            return skip
        chunks = itertools.chain([first], chunks)
        in_flight = workers * 2 + 1
        context = _worker_context()
        # Forked workers share the importer's memory maps; spawned ones get blocks by pipe.
        slots = shared_slots.Slots(
            in_flight if context.get_start_method() == "fork" else 0, len(first[1])
        )
        position = skip
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
            self._progress_bar(path) as bar,
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
                    else pool.submit(
                        shared_slots.prepare_in_slot, name, first_line, index, len(block)
                    )
                )
                pending.append((block, index, future))

            for _ in range(in_flight):
                submit()
            while pending:
                block, index, future = pending.popleft()
                rows, rejections, records = slots.take(index, future.result())
                submit()
                self._report_rejections(rejections, summary)
                position += records
                new, results = write_prepared_batch(
                    writer, self.catalog, rows, block, (key, position)
                )
                summary.new += new
                summary.count(results)
                _show_progress(bar, counter, position, skip, started)
        return position
