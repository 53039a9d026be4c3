"""Web benchmarks at 1,000,000 papers: search requests/s and latency under concurrent load,
and the server time of the daily page.

    python -m bench web                      # 1M papers, concurrency 16, 30 s per scenario
    python -m bench web --size 100k --seconds 10

The catalog and indexes are the search benchmark's (bench/search.py builds and caches them
in ~/.cache/paperfeed-bench/search-N-seedS/). Daily lists are seeded into that catalog once:
40 papers a day for the last 60 days with random upvotes (a generated snapshot has none).

`paperfeed serve --workers W` runs in its own processes; the load generator is a small
asyncio HTTP/1.1 client with keep-alive connections (one per simulated user), in this
process, on loopback. On a 2-core machine client and server share the cores, which is
counted against the server. Each scenario reports requests/s and client-side latency
percentiles; the daily page also reports the app's own time from its `Server-Timing` header
(the database and template work, without HTTP).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from bench.common import cache_dir
from bench.run import base_env, machine, paperfeed_cmd, parse_size
from bench.search import build_queries, prepare, table

TARGETS = {"search_rps": 200.0, "search_p95_ms": 100.0, "daily_server_ms": 20.0}
DAILY_DAYS = 60
DAILY_PER_DAY = 40


SETTLE_SECONDS = 8.0


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- data -----------------------------------------------------------------------------------


def seed_daily_lists(catalog: Path, seed: int) -> dt.date:
    """Put DAILY_PER_DAY random papers on each of the last DAILY_DAYS daily lists (once)."""
    today = dt.datetime.now(dt.UTC).date()
    conn = sqlite3.connect(catalog)
    try:
        if conn.execute("select count(*) from daily_papers").fetchone()[0] == 0:
            rng = random.Random(seed)
            (max_id,) = conn.execute("select max(id) from papers").fetchone()
            picked = rng.sample(range(1, max_id + 1), DAILY_DAYS * DAILY_PER_DAY)
            rows = []
            for i, paper_id in enumerate(picked):
                day = today - dt.timedelta(days=i // DAILY_PER_DAY)
                at = dt.datetime.combine(day, dt.time(8)) + dt.timedelta(minutes=i % 600)
                rows.append(
                    (paper_id, day.isoformat(), at.isoformat(sep=" "), "bench",
                     int(rng.paretovariate(1.2)) - 1, "[]", "bench", at.isoformat(sep=" "))
                )  # fmt: skip
            conn.executemany(
                "insert into daily_papers (paper_id, submitted_on, submitted_at, submitted_by,"
                " upvotes, num_comments, ai_keywords, source, updated_at)"
                " values (?, ?, ?, ?, ?, 0, ?, ?, ?)",
                rows,
            )
            conn.commit()
        (latest,) = conn.execute("select max(submitted_on) from daily_papers").fetchone()
        return dt.date.fromisoformat(latest)
    finally:
        conn.close()


# -- server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    home: Path, workers: int, settings: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    # No access log: the figures stay comparable with earlier runs, and nothing reads the
    # server's standard error until it exits (a full pipe would stall the server).
    env = {
        **base_env(),
        "PAPERFEED_HOME": str(home),
        "PAPERFEED_EMBEDDER": "minilm",
        "PAPERFEED_ACCESS_LOG": "false",
    }
    env.update({f"PAPERFEED_{k.upper()}": v for k, v in settings.items()})
    cmd = [*paperfeed_cmd(), "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def _tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a process and its descendants (Linux /proc)."""
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue  # (a process that ended meanwhile)
    return total


def wait_idle(pid: int, *, limit: float = 300.0, window: float = 2.0, busy: float = 0.1) -> float:
    """Wait until the server's processes use less than `busy` of a core over `window` seconds
    (a fresh process catches up with the catalog, loads the model and makes the "For you"
    pool in background threads first); the seconds waited."""
    start = time.monotonic()
    before = _tree_cpu_seconds(pid)
    while time.monotonic() - start < limit:
        time.sleep(window)
        after = _tree_cpu_seconds(pid)
        if after - before < busy * window:
            break
        before = after
    return time.monotonic() - start


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


# -- load generator -----------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection (the cheapest client a benchmark can have, so that
    the client steals as little CPU from the server as possible)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n"
        self.writer.write(request.encode())
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(port: int, paths: Sequence[str], concurrency: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    server_ms: list[float] = []
    errors = 0
    counter = 0
    stop_at = time.perf_counter() + seconds

    async def user() -> None:
        nonlocal errors, counter
        conn = Connection(port)
        try:
            while time.perf_counter() < stop_at:
                path = paths[counter % len(paths)]
                counter += 1
                started = time.perf_counter()
                status, headers, _ = await conn.get(path)
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    errors += 1
                timing = headers.get("server-timing", "")
                if "dur=" in timing:
                    server_ms.append(float(timing.split("dur=")[1].split(",")[0]))
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0

    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "server_p50_ms": statistics.median(server_ms) if server_ms else None,
        "server_p95_ms": sorted(server_ms)[int(0.95 * len(server_ms))] if server_ms else None,
    }


