"""Runs an import: a format's records, in batches, into the catalog, each batch committed with
the checkpoint that covers it (an interrupted import resumes after its last batch), progress
reported to a callback, and a summary. A format that declares a bulk loader (the snapshot:
`paperfeed.ingest.snapshot_bulk`) has large files loaded by it instead."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from queue import Full, Queue
from typing import TYPE_CHECKING, BinaryIO, Protocol, TextIO

import sqlalchemy as sa

from paperfeed.clock import utcnow
from paperfeed.db.schema import import_checkpoints
from paperfeed.ingest.base import (
    CountingReader,
    InputFile,
    Item,
    Rejection,
    open_input,
)
from paperfeed.papers.catalog_writer import CatalogWriter, Outcome, UpsertResult
from paperfeed.papers.record import PaperRecord
from paperfeed.progress import Progress, ProgressEvent

if TYPE_CHECKING:
    from paperfeed.ingest.formats import ImportFormat


@dataclass
class ImportSummary:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    resumed_from: int = 0
    seconds: float = 0.0
    unmatched: list[str] = field(default_factory=list)
    # Why files were not read to their end (a cut gzip file, XML that cannot be read on):
    # their checkpoints stay unfinished, and `paperfeed import` exits non-zero.
    incomplete: list[str] = field(default_factory=list)

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
        self.incomplete.extend(other.incomplete)

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
            "incomplete": self.incomplete,
        }


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
    writer: CatalogWriter,
    records: list[PaperRecord],
    checkpoint: tuple[str | None, int] | None = None,
    after: Callable[[sa.Connection], None] | None = None,
) -> list[UpsertResult]:
    """One transaction: the upsert and, when given, the checkpoint that covers it and `after`
    (the harvester saves its resumption state there, so state and papers commit together)."""
    with engine.begin() as conn:
        results = writer.upsert(conn, records) if records else []
        key, done = checkpoint or (None, 0)
        if key is not None:
            save_checkpoint(conn, key, done, finished=False)
        if after is not None:
            after(conn)
    return results


def _checkpoint_key(fmt: str, path: Path, source: InputFile) -> str | None:
    """A file's checkpoint: None for standard input and pipes, which cannot be read again."""
    if source.size is None:
        return None
    stat = path.stat()
    return f"{fmt}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _load_checkpoint(engine: sa.Engine, key: str | None) -> tuple[int, bool]:
    if key is None:
        return 0, False
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(import_checkpoints.c.records_done, import_checkpoints.c.finished).where(
                import_checkpoints.c.key == key
            )
        ).first()
    return (int(row[0]), bool(row[1])) if row else (0, False)


def save_checkpoint(conn: sa.Connection, key: str, done: int, *, finished: bool) -> None:
    values = {"records_done": done, "finished": finished, "updated_at": utcnow()}
    updated = conn.execute(
        import_checkpoints.update().where(import_checkpoints.c.key == key).values(values)
    )
    if updated.rowcount == 0:
        conn.execute(import_checkpoints.insert().values(key=key, **values))


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


@dataclass
class FileImport:
    """One file's import under way: what the generic path and a bulk loader share."""

    path: Path
    key: str | None  # of the file's checkpoint (None: standard input or a pipe, none kept)
    skip: int  # records an interrupted earlier run committed
    counter: CountingReader  # bytes of the file read so far
    size: int | None  # bytes of the file (None: standard input or a pipe)
    progress: Progress | None
    log: TextIO
    summary: ImportSummary = field(default_factory=ImportSummary)
    started: float = field(default_factory=time.perf_counter)

    def reject(self, items: Sequence[object]) -> None:
        """Count and log the rejections among `items`."""
        for item in items:
            if isinstance(item, Rejection):
                self.summary.rejected += 1
                print(f"rejected {item.location}: {item.reason}", file=self.log)
                if item.unread:
                    self.summary.incomplete.append(f"{item.location}: {item.reason}")

    def report(self, position: int, *, finished: bool = False) -> None:
        """Progress after `position` records of the file (skipped ones included)."""
        if self.progress is None:
            return
        rate = (position - self.skip) / max(time.perf_counter() - self.started, 1e-9)
        self.progress(
            ProgressEvent(
                task=self.path.name,
                done=self.counter.count,
                total=self.size,
                unit="B",
                detail=f"{position:,} records, {rate:,.0f} rec/s",
                finished=finished,
            )
        )


