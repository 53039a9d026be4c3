"""Import benchmarks: records/s, peak memory and catalog size of `paperfeed import`.

Every measured run is a fresh `paperfeed import FORMAT FILES --json` process writing into an
empty catalog (SQLite file, or a new database on a throwaway PostgreSQL cluster). Time is the
wall time of the whole process (interpreter start included); peak memory is that process's
max RSS from wait4(2). The baseline, run in the same invocation, is `bench.parse_only`: the same
files through the same opener and parser with no database, so "x parse" is how much slower the
full import is than just reading the input.

    python -m bench                                  # everything (see bench/README.md)
    python -m bench --bench snapshot --sizes 100k --backends sqlite --repeat 5
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from bench import pg
from bench.common import oaipmh_files
from bench.generate_snapshot import ensure_snapshot

TARGET_SQLITE_SNAPSHOT = 20_000  # records/s
BENCHES = ("parse", "oai-pmh", "snapshot")
BACKENDS = ("sqlite", "postgresql")


@dataclass
class Dataset:
    name: str
    fmt: str
    files: list[Path]
    records: int  # expected


@dataclass
class Run:
    seconds: float
    cpu_seconds: float  # user + system time of the measured process (not PostgreSQL's)
    max_rss_kb: int
    records: int
    db_bytes: int | None


@dataclass
class Row:
    dataset: str
    backend: str  # sqlite | postgresql | "none" (parse-only baseline)
    records: int
    runs: list[Run] = field(default_factory=list)
    error: str | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def rate(self) -> float:
        return self.records / self.median_s if self.runs else 0.0


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "").replace(",", "")
    for suffix, factor in (("k", 1_000), ("m", 1_000_000)):
        if text.endswith(suffix):
            return int(float(text[:-1]) * factor)
    return int(text)


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def measure(cmd: Sequence[str | Path], env: dict[str, str]) -> tuple[float, float, int, str]:
    """Run cmd to completion: (wall s, CPU s, max RSS in KiB of that process, stdout)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        tail = stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"exit {proc.returncode}: {' | '.join(tail)}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, stdout


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def paperfeed_cmd() -> list[str]:
    return [sys.executable, "-m", "paperfeed"]


def no_index_flag() -> list[str]:
    """`--no-index` where `paperfeed import` has it (the benchmark measures the catalog)."""
    from paperfeed.cli.ingest import import_command

    return ["--no-index"] if any(p.name == "index" for p in import_command.params) else []


def run_import(
    dataset: Dataset, backend: str, server: pg.Server | None, batch_size: int | None
) -> Run:
    cmd: list[str | Path] = [*paperfeed_cmd(), "import", dataset.fmt, *dataset.files]
    # Catalog only: the import command follows with a search-index update unless told not to.
    cmd += ["--no-progress", "--json", *no_index_flag()]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    env = base_env()
    with tempfile.TemporaryDirectory(prefix="paperfeed-bench-home.") as home:
        env["PAPERFEED_HOME"] = home
        if backend == "sqlite":
            seconds, cpu, rss, stdout = measure(cmd, env)
            db_bytes = sum(p.stat().st_size for p in Path(home).glob("catalog.sqlite3*"))
        else:
            assert server is not None
            with server.database() as (url, admin):
                env["PAPERFEED_DATABASE_URL"] = url
                seconds, cpu, rss, stdout = measure(cmd, env)
                db_bytes = server.database_size(admin, url)
    total = json.loads(stdout)["total"]
    if total["new"] != total["records"] or total["rejected"]:
        print(f"  note: {dataset.name}: {total}", file=sys.stderr)
    return Run(seconds, cpu, rss, int(total["records"]), db_bytes)


def run_parse(dataset: Dataset) -> Run:
    cmd = [sys.executable, "-m", "bench.parse_only", dataset.fmt, *map(str, dataset.files)]
    seconds, cpu, rss, stdout = measure(cmd, base_env())
    return Run(seconds, cpu, rss, int(json.loads(stdout)["records"]), None)