# -- report -----------------------------------------------------------------------------------


def render(results: dict[str, Any]) -> str:
    rows = []
    for name, r in results["scenarios"].items():
        server = (
            f"{r['server_p50_ms']:.1f} / {r['server_p95_ms']:.1f}"
            if r.get("server_p50_ms") is not None
            else "-"
        )
        rows.append(
            [
                name,
                str(r["concurrency"]),
                f"{r['rps']:.1f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p95_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                server,
                str(r["errors"]),
            ]
        )
    head = ["scenario", "conc.", "req/s", "p50 ms", "p95 ms", "p99 ms", "app p50/p95", "errors"]
    return (
        f"paperfeed web benchmark, {results['papers']:,} papers, "
        f"{results['workers']} server processes\nmachine: {results['machine']}\n\n"
        + table(head, rows)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench web", description=__doc__)
    parser.add_argument("--size", type=parse_size, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--json", type=Path, default=cache_dir() / "web-results.json")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a paperfeed setting for the server, e.g. search_dense_candidates=200 "
        "(search_query_vectors is 0 unless given: every request embeds its query)",
    )
    parser.add_argument(
        "--only", default="", help="run only the scenarios whose name contains this text"
    )
    args = parser.parse_args(argv)

    record = prepare(args.size, args.seed, 10_000, rebuild=False)
    home = Path(record["home"])
    latest = seed_daily_lists(home / "catalog.sqlite3", args.seed)
    queries = build_queries(args.queries, 0, args.seed)["queries"]
    search_paths = [f"/api/v1/search?q={quote_plus(q)}&limit=10" for q in queries]
    days = [latest - dt.timedelta(days=i) for i in range(DAILY_DAYS)]
    scenarios = {
        "search API, hybrid": (search_paths, args.concurrency),
        "search API, lexical": ([f"{p}&mode=lexical" for p in search_paths], args.concurrency),
        "search page (HTML)": (
            [f"/search?q={quote_plus(q)}" for q in queries],
            args.concurrency,
        ),
        "daily page, one user": ([f"/papers/date/{d}" for d in days], 1),
        "daily page": ([f"/papers/date/{d}" for d in days], args.concurrency),
    }
    scenarios = {k: v for k, v in scenarios.items() if args.only in k}
    # The scenarios rotate over the same queries, and a process keeps the vectors of queries it
    # embedded: measure each request as a new query (what distinct queries cost) unless asked.
    settings = {"search_query_vectors": "0", **dict(s.split("=", 1) for s in args.setting)}
    process, port = start_server(home, args.workers, settings)
    results: dict[str, Any] = {
        "papers": record.get("import", {}).get("records", args.size),
        "workers": args.workers,
        "settings": settings,
        "machine": machine(),
        "scenarios": {},
    }
    try:
        log("warming up (model load, index pages) ...")
        warm = search_paths[: 4 * args.workers] + [f"/papers/date/{d}" for d in days[:10]]
        asyncio.run(load(port, warm, args.workers * 2, 15.0))
        waited = wait_idle(process.pid)
        log(f"the server's start-up work done after {waited:.0f} s more")
        results["idle_wait_s"] = round(waited, 1)
        for n, (name, (paths, concurrency)) in enumerate(scenarios.items()):
            if n:
                # Requests the client dropped when the last scenario ended are still running
                # in the server's threads: let them finish before measuring the next one.
                time.sleep(SETTLE_SECONDS)
            log(f"{name}: {args.seconds:.0f} s at concurrency {concurrency} ...")
            result = asyncio.run(load(port, paths, concurrency, args.seconds))
            results["scenarios"][name] = {**result, "concurrency": concurrency}
    finally:
        stop_server(process)
    args.json.write_text(json.dumps(results, indent=2))
    print(render(results))
    search = results["scenarios"].get("search API, hybrid")
    daily = results["scenarios"].get("daily page, one user")
    if search is None or daily is None:
        return 0
    print(
        f"\ntargets: search >= {TARGETS['search_rps']:.0f} req/s at concurrency 16: "
        f"{search['rps']:.0f} ({'met' if search['rps'] >= TARGETS['search_rps'] else 'MISSED'}); "
        f"p95 <= {TARGETS['search_p95_ms']:.0f} ms: {search['p95_ms']:.0f} "
        f"({'met' if search['p95_ms'] <= TARGETS['search_p95_ms'] else 'MISSED'}); "
        f"daily page app time <= {TARGETS['daily_server_ms']:.0f} ms: "
        f"{daily['server_p50_ms']:.1f} median "
        f"({'met' if daily['server_p50_ms'] <= TARGETS['daily_server_ms'] else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
