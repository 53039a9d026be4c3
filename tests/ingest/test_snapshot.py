import contextlib
import gzip
import io
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.db.schema import paper_categories, papers
from paperfeed.ingest import snapshot, snapshot_bulk
from paperfeed.ingest.base import MAX_LINE_BYTES, FormatError, Rejection
from paperfeed.ingest.formats import FORMATS
from paperfeed.ingest.runner import Importer
from paperfeed.papers.record import PaperRecord
from paperfeed.runtime import Runtime
from tests.support.cli import Cli
from tests.support.waiting import ended, wait_until


def _import(runtime: Runtime, path: Path, batch_size: int = 100) -> object:
    importer = Importer(runtime.engine, batch_size=batch_size)
    return importer.import_file(FORMATS["snapshot"], path)


def test_real_snapshot_sample_imports_with_all_fields(runtime: Runtime, data_dir: Path) -> None:
    summary = _import(runtime, data_dir / "arxiv/kaggle_snapshot_head200.jsonl.gz")
    assert (summary.new, summary.rejected) == (200, 0)  # type: ignore[attr-defined]
    paper = runtime.catalog.get("0704.0001")
    assert paper is not None
    assert paper["title"] == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert paper["title_raw"].startswith("Calculation of prompt diphoton production cross")
    assert "\n" in paper["title_raw"]
    assert paper["authors"][0] == {
        "name": "C. Balázs",
        "last": "Balázs",
        "first": "C.",
        "suffix": "",
    }
    assert paper["authors_raw"].startswith("C. Bal\\'azs")
    assert paper["categories"] == ["hep-ph"] and paper["primary_category"] == "hep-ph"
    assert [v["version"] for v in paper["versions"]] == ["v1", "v2"]
    assert paper["submitted_at"].isoformat() == "2007-04-02T19:18:42"
    assert paper["doi"] == "10.1103/physrevd.76.013009"
    assert paper["journal_ref"] == "Phys.Rev.D76:013009,2007"
    assert paper["sources"] == ["snapshot"]


def test_old_style_ids_and_missing_parsed_authors(runtime: Runtime, data_dir: Path) -> None:
    summary = _import(runtime, data_dir / "arxiv/arxiv_browse_testdata_kaggle_format.jsonl.gz")
    assert summary.rejected == 0  # type: ignore[attr-defined]
    old = [p for p in runtime.catalog.list(limit=2000) if "/" in (p["arxiv_id"] or "")]
    assert len(old) >= 70
    assert all(p["authors"] for p in old)


def test_second_import_changes_nothing(runtime: Runtime, data_dir: Path) -> None:
    path = data_dir / "arxiv/kaggle_snapshot_head200.jsonl.gz"
    _import(runtime, path)
    with runtime.engine.connect() as conn:
        before = conn.execute(sa.select(papers.c.id, papers.c.modified_at)).all()
    again = _import(runtime, path)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 200)  # type: ignore[attr-defined]
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(papers.c.id, papers.c.modified_at)).all() == before


def test_malformed_records_are_reported_and_skipped(
    runtime: Runtime, tmp_path: Path, data_dir: Path
) -> None:
    good = _lines(data_dir)
    lines = [
        good[0],
        b'{"id": "0704.0002", "title": "broken json',
        b'{"id": "not-an-id", "title": "x"}',
        b'{"id": "0704.0003"}',
        b'{"id": "0704.0004", "title": ["not", "a", "string"]}',
        b"[1, 2, 3]",
        b"",
        good[5],
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = list(snapshot.parse(path.open("rb"), str(path)))
    rejections = [i for i in items if isinstance(i, Rejection)]
    assert [r.location for r in rejections] == [f"{path}:{n}" for n in (2, 3, 4, 5, 6)]
    assert "title" in rejections[2].reason
    summary = _import(runtime, path)
    assert (summary.new, summary.rejected) == (2, 5)  # type: ignore[attr-defined]


def test_hostile_text_is_stored_as_text(tmp_path: Path) -> None:
    record = {
        "id": "2301.00001",
        "title": "<script>alert(1)</script> \\'e 🚀 '; DROP TABLE papers;--",
        "abstract": "<img src=x onerror=alert(1)> $\\alpha$",
        "categories": "cs.CR",
        "versions": [],
        "authors": "Robert'); DROP TABLE Students;--",
    }
    [item] = snapshot.parse(io.BytesIO(orjson.dumps(record)), "x")
    assert isinstance(item, PaperRecord)
    assert item.title == "<script>alert(1)</script> é 🚀 '; DROP TABLE papers;--"
    assert item.abstract == "<img src=x onerror=alert(1)> $\\alpha$"


def test_a_file_of_another_format_fails_fast(runtime: Runtime, data_dir: Path) -> None:
    oai_page = next((data_dir / "arxiv/oaipmh_oai_dc_2017Q1").glob("*.xml.gz"))
    with pytest.raises(FormatError, match="not an arXiv snapshot file"):
        _import(runtime, oai_page)
    assert runtime.catalog.count() == 0


def _write_snapshot(path: Path, data_dir: Path, count: int) -> None:
    """`count` real records (the sample's, cycled, with new ids) in a gzip file whose deflate
    blocks are stored (compression level 0): read through the same inflater as any snapshot,
    and as large on disk as the lines themselves, so few records make a large file."""
    real = [orjson.loads(line) for line in _lines(data_dir)]
    with gzip.open(path, "wb", compresslevel=0) as out:
        for n in range(count):
            record = dict(real[n % len(real)], id=f"2301.{n:05d}", doi=None)
            out.write(orjson.dumps(record) + b"\n")


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ, PAPERFEED_HOME=str(settings.home))
    if settings.database_url:
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
    return env