def datasets(benches: Sequence[str], sizes: Sequence[int], seed: int) -> list[Dataset]:
    out: list[Dataset] = []
    if "oai-pmh" in benches:
        files = oaipmh_files()
        if files:
            out.append(Dataset("oai-pmh 2017Q1", "oai-pmh", files, 51_693))
        else:
            print("oai-pmh sample not found under the shared data; skipped", file=sys.stderr)
    if "snapshot" in benches:
        for n in sizes:
            out.append(Dataset(f"snapshot {size_label(n)}", "snapshot", [], n))
    return out


def importer_available(fmt: str) -> bool:
    from paperfeed.ingest.formats import FORMATS

    return importlib.util.find_spec(f"paperfeed.ingest.{FORMATS[fmt].module}") is not None


def repeat_for(records: int, args: argparse.Namespace) -> int:
    return int(args.large_repeat if records > args.large_from else args.repeat)


def collect(
    rows: list[Row], row: Row, times: int, fn: Callable[[], Run], *, progress: bool = True
) -> None:
    rows.append(row)
    for i in range(times):
        label = f"{row.dataset} / {row.backend} run {i + 1}/{times}"
        if progress:
            print(f"  {label} ...", end="", file=sys.stderr, flush=True)
        try:
            run = fn()
        except (RuntimeError, subprocess.CalledProcessError, ValueError, KeyError) as exc:
            row.error = str(exc)
            if progress:
                print(f" failed: {exc}", file=sys.stderr)
            return
        row.runs.append(run)
        if run.records != row.records:
            print(f" ({run.records:,} records, expected {row.records:,})", file=sys.stderr, end="")
            row.records = run.records
        if progress:
            print(
                f" {run.seconds:.1f} s, {run.records / run.seconds:,.0f} rec/s, "
                f"{run.max_rss_kb / 1024:,.0f} MB RSS",
                file=sys.stderr,
            )


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 1024**2:.0f} GiB RAM"
    except OSError:
        mem = "? RAM"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({model}), {mem}, Python {platform.python_version()}, "
        f"load average at start {load}"
    )


