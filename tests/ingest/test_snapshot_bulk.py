"""The snapshot bulk path (parse worker processes, prepared rows) gives exactly the
catalog that the in-process path gives, including duplicates, updates, rejections, re-imports
and merges into papers without an arXiv id."""

import contextlib
import gzip
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.db.schema import paper_categories, papers
from paperfeed.ingest import shared_slots, snapshot, snapshot_bulk
from paperfeed.ingest.formats import FORMATS
from paperfeed.ingest.runner import Importer, ImportSummary, write_batch
from paperfeed.papers.bulk_load import PreparedRows
from paperfeed.papers.record import PaperRecord
from paperfeed.progress import ProgressEvent
from paperfeed.runtime import Runtime
from tests.conftest import scratch_database


def _sample(data_dir: Path) -> Path:
    return data_dir / "arxiv/kaggle_snapshot_head200.jsonl.gz"


BOOKKEEPING = {"first_seen_at", "modified_at"}


def _tricky_file(data_dir: Path, tmp_path: Path) -> Path:
    lines = gzip.decompress(_sample(data_dir).read_bytes()).splitlines()
    revised = []
    for line in lines[:40]:
        obj = orjson.loads(line)
        obj["title"] += " (revised)"
        obj["update_date"] = "2031-01-01"
        revised.append(orjson.dumps(obj))
    older = []
    for line in lines[40:60]:
        obj = orjson.loads(line)
        obj["abstract"] = "An older abstract."
        obj["update_date"] = "1990-01-01"
        older.append(orjson.dumps(obj))
    body = [*lines[:120], b"", *revised, b"{not json", *older, *lines[100:200], b'{"id": 5}']
    path = tmp_path / "tricky.jsonl"
    path.write_bytes(b"\n".join(body) + b"\n")
    return path


def _catalog(runtime: Runtime) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    columns = [c for c in papers.c if c.name not in BOOKKEEPING]
    with runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(*columns).order_by(papers.c.id)).all()
        cats = conn.execute(sa.select(paper_categories).order_by(*paper_categories.c)).all()
    return [tuple(r) for r in rows], [tuple(r) for r in cats]


def _import(runtime: Runtime, path: Path, *, bulk: bool, batch_size: int = 25) -> ImportSummary:
    importer = Importer(runtime.engine, batch_size=batch_size)
    threshold = snapshot_bulk.PARALLEL_MIN_BYTES
    snapshot_bulk.PARALLEL_MIN_BYTES = 0 if bulk else 1 << 62
    try:
        return importer.import_file(FORMATS["snapshot"], path)
    finally:
        snapshot_bulk.PARALLEL_MIN_BYTES = threshold