def _header_journal_byte(runtime: Runtime) -> int:
    """Byte 18 of a SQLite file's header: 1 for a rollback journal, 2 for WAL."""
    with runtime.settings.sqlite_path.open("rb") as database:
        header = database.read(100)
    return header[18] if len(header) == 100 else 0


def _records_done(runtime: Runtime) -> int:
    """The import's checkpoint, read without switching a SQLite file out of the rollback
    journal a bulk load writes with (the catalog's own connections switch it back to WAL)."""
    query = "SELECT max(records_done) FROM import_checkpoints"
    if runtime.settings.is_sqlite:
        with contextlib.closing(sqlite3.connect(runtime.settings.sqlite_path, timeout=30)) as raw:
            return int(raw.execute(query).fetchone()[0] or 0)
    with runtime.engine.connect() as conn:
        return int(conn.exec_driver_sql(query).scalar() or 0)


def test_import_killed_mid_file_resumes_without_loss_or_duplicates(
    runtime: Runtime, settings: Settings, tmp_path: Path, data_dir: Path, cli: Cli
) -> None:
    path = tmp_path / "snapshot.jsonl.gz"
    total = 6_000  # (just over the bulk path's threshold: 8.5 MB)
    _write_snapshot(path, data_dir, total)
    # The bulk path (parse workers; on SQLite, into an empty catalog, the rollback journal
    # and deferred indexes).
    assert path.stat().st_size >= snapshot_bulk.PARALLEL_MIN_BYTES
    arguments = [
        "import",
        "snapshot",
        str(path),
        "--batch-size",
        "500",
        "--no-progress",
        "--no-index",  # (what follows an import into the search index: tests/search)
    ]
    command = [sys.executable, "-m", "paperfeed", *arguments]
    runtime.catalog.count()  # create the schema before the child starts
    runtime.close()  # an open connection would keep the bulk load in WAL mode
    child = subprocess.Popen(
        command, env=_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if runtime.settings.is_sqlite:
        # Any connection open while the child switches the journal mode (even the polling
        # reader below) rightly keeps it in WAL, so poll only once the switch has happened,
        # seen in the file header without taking a lock.
        wait_until(
            lambda: _header_journal_byte(runtime) == 1,
            within=60,
            every=0.01,
            what="the bulk load never left WAL mode",
            gone=ended(child, "the import ended before switching the journal mode"),
        )
    done = 0

    def part_way() -> bool:
        nonlocal done
        done = _records_done(runtime)
        return done >= 1000 or child.poll() is not None

    wait_until(part_way, within=60, what="the import did not get part-way")
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert 0 < done < total, "the import should have been killed part-way"
    if runtime.settings.is_sqlite:
        # Killed while writing with a rollback journal: byte 18 of the header is 1 (WAL: 2).
        assert _header_journal_byte(runtime) == 1
    # Its parse workers (forked, same command line) do not outlive it.
    wait_until(
        lambda: not _processes_running(str(path)),
        within=10,
        every=0.1,
        what="parse workers outlived the killed import",
    )
    assert 0 < runtime.catalog.count() < total

    # The same command again (in this process: what needed a process of its own was the kill).
    rerun = cli(*arguments, "--json")
    summary = orjson.loads(rerun.stdout)["total"]
    assert summary["resumed_from"] >= done
    assert summary["rejected"] == 0
    assert runtime.catalog.count() == total
    with runtime.engine.connect() as conn:
        distinct = conn.execute(sa.select(sa.func.count(sa.distinct(papers.c.arxiv_id)))).scalar()
        pairs = conn.execute(sa.select(sa.func.count()).select_from(paper_categories)).scalar()
        if runtime.settings.is_sqlite:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert distinct == total
    assert pairs == sum(
        len(orjson.loads(line)["categories"].split())
        for n, line in zip(range(total), _cycle(data_dir), strict=False)
    )


def _processes_running(argument: str) -> list[int]:
    """Processes (Linux: from /proc) with `argument` on their command line."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if argument.encode() in arguments and state != "Z":
            found.append(int(entry.name))
    return found


def _lines(data_dir: Path) -> list[bytes]:
    with gzip.open(data_dir / "arxiv/kaggle_snapshot_head200.jsonl.gz") as sample:
        return sample.read().splitlines()


def _cycle(data_dir: Path) -> list[bytes]:
    real = _lines(data_dir)
    return [real[n % len(real)] for n in range(20_000)]


def _with_a_huge_line(data_dir: Path, length: int, at: int = 1) -> list[bytes]:
    good = _lines(data_dir)[:10]
    huge = b'{"id": "2301.99999", "title": "Huge", "abstract": "' + b"a" * length + b'"}'
    return [*good[:at], huge, *good[at:]]


@pytest.mark.parametrize("at", [0, 7])  # among the lines sniffed first, and after them
@pytest.mark.parametrize("length", [MAX_LINE_BYTES, 2 * MAX_LINE_BYTES])
def test_a_line_over_the_cap_is_rejected_unread_on_both_paths(
    data_dir: Path, at: int, length: int
) -> None:
    lines = _with_a_huge_line(data_dir, length, at)
    data = b"\n".join(lines) + b"\n"
    reason = f"the line has {len(lines[at]):,} bytes, over the cap of {MAX_LINE_BYTES:,} (not read)"

    items = list(snapshot.parse(io.BytesIO(data), "big.jsonl"))
    assert [i for i in items if isinstance(i, Rejection)] == [
        Rejection(f"big.jsonl:{at + 1}", reason)
    ]
    assert sum(isinstance(i, PaperRecord) for i in items) == 10

    # The bulk path: a line that grows past the cap is dropped as it is read (one just over
    # it may end within a block, which the parse worker rejects by its length).
    rows: list[int] = []
    rejections: list[Rejection] = []
    for chunk in snapshot.line_blocks(io.BytesIO(data), "big.jsonl", 0, 2):
        assert len(chunk[1]) <= MAX_LINE_BYTES + snapshot.MIN_BLOCK_BYTES
        prepared, rejected, _ = snapshot.prepare_chunk("big.jsonl", chunk)
        rows, rejections = [*rows, *prepared.origins], [*rejections, *rejected]
    assert rejections == [Rejection(f"big.jsonl:{at + 1}", reason)]
    assert len(rows) == 10


def test_a_huge_line_is_read_past_in_bounded_memory(
    runtime: Runtime, tmp_path: Path, data_dir: Path
) -> None:
    """A 300 MiB abstract on one line of a small gzip file: the line is never held (the
    import's peak memory stays far below it), its record is rejected with its line, and the
    others import."""
    path = tmp_path / "huge.jsonl.gz"
    lines = _with_a_huge_line(data_dir, 0)
    head, tail = lines[1].split(b'"abstract": "')
    member = gzip.compress(b"a" * (1 << 20), compresslevel=1)  # gzip members concatenate
    path.write_bytes(
        gzip.compress(lines[0] + b"\n" + head + b'"abstract": "')
        + member * 300
        + gzip.compress(tail + b"\n" + b"\n".join(lines[2:]) + b"\n")
    )
    assert path.stat().st_size < 2 << 20
    length = len(head) + len(b'"abstract": "') + 300 * (1 << 20) + len(tail)
    reason = f"the line has {length:,} bytes, over the cap of {MAX_LINE_BYTES:,} (not read)"

    # The import's own peak memory: VmHWM, reset just before (Linux's clear_refs).
    rss = _memory_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    log = io.StringIO()
    summary = Importer(runtime.engine, log=log).import_file(FORMATS["snapshot"], path)
    peak = _memory_kib("VmHWM") - rss
    assert peak < 64 << 10, f"the import took {peak >> 10} MiB"
    assert (summary.new, summary.rejected) == (10, 1)
    assert f"rejected {path}:2: {reason}" in log.getvalue()


def _memory_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0])