def render(rows: list[Row]) -> str:
    parse = {r.dataset: r for r in rows if r.backend == "none" and r.runs}
    headers = ["dataset", "backend", "records", "runs", "median s", "spread", "rec/s", "CPU s"]
    headers += ["x parse", "peak RSS MB", "DB MB"]
    table: list[list[str]] = []
    for r in rows:
        if not r.runs:
            table.append(
                [r.dataset, r.backend, f"{r.records:,}", "0", "-", "-", "-", "-", "-", "-"]
            )
            continue
        secs = [x.seconds for x in r.runs]
        spread = (max(secs) - min(secs)) / r.median_s if len(secs) > 1 else 0.0
        base = parse.get(r.dataset)
        ratio = f"{r.median_s / base.median_s:.2f}" if base and r.backend != "none" else "1.00"
        if base is None and r.backend != "none":
            ratio = "-"
        db = [x.db_bytes for x in r.runs if x.db_bytes is not None]
        table.append(
            [
                r.dataset,
                r.backend if r.backend != "none" else "parse only",
                f"{r.records:,}",
                str(len(r.runs)),
                f"{r.median_s:.2f}",
                f"±{spread / 2:.0%}" if len(secs) > 1 else "-",
                f"{r.rate:,.0f}",
                f"{statistics.median(x.cpu_seconds for x in r.runs):.2f}",
                ratio,
                f"{max(x.max_rss_kb for x in r.runs) / 1024:,.0f}",
                f"{statistics.median(db) / 1e6:,.0f}" if db else "-",
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    left = {0, 1}

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    lines = [fmt(headers), "  ".join("-" * w for w in widths), *map(fmt, table)]
    errors = [f"{r.dataset} / {r.backend}: {r.error}" for r in rows if r.error]
    return "\n".join(lines + [f"error: {e}" for e in errors])


def verdict(rows: list[Row]) -> str:
    snap = [
        r for r in rows if r.backend == "sqlite" and r.dataset.startswith("snapshot") and r.runs
    ]
    if not snap:
        return ""
    biggest = max(snap, key=lambda r: r.records)
    ok = biggest.rate >= TARGET_SQLITE_SNAPSHOT
    return (
        f"target: >= {TARGET_SQLITE_SNAPSHOT:,} records/s into SQLite (snapshot format): "
        f"{'MET' if ok else 'NOT MET'} — {biggest.rate:,.0f}/s at {biggest.dataset} "
        f"({biggest.rate / TARGET_SQLITE_SNAPSHOT:.2f}x target)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="paperfeed import benchmarks; prints a table (see bench/README.md).",
    )
    parser.add_argument(
        "--bench",
        default=",".join(BENCHES),
        help="comma-separated: parse (baseline), oai-pmh, snapshot (default: all)",
    )
    parser.add_argument(
        "--sizes", default="100k,300k,1m", help="snapshot sizes (default: 100k,300k,1m)"
    )
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="sqlite,postgresql (default: both)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median; default 3)")
    parser.add_argument(
        "--large-repeat",
        type=int,
        default=1,
        help="runs per case above --large-from records (default 1)",
    )
    parser.add_argument("--large-from", type=parse_size, default=300_000, metavar="N")
    parser.add_argument("--batch-size", type=int, default=None, help="passed to paperfeed import")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20k records, 1 run")
    parser.add_argument("--json", type=Path, default=None, help="also write raw results here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    benches = [b.strip() for b in args.bench.split(",") if b.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for name, allowed in ((benches, BENCHES), (backends, BACKENDS)):
        unknown = set(name) - set(allowed)
        if unknown:
            raise SystemExit(f"unknown: {', '.join(sorted(unknown))} (choose from {allowed})")
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    if args.quick:
        sizes, args.repeat, args.large_repeat = [20_000], 1, 1
    if shutil.which("paperfeed") is None and importlib.util.find_spec("paperfeed") is None:
        raise SystemExit("paperfeed is not installed in this Python (pip install -e .)")

    print(f"machine: {machine()}", file=sys.stderr)
    cases = datasets(benches, sizes, args.seed)
    for ds in cases:
        if ds.fmt == "snapshot":
            ds.files = [ensure_snapshot(ds.records, args.seed)]

    server: pg.Server | None = None
    if "postgresql" in backends:
        if pg.available():
            server = pg.Server().__enter__()
            print(f"postgresql: {server.url}", file=sys.stderr)
        else:
            print(
                "\n*** PostgreSQL not available (no server binaries, PAPERFEED_BENCH_DATABASE_URL "
                "unset): the postgresql rows are skipped ***\n",
                file=sys.stderr,
            )
            backends = [b for b in backends if b != "postgresql"]

    rows: list[Row] = []
    started = time.perf_counter()
    try:
        for ds in cases:
            times = repeat_for(ds.records, args)
            if not importer_available(ds.fmt):
                rows.append(Row(ds.name, "-", ds.records, error=f"no `{ds.fmt}` importer yet"))
                continue
            if "parse" in benches:
                collect(rows, Row(ds.name, "none", ds.records), times, partial(run_parse, ds))
            for backend in backends:
                run = partial(run_import, ds, backend, server, args.batch_size)
                collect(rows, Row(ds.name, backend, ds.records), times, run)
    finally:
        if server is not None:
            server.__exit__(None, None, None)

    print()
    print(render(rows))
    line = verdict(rows)
    if line:
        print(line)
    print(f"({machine()}; bench took {time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": machine(), "rows": [asdict(r) for r in rows]}, indent=2, default=str
            )
        )
    return 1 if any(r.error for r in rows) else 0