class BulkLoader(Protocol):
    """A format's own path for large files (declared by the format, see `ImportFormat`)."""

    def applies(self, engine: sa.Engine, size: int | None) -> bool:
        """Whether a file of `size` bytes (None: a pipe), into this catalog, goes the bulk
        path."""
        ...

    def load(self, importer: Importer, job: FileImport, stream: BinaryIO) -> int:
        """Load the file after `job.skip` records, committing each batch with its checkpoint
        and reporting progress through `job`; returns the position reached."""
        ...


class Importer:
    """Imports files into the catalog, each by the path its format takes."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        writer: CatalogWriter | None = None,
        batch_size: int = 5000,
        progress: Progress | None = None,
        log: TextIO = sys.stderr,
        workers: int = 0,
    ) -> None:
        self.engine = engine
        self.writer = writer or CatalogWriter()
        self.batch_size = batch_size
        self.progress = progress
        self.log = log
        self.workers = workers  # a bulk loader's parse processes (0: the loader's choice)

    def import_file(self, spec: ImportFormat, path: Path) -> ImportSummary:
        """Import one file (`-`: standard input); resumes after the last committed batch of an
        interrupted run. A file not read to its end (`ImportSummary.incomplete`) keeps its
        checkpoint unfinished, so that a corrected file imports. FormatError when the file is
        not of the format at all, or empty."""
        started = time.perf_counter()
        source = open_input(path)
        with source.stream as stream:
            key = _checkpoint_key(spec.name, path, source)
            done, finished = _load_checkpoint(self.engine, key)
            skip = 0 if finished else done
            if skip:
                print(f"{path}: resuming after record {skip:,}", file=self.log)
            job = FileImport(
                path,
                key,
                skip,
                source.counter,
                source.size,
                self.progress,
                self.log,
                summary=ImportSummary(resumed_from=skip),
                started=started,
            )
            bulk = spec.bulk_loader()
            if bulk is not None and bulk.applies(self.engine, source.size):
                position = bulk.load(self, job, stream)
            else:
                position = self._import_records(spec, job, stream)
        broken = source.broken()
        if broken is not None:
            reason = f"{broken}; records after record {position:,} could not be read"
            print(f"{source.name}: {reason}", file=self.log)
            job.summary.incomplete.append(f"{source.name}: {reason}")
        if key is not None and not job.summary.incomplete:
            with self.engine.begin() as conn:
                save_checkpoint(conn, key, position, finished=True)
        _truncate_wal(self.engine)
        job.summary.seconds = time.perf_counter() - started
        return job.summary

    def _import_records(self, spec: ImportFormat, job: FileImport, stream: BinaryIO) -> int:
        """The generic path: the format's parser, batches written as they come."""
        parser = spec.parser()
        position = job.skip
        items = parser(stream, str(job.path), job.skip)
        for batch in prefetch(_batches(items, self.batch_size)):
            records = [item for item in batch if isinstance(item, PaperRecord)]
            job.reject(batch)
            # Where reading stopped short is no record done: a rerun reports it again.
            position += sum(not (isinstance(item, Rejection) and item.unread) for item in batch)
            results = write_batch(self.engine, self.writer, records, (job.key, position))
            job.summary.count(results)
            if spec.reading_list:
                # A reading-list entry that created a paper matched nothing in the catalog.
                job.summary.unmatched.extend(
                    r.record.title or r.record.key() for r in results if r.outcome is Outcome.NEW
                )
            job.report(position)
        job.report(position, finished=True)
        return position