@pytest.fixture
def pair(settings: Settings, tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    """Two catalogs on the backend under test (on PostgreSQL, two databases)."""
    with scratch_database() as url:
        other = settings.model_copy(update={"home": tmp_path / "other", "database_url": url})
        runtimes = Runtime(settings), Runtime(other)
        yield runtimes
        for runtime in runtimes:
            runtime.close()


@pytest.fixture
def sqlite_only(catalog_server: str | None) -> None:
    """Asked for before `pair`: on PostgreSQL the test is skipped before its catalogs are
    made."""
    if catalog_server is not None:
        pytest.skip("SQLite's deferred indexes and journal modes")


def test_bulk_path_builds_the_same_catalog(
    pair: tuple[Runtime, Runtime], data_dir: Path, tmp_path: Path
) -> None:
    serial, bulk = pair
    path = _tricky_file(data_dir, tmp_path)
    a = _import(serial, path, bulk=False)
    b = _import(bulk, path, bulk=True)
    assert a.as_dict() | {"seconds": 0} == b.as_dict() | {"seconds": 0}
    assert (a.new, a.rejected) == (200, 2) and a.updated > 0 and a.unchanged > 0
    assert _catalog(serial) == _catalog(bulk)
    again = _import(bulk, path, bulk=True)
    assert (again.new, again.updated, again.rejected) == (0, 0, 2)
    assert _catalog(serial) == _catalog(bulk)


def test_bulk_path_merges_into_papers_without_an_arxiv_id(
    pair: tuple[Runtime, Runtime], data_dir: Path, tmp_path: Path
) -> None:
    path = _sample(data_dir)
    first = snapshot.record_from_line(gzip.decompress(path.read_bytes()).split(b"\n")[0])
    reading_list = [PaperRecord(source="bibtex", title=first.title.upper())]
    for runtime in pair:
        write_batch(runtime.engine, runtime.catalog_writer, reading_list)
    serial, bulk = pair
    a = _import(serial, path, bulk=False)
    b = _import(bulk, path, bulk=True)
    assert (a.new, a.updated) == (b.new, b.updated) == (199, 1)
    assert _catalog(serial) == _catalog(bulk)


def _indexes(runtime: Runtime) -> set[str]:
    with runtime.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")
        return {name for (name,) in rows}


def test_a_bulk_load_into_an_empty_catalog_defers_its_indexes_and_builds_them_at_the_end(
    sqlite_only: None, pair: tuple[Runtime, Runtime], data_dir: Path, tmp_path: Path
) -> None:
    _, bulk = pair
    expected = _indexes(bulk)
    assert {"ix_papers_title_key", "ix_papers_doi"} <= expected
    seen_during_load: list[set[str]] = []
    write = snapshot_bulk.write_prepared_batch

    def spying_write(*args: object, **kwargs: object) -> object:
        seen_during_load.append(_indexes(bulk))
        return write(*args, **kwargs)  # type: ignore[arg-type]

    snapshot_bulk.write_prepared_batch = spying_write  # type: ignore[assignment]
    try:
        _import(bulk, _tricky_file(data_dir, tmp_path), bulk=True)
    finally:
        snapshot_bulk.write_prepared_batch = write
    assert seen_during_load and all("ix_papers_title_key" not in s for s in seen_during_load)
    assert _indexes(bulk) == expected
    # A catalog that already has papers keeps its indexes during an import.
    seen_during_load.clear()
    snapshot_bulk.write_prepared_batch = spying_write  # type: ignore[assignment]
    try:
        _import(bulk, _sample(data_dir), bulk=True)
    finally:
        snapshot_bulk.write_prepared_batch = write
    assert seen_during_load and all(s == expected for s in seen_during_load)


def test_indexes_left_dropped_by_a_killed_bulk_load_are_rebuilt_when_the_catalog_opens(
    sqlite_only: None, pair: tuple[Runtime, Runtime], data_dir: Path
) -> None:
    _, bulk = pair
    _import(bulk, _sample(data_dir), bulk=False)
    expected = _indexes(bulk)
    with bulk.engine.begin() as conn:  # what a process killed mid-load leaves behind
        conn.exec_driver_sql("DROP INDEX ix_papers_title_key")
        conn.exec_driver_sql("DROP INDEX ix_paper_categories_category")
    bulk.engine.dispose()
    reopened = Runtime(bulk.settings)
    assert _indexes(reopened) == expected
    assert reopened.catalog.count() == 200


def test_line_blocks_carry_the_same_numbered_lines_as_the_line_parser(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of whole lines, cut anywhere (even inside a line longer than a block), give the
    workers exactly the lines and line numbers the in-process parser sees, for every resume
    point, with blank lines anywhere and no newline at the end."""
    lines = gzip.decompress(_sample(data_dir).read_bytes()).splitlines()[:12]
    body = b"\n".join([b"", lines[0], b"  ", *lines[1:4], b"", b"", *lines[4:], b"\t"]) + b"\n"
    body += b'{"id": "2301.00001"}'  # no final newline
    monkeypatch.setattr(snapshot, "MIN_BLOCK_BYTES", 1)
    for lines_per_block in (1, 2, 5):
        for skip in range(15):
            expected = list(snapshot._numbered_lines(io.BytesIO(body), "f", skip))
            got = []
            records = 0
            blocks = list(snapshot.line_blocks(io.BytesIO(body), "f", skip, lines_per_block))
            assert all(block.endswith(b"\n") for _, block in blocks[:-1])
            for first, block in blocks:
                numbered = [
                    (n, line)
                    for n, line in enumerate(block.split(b"\n"), start=first)
                    if line.strip()
                ]
                assert [line for _, line in numbered] == snapshot.chunk_lines(block)
                got.extend(numbered)
                records += snapshot.prepare_chunk("f", (first, block))[2]
            assert [(n, line.rstrip(b"\n")) for n, line in expected] == got
            assert records == len(expected)


def _journal_modes_during_load(runtime: Runtime, path: Path) -> list[str]:
    """The journal mode each batch of a bulk load was written in."""
    modes: list[str] = []
    write = snapshot_bulk.write_prepared_batch

    def spying_write(engine: sa.Engine, *args: object) -> object:
        with engine.connect() as conn:
            modes.append(str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()))
        return write(engine, *args)  # type: ignore[arg-type]

    snapshot_bulk.write_prepared_batch = spying_write  # type: ignore[assignment]
    try:
        _import(runtime, path, bulk=True)
    finally:
        snapshot_bulk.write_prepared_batch = write
    return modes


def _header_journal(runtime: Runtime) -> str:
    # Byte 18 of a SQLite header: 1 for a rollback journal, 2 for WAL.
    return {1: "rollback", 2: "wal"}[runtime.settings.sqlite_path.read_bytes()[18]]


def test_a_bulk_load_into_an_empty_catalog_writes_with_a_rollback_journal_then_returns_to_wal(
    sqlite_only: None, pair: tuple[Runtime, Runtime], data_dir: Path, tmp_path: Path
) -> None:
    serial, bulk = pair
    path = _tricky_file(data_dir, tmp_path)
    bulk.close()  # nothing else has the file open
    modes = _journal_modes_during_load(bulk, path)
    assert modes and set(modes) == {"persist"}
    assert _header_journal(bulk) == "wal"
    with bulk.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    _import(serial, path, bulk=False)
    assert _catalog(serial) == _catalog(bulk)
    # Into a catalog that has papers: WAL, as every other write.
    bulk.close()
    assert set(_journal_modes_during_load(bulk, _sample(data_dir))) == {"wal"}


def test_a_bulk_load_beside_another_open_connection_stays_in_wal_mode(
    sqlite_only: None, pair: tuple[Runtime, Runtime], data_dir: Path, tmp_path: Path
) -> None:
    """A catalog some other process has open (a web server) cannot leave WAL mode: the load
    goes on in WAL instead of waiting or failing."""
    serial, bulk = pair
    path = _tricky_file(data_dir, tmp_path)
    assert bulk.catalog.count() == 0  # the catalog is made, empty, before another opens it
    bulk.close()
    with contextlib.closing(sqlite3.connect(bulk.settings.sqlite_path)) as other:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        other.execute("SELECT count(*) FROM papers").fetchone()
        modes = _journal_modes_during_load(bulk, path)
        assert modes and set(modes) == {"wal"}
        assert other.execute("SELECT count(*) FROM papers").fetchone() == (200,)
    _import(serial, path, bulk=False)
    assert _catalog(serial) == _catalog(bulk)


def test_blocks_too_large_for_a_shared_slot_go_through_the_pipe(
    pair: tuple[Runtime, Runtime], data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One enormous line makes its block larger than the shared slots (sized from the first
    block): that block is sent by pipe, the others by slot, and the catalog is the same."""
    lines = gzip.decompress(_sample(data_dir).read_bytes()).splitlines()
    giant = orjson.loads(lines[150])
    # 4.4 MB in a field the importer ignores: the record is within the size caps.
    giant["padding"] = "A very long field. " * 230_000
    path = tmp_path / "giant.jsonl"
    path.write_bytes(b"\n".join([*lines[:150], orjson.dumps(giant), *lines[151:]]) + b"\n")
    placed: list[int | None] = []
    put = shared_slots.Slots.put

    def spying_put(self: shared_slots.Slots, block: bytes) -> int | None:
        placed.append(put(self, block))
        return placed[-1]

    monkeypatch.setattr(shared_slots.Slots, "put", spying_put)
    serial, bulk = pair
    a = _import(serial, path, bulk=False)
    b = _import(bulk, path, bulk=True)
    assert (a.new, a.rejected) == (b.new, b.rejected) == (200, 0)
    assert _catalog(serial) == _catalog(bulk)
    assert None in placed and any(index is not None for index in placed)


def test_rows_larger_than_their_slot_come_back_by_pipe(data_dir: Path) -> None:
    block = gzip.decompress(_sample(data_dir).read_bytes()) * 3
    expected = snapshot.prepare_chunk("f", (1, block))
    slots = shared_slots.Slots(1, 1)  # the smallest slot: fits the block, not its rows
    assert len(block) <= len(slots.buffers[0]) < len(expected[0].dumps())
    shared_slots.inherit(slots)
    try:
        index = slots.put(block)
        assert index == 0 and slots.put(block) is None  # no slot free
        answer = shared_slots.prepare_in_slot("f", 1, 0, len(block))
        assert isinstance(answer[0], PreparedRows)  # not a length: by pipe
        assert slots.take(index, answer) == expected
        assert slots.free == [0]
        # Rows that fit are left in the slot, and read from there.
        small = b"\n".join(block.split(b"\n")[:20]) + b"\n"
        index = slots.put(small)
        answer = shared_slots.prepare_in_slot("f", 1, 0, len(small))
        assert isinstance(answer[0], int)
        assert slots.take(index, answer) == snapshot.prepare_chunk("f", (1, small))
    finally:
        shared_slots.inherit(None)
        slots.close()


@pytest.mark.parametrize("bulk", [False, True], ids=["generic", "bulk"])
def test_both_paths_report_progress_through_the_callback(
    runtime: Runtime, data_dir: Path, tmp_path: Path, bulk: bool
) -> None:
    """The runner draws nothing: it reports the bytes read and records done to its callback,
    ending with one report marked finished."""
    path = _tricky_file(data_dir, tmp_path)
    events: list[ProgressEvent] = []
    importer = Importer(runtime.engine, batch_size=25, progress=events.append)
    threshold = snapshot_bulk.PARALLEL_MIN_BYTES
    snapshot_bulk.PARALLEL_MIN_BYTES = 0 if bulk else 1 << 62
    try:
        summary = importer.import_file(FORMATS["snapshot"], path)
    finally:
        snapshot_bulk.PARALLEL_MIN_BYTES = threshold
    assert len(events) > 2
    assert {(e.task, e.unit, e.total) for e in events} == {(path.name, "B", path.stat().st_size)}
    assert [e.done for e in events] == sorted(e.done for e in events)
    assert [e.finished for e in events] == [False] * (len(events) - 1) + [True]
    assert events[-1].done == path.stat().st_size
    assert events[-1].detail.startswith(f"{summary.records:,} records, ")
