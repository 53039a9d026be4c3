"""What every import format shares: the size caps on a record's fields, empty files, gzip
files cut short or corrupt, standard input and pipes (`paperfeed import FORMAT -`)."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from paperfeed.cli import main
from paperfeed.db.schema import import_checkpoints
from paperfeed.ingest.base import MAX_LINE_BYTES, FormatError
from paperfeed.ingest.formats import FORMATS
from paperfeed.ingest.runner import Importer, ImportSummary
from paperfeed.papers import record
from paperfeed.papers.authors import from_display_name
from paperfeed.papers.record import MAX_ABSTRACT_CHARS, MAX_FIELD_CHARS
from paperfeed.runtime import Runtime
from tests.support.cli import HEAD200, Cli

BIG = "word " * (MAX_ABSTRACT_CHARS // 5 + 1000)  # an abstract over the cap
IDS = ("2301.00001", "2301.00002", "2301.00003")


def _import(runtime: Runtime, fmt: str, path: Path, log: io.StringIO) -> ImportSummary:
    return Importer(runtime.engine, log=log).import_file(FORMATS[fmt], path)


def _abstract(n: int) -> str:
    return BIG if n == 1 else f"Abstract number {n} of a small test paper about retrieval."


def _snapshot() -> bytes:
    return b"".join(
        orjson.dumps({"id": i, "title": f"Paper {n}", "abstract": _abstract(n)}) + b"\n"
        for n, i in enumerate(IDS)
    )


def _oai_pmh() -> bytes:
    records = "".join(
        f"<record><header><identifier>oai:arXiv.org:{i}</identifier>"
        "<datestamp>2023-01-05</datestamp></header><metadata>"
        f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{i}</id><title>Paper {n}</title>'
        f"<abstract>{_abstract(n)}</abstract></arXiv></metadata></record>"
        for n, i in enumerate(IDS)
    )
    return (
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        f"<ListRecords>{records}</ListRecords></OAI-PMH>"
    ).encode()


def _atom() -> bytes:
    entries = "".join(
        f"<entry><id>http://arxiv.org/abs/{i}v1</id><title>Paper {n}</title>"
        f"<summary>{_abstract(n)}</summary><published>2023-01-05T00:00:00Z</published></entry>"
        for n, i in enumerate(IDS)
    )
    return f'<feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>'.encode()


def _hf_daily() -> bytes:
    return orjson.dumps(
        [
            {
                "paper": {"id": i, "title": f"Paper {n}", "summary": _abstract(n), "authors": []},
                "submittedOnDailyAt": "2023-01-05T00:00:00.000Z",
            }
            for n, i in enumerate(IDS)
        ]
    )


def _bibtex() -> bytes:
    return "\n".join(
        f"@article{{k{n},\n  title = {{Paper {n}}},\n  eprint = {{{i}}},\n"
        f"  archivePrefix = {{arXiv}},\n  abstract = {{{_abstract(n)}}}\n}}\n"
        for n, i in enumerate(IDS)
    ).encode()


def _listing() -> bytes:
    blocks = [
        f"A small test paper about retrieval number {n}\n\n{_abstract(n) * 3}\n"
        for n in range(len(IDS))
    ]
    return "\n".join(blocks).encode()


def _ids() -> bytes:
    too_long = "10.1000/" + "x" * MAX_FIELD_CHARS  # a DOI over the cap
    return f"{IDS[0]}\n{too_long}\n{IDS[2]}\n".encode()


# Each format: a document of three records, the second over a cap, and where that one is.
DOCUMENTS: dict[str, tuple[Callable[[], bytes], str]] = {
    "snapshot": (_snapshot, ":2: "),
    "oai-pmh": (_oai_pmh, " record 2: "),
    "arxiv-atom": (_atom, " entry 2 (line 1): "),
    "hf-daily": (_hf_daily, " entry 2: "),
    "bibtex": (_bibtex, ":8: "),
    "listing": (_listing, ":5: "),
    "ids": (_ids, ":2: "),
}


def test_every_format_has_a_document_here() -> None:
    assert set(DOCUMENTS) == set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(DOCUMENTS))
def test_a_record_over_a_cap_is_rejected_with_its_place_and_the_rest_imports(
    runtime: Runtime, tmp_path: Path, fmt: str
) -> None:
    make, where = DOCUMENTS[fmt]
    path = tmp_path / f"three.{fmt}"
    path.write_bytes(make())
    log = io.StringIO()
    summary = _import(runtime, fmt, path, log)

    assert (summary.new, summary.rejected) == (2, 1), log.getvalue()
    assert f"rejected {path}{where}" in log.getvalue()
    assert "over the cap of" in log.getvalue()
    assert runtime.catalog.count() == 2
    assert all(len(p["abstract"] or "") <= MAX_ABSTRACT_CHARS for p in runtime.catalog.list())


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("gzipped", [False, True])
def test_an_empty_file_is_an_error_in_every_format(
    runtime: Runtime, tmp_path: Path, fmt: str, gzipped: bool
) -> None:
    path = tmp_path / ("empty.gz" if gzipped else "empty")
    path.write_bytes(gzip.compress(b"") if gzipped else b"")
    with pytest.raises(FormatError, match=f"^{path}: empty file"):
        _import(runtime, fmt, path, io.StringIO())


def _checkpoints(runtime: Runtime) -> list[tuple[int, bool]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.select(import_checkpoints.c.records_done, import_checkpoints.c.finished)
        ).all()
    return [(int(done), bool(finished)) for done, finished in rows]


def test_a_gzip_file_cut_short_imports_what_is_readable_and_says_so(
    runtime: Runtime, cli: Cli, tmp_path: Path, data_dir: Path
) -> None:
    data = (data_dir / HEAD200).read_bytes()
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 6 // 10])
    log = io.StringIO()
    summary = _import(runtime, "snapshot", path, log)

    assert 100 <= summary.new < 200  # every whole line before the cut
    assert summary.rejected <= 1  # the line cut in two
    (reason,) = summary.incomplete
    assert "the gzip data breaks off" in reason and "cut short" in reason
    assert "could not be read" in log.getvalue()
    # Unfinished: a complete copy of the file imports (as would the same file, resumed).
    assert [finished for _, finished in _checkpoints(runtime)] == [False]

    result = cli("import", "snapshot", path, "--no-progress", "--no-index", ok=False)
    assert result.exit_code == 1
    assert "Aborted!" not in result.output and "Traceback" not in result.output
    assert result.stderr.splitlines()[-1].startswith("Error: not read to the end: ")


def test_gzip_garbage_is_a_one_line_error(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "garbage.jsonl.gz"
    path.write_bytes(b"\x1f\x8b" + b"this is no deflate stream" * 10)
    result = cli("import", "snapshot", path, "--no-progress", "--no-index", ok=False)

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines() == [
        f"Error: {path}: not a readable gzip file "
        + result.stderr.split("not a readable gzip file ", 1)[1].strip()
    ]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("gzipped", [True, False])
def test_standard_input_imports(cli: Cli, data_dir: Path, gzipped: bool) -> None:
    data = (data_dir / HEAD200).read_bytes()
    result = cli.runner.invoke(
        main,
        ["import", "snapshot", "-", "--no-progress", "--no-index", "--json"],
        env=cli.env,
        input=data if gzipped else gzip.decompress(data),
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["total"]["new"] == 200


def test_a_pipe_imports(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    """As `paperfeed import snapshot <(zcat file.gz)` gives it: a path that is a pipe."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = (data_dir / HEAD200).read_bytes()

    def feed() -> None:
        with fifo.open("wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        out = cli("import", "snapshot", fifo, "--no-progress", "--no-index", "--json").stdout
    finally:
        writer.join(timeout=10)
    assert orjson.loads(out)["total"]["new"] == 200


def _over(n: int) -> str:
    return "x" * (n + 1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": _over(record.MAX_TITLE_CHARS)}, "'title' has 2,001 characters"),
        ({"title_raw": _over(record.MAX_TITLE_CHARS)}, "'title_raw' has 2,001"),
        ({"abstract_raw": _over(record.MAX_ABSTRACT_CHARS)}, "'abstract_raw' has 20,001"),
        ({"authors_raw": _over(record.MAX_AUTHORS_CHARS)}, "'authors_raw' has 1,000,001"),
        (
            {"authors": [from_display_name("A. Author")] * (record.MAX_AUTHORS + 1)},
            "the author list has 20,001 authors",
        ),
        (
            {"authors": [from_display_name(_over(1_000_000))]},
            r"the author list \(its names\) has 1,000,001",
        ),
        ({"comments": _over(record.MAX_COMMENTS_CHARS)}, "'comments' has 10,001"),
        ({"journal_ref": _over(record.MAX_FIELD_CHARS)}, "'journal_ref' has 1,001"),
        ({"submitter": _over(record.MAX_FIELD_CHARS)}, "'submitter' has 1,001"),
        ({"categories": ["cs.LG"] * (record.MAX_CATEGORIES + 1)}, "'categories' has 101"),
        ({"categories": [_over(record.MAX_FIELD_CHARS)]}, "a category is over the cap"),
        ({"versions": [{"version": "v1"}] * (record.MAX_VERSIONS + 1)}, "'versions' has 1,001"),
        ({"links": [{"kind": "code", "url": "u"}] * (record.MAX_LINKS + 1)}, "'links' has 101"),
        ({"links": [{"kind": "code", "url": _over(record.MAX_LINK_CHARS)}]}, "a link is over"),
    ],
)
def test_each_cap_rejects_a_record_over_it(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        record.PaperRecord(source="test", arxiv_id="2301.00001", **fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ai_summary": _over(record.MAX_AI_SUMMARY_CHARS)}, "'ai_summary' has 10,001"),
        ({"ai_keywords": ["k"] * (record.MAX_KEYWORDS + 1)}, "'ai_keywords' has 101"),
        ({"project_page": _over(record.MAX_LINK_CHARS)}, "'project_page' has 2,001"),
    ],
)
def test_a_daily_entry_is_capped_too(fields: dict[str, Any], message: str) -> None:
    daily = record.DailyEntry(submitted_at=dt.datetime(2026, 1, 1), **fields)
    with pytest.raises(ValueError, match=message):
        record.PaperRecord(source="test", arxiv_id="2301.00001", daily=daily)


def test_a_record_at_every_cap_is_accepted() -> None:
    at_cap = record.PaperRecord(
        source="test",
        arxiv_id="2301.00001",
        title="x" * record.MAX_TITLE_CHARS,
        abstract="x" * record.MAX_ABSTRACT_CHARS,
        comments="x" * record.MAX_COMMENTS_CHARS,
        categories=["cs.LG"] * record.MAX_CATEGORIES,
    )
    assert len(at_cap.abstract) == record.MAX_ABSTRACT_CHARS


def test_a_reading_list_line_over_the_line_cap_is_rejected_unread(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "list.txt"
    too_long = b"x" * (MAX_LINE_BYTES + 1)
    path.write_bytes(f"{IDS[0]}\n".encode() + too_long + f"\n{IDS[2]}\n".encode())
    log = io.StringIO()
    summary = _import(runtime, "ids", path, log)

    assert (summary.new, summary.rejected) == (2, 1)
    assert f"rejected {path}:2: the line has {MAX_LINE_BYTES + 1:,} bytes, over the cap" in (
        log.getvalue()
    )
