"""Digest benchmarks: building editions at a large catalog, and sending 10,000 digests end to
end to a local SMTP server.

    python -m bench digest                          # 1M-paper catalog, 10,000 subscribers
    python -m bench digest --size 100k --subscribers 2000,10000

The catalog is a generated snapshot (bench/generate_snapshot.py) imported with `paperfeed
import snapshot --no-index` into SQLite, cached in ~/.cache/paperfeed-bench/digest-N-seedS/.
Daily lists are seeded into it once: DAILY_PER_DAY papers on each of the DAYS days up to
LAST_DAY, with heavy-tailed upvotes, a GitHub repository for 40% of them, and local votes and
comments from 200 accounts (the community signals an edition is ranked by).

- **edition build**: `EditionService.build` (rank the period's daily list with its signals,
  store the edition and its items) for each of the last 7 daily lists and the last 3 weeks,
  in this process, each period built for the first time; median and max.
- **send**: N confirmed subscribers, each with preferences drawn at random (0-3 categories
  from those on the lists, 30% none; 5-20 papers; 20% only papers with code), then one
  `paperfeed digest send --date LAST_DAY --kind daily --json` process (interpreter start,
  edition build, rendering, delivery rows, SMTP) against an aiosmtpd server in a process of
  its own on 127.0.0.1 that accepts and counts. mails/s = digests the server received / the
  process's wall time; peak RSS is the sender process's (wait4).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import secrets
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

from bench.common import cache_dir
from bench.generate_snapshot import ensure_snapshot
from bench.run import base_env, machine, measure, paperfeed_cmd, parse_size

LAST_DAY = dt.date(2026, 11, 27)  # a Friday
DAYS = 28
DAILY_PER_DAY = 300
ACCOUNTS = 200
TARGET_MAILS_PER_S = 200.0
TARGET_BUILD_S = 1.0


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the catalog ----------------------------------------------------------------------------


def prepare(size: int, seed: int) -> Path:
    """A data directory with `size` papers and seeded daily lists (cached)."""
    folder = cache_dir() / f"digest-{size}-seed{seed}"
    home = folder / "home"
    ready = folder / "ready.json"
    if ready.exists():
        return home
    snapshot = ensure_snapshot(size, seed)
    if home.exists():
        for path in home.glob("catalog.sqlite3*"):
            path.unlink()
    home.mkdir(parents=True, exist_ok=True)
    env = base_env() | {"PAPERFEED_HOME": str(home), "PAPERFEED_EMBEDDER": "none"}
    log(f"importing {size:,} papers into {home} ...")
    started = time.perf_counter()
    measure(
        [*paperfeed_cmd(), "import", "snapshot", snapshot, "--no-progress", "--json",
         "--no-index"],
        env,
    )  # fmt: skip
    log(f"  done in {time.perf_counter() - started:.0f} s; seeding daily lists ...")
    seed_daily_lists(home / "catalog.sqlite3", seed)
    ready.write_text(json.dumps({"size": size, "seed": seed}))
    return home


def seed_daily_lists(catalog: Path, seed: int) -> None:
    rng = random.Random(seed)
    conn = sqlite3.connect(catalog)
    try:
        (max_id,) = conn.execute("select max(id) from papers").fetchone()
        picked = rng.sample(range(1, max_id + 1), DAYS * DAILY_PER_DAY)
        rows = []
        for i, paper_id in enumerate(picked):
            day = LAST_DAY - dt.timedelta(days=i // DAILY_PER_DAY)
            at = dt.datetime.combine(day, dt.time(6)) + dt.timedelta(seconds=i % 50_000)
            has_code = rng.random() < 0.4
            rows.append(
                (paper_id, day.isoformat(), at.isoformat(sep=" "), "bench",
                 int(rng.paretovariate(1.2)) - 1, int(rng.paretovariate(2.0)) - 1,
                 f"https://github.com/bench/repo{paper_id}" if has_code else None,
                 int(rng.paretovariate(1.1)) if has_code else None,
                 "[]", "bench", at.isoformat(sep=" "))
            )  # fmt: skip
        conn.executemany(
            "insert into daily_papers (paper_id, submitted_on, submitted_at, submitted_by,"
            " upvotes, num_comments, github_repo, github_stars, ai_keywords, source, updated_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        created = dt.datetime.combine(LAST_DAY - dt.timedelta(days=DAYS), dt.time(0))
        conn.executemany(
            "insert into users (id, email, username, fullname, password_hash, role, created_at,"
            " email_confirmed_at) values (?, ?, ?, '', 'x', 'user', ?, ?)",
            [
                (n, f"u{n}@bench.example", f"u{n}", str(created), str(created))
                for n in range(1, ACCOUNTS + 1)
            ],
        )
        votes, comments = set(), []
        for i, paper_id in enumerate(picked):
            day = LAST_DAY - dt.timedelta(days=i // DAILY_PER_DAY)
            for _ in range(int(rng.paretovariate(1.5)) - 1):
                user = rng.randint(1, ACCOUNTS)
                at = dt.datetime.combine(day, dt.time(7)) + dt.timedelta(
                    minutes=rng.randint(0, 3000)
                )
                votes.add((user, paper_id, str(at)))
            if rng.random() < 0.1:
                at = dt.datetime.combine(day, dt.time(9))
                comments.append((paper_id, rng.randint(1, ACCOUNTS), "A comment.", str(at)))
        unique = {(u, p): at for u, p, at in votes}
        conn.executemany(
            "insert into votes (user_id, paper_id, created_at) values (?, ?, ?)",
            [(u, p, at) for (u, p), at in unique.items()],
        )
        conn.executemany(
            "insert into comments (paper_id, user_id, body, hidden, created_at)"
            " values (?, ?, ?, 0, ?)",
            comments,
        )
        conn.commit()
    finally:
        conn.close()


def reset_digests(catalog: Path) -> None:
    conn = sqlite3.connect(catalog)
    try:
        for table in ("digest_deliveries", "digest_edition_items", "digest_editions",
                      "digest_preferences", "digest_sender_lease", "subscriptions"):  # fmt: skip
            conn.execute(f"delete from {table}")  # (fixed names)
        conn.commit()
    finally:
        conn.close()


def seed_subscribers(catalog: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    confirmed = dt.datetime.combine(LAST_DAY - dt.timedelta(days=DAYS), dt.time(0))
    conn = sqlite3.connect(catalog)
    try:
        categories = [
            c
            for (c,) in conn.execute(
                "select pc.category from paper_categories pc join daily_papers d"
                " on d.paper_id = pc.paper_id where d.submitted_on = ?"
                " group by pc.category order by count(*) desc limit 40",
                (LAST_DAY.isoformat(),),
            )
        ]
        subs, prefs = [], []
        for n in range(1, count + 1):
            subs.append(
                (n, f"reader{n:06d}@bench.example", secrets.token_urlsafe(32), "confirmed",
                 str(confirmed), str(confirmed), "operator")
            )  # fmt: skip
            chosen = [] if rng.random() < 0.3 else rng.sample(categories, rng.randint(1, 3))
            prefs.append(
                (n, "daily", json.dumps(chosen), rng.randint(5, 20), rng.random() < 0.2,
                 str(confirmed))
            )  # fmt: skip
        conn.executemany(
            "insert into subscriptions (id, email, token, status, created_at, confirmed_at,"
            " confirmed_via) values (?, ?, ?, ?, ?, ?, ?)",
            subs,
        )
        conn.executemany(
            "insert into digest_preferences (subscription_id, frequency, categories,"
            " max_papers, code_only, changed_at) values (?, ?, ?, ?, ?, ?)",
            prefs,
        )
        conn.commit()
    finally:
        conn.close()


# -- edition build --------------------------------------------------------------------------


def bench_build(home: Path) -> dict[str, Any]:
    from paperfeed.clock import FrozenClock
    from paperfeed.config import Settings
    from paperfeed.runtime import Runtime

    reset_digests(home / "catalog.sqlite3")
    clock = FrozenClock(dt.datetime.combine(LAST_DAY, dt.time(12)))
    runtime = Runtime(Settings(home=home, embedder="none"), clock=clock)
    try:
        papers = runtime.catalog.count()
        results: dict[str, Any] = {"papers": papers}
        for kind, periods in (
            ("daily", [(LAST_DAY - dt.timedelta(days=d)).isoformat() for d in range(7)]),
            ("weekly", [(LAST_DAY - dt.timedelta(weeks=w)) for w in range(3)]),
        ):
            keys = [p if isinstance(p, str) else f"{p:%G-W%V}" for p in periods]
            times, sizes = [], []
            for key in keys:
                started = time.perf_counter()
                edition = runtime.editions.build(kind, key)  # type: ignore[arg-type]
                times.append(time.perf_counter() - started)
                sizes.append(len(edition.paper_ids) if edition else 0)
            results[kind] = {
                "median_s": statistics.median(times),
                "max_s": max(times),
                "papers_per_edition": statistics.median(sizes),
                "runs": len(times),
            }
        return results
    finally:
        runtime.close()


# -- send -----------------------------------------------------------------------------------


def sink(port: int) -> None:
    """An SMTP server that accepts every message and counts them (prints the count when
    stopped with SIGTERM)."""
    import threading

    from aiosmtpd.controller import Controller

    class Counting:
        count = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Counting.count += len(envelope.rcpt_tos)
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    controller.stop()
    times = os.times()
    print(Counting.count, times.user + times.system, flush=True)


def start_sink() -> tuple[int, subprocess.Popen[str]]:
    """The counting SMTP server (`sink`) in a process of its own, ready: its port and process."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench", "digest", "--sink", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env=base_env(),
    )
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    return port, server


def stop_sink(server: subprocess.Popen[str]) -> tuple[int, float]:
    """Stops the sink: the messages it received, and its CPU seconds."""
    server.send_signal(signal.SIGTERM)
    count, cpu = server.communicate(timeout=60)[0].strip().splitlines()[-1].split()
    return int(count), float(cpu)


def bench_send(home: Path, subscribers: int, seed: int) -> dict[str, Any]:
    catalog = home / "catalog.sqlite3"
    reset_digests(catalog)
    seed_subscribers(catalog, subscribers, seed)
    port, server = start_sink()
    env = base_env() | {
        "PAPERFEED_HOME": str(home),
        "PAPERFEED_EMBEDDER": "none",
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(port),
        "PAPERFEED_SMTP_STARTTLS": "false",
        "PAPERFEED_BASE_URL": "https://papers.example.org",
        "PAPERFEED_MAIL_FROM": "paperfeed <digest@papers.example.org>",
    }
    try:
        wall, cpu, rss_kib, stdout = measure(
            [*paperfeed_cmd(), "digest", "send", "--date", LAST_DAY.isoformat(), "--kind",
             "daily", "--json"],
            env,
        )  # fmt: skip
    finally:
        count, sink_cpu = stop_sink(server)
    received = count
    report = json.loads(stdout)
    return {
        "subscribers": subscribers,
        "sent": report["sent"],
        "skipped": report["skipped"],
        "failed": report["failed"],
        "received": received,
        "wall_s": wall,
        "cpu_s": cpu,
        "mails_per_s": received / wall,
        "sink_cpu_s": float(sink_cpu),
        # The sender's and the server's CPU per mail together: what the two cores have to
        # give per mail (the run's two connections let them work at the same time).
        "mails_per_cpu_s": received / (cpu + float(sink_cpu)),
        "peak_rss_mb": rss_kib / 1024,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render(results: dict[str, Any]) -> str:
    lines = [f"machine: {results['machine']}"]
    build = results.get("build")
    if build:
        lines.append(f"edition build at {build['papers']:,} papers:")
        for kind in ("daily", "weekly"):
            b = build[kind]
            lines.append(
                f"  {kind:<6} median {b['median_s'] * 1000:,.0f} ms, max "
                f"{b['max_s'] * 1000:,.0f} ms ({b['papers_per_edition']:.0f} papers ranked, "
                f"{b['runs']} editions) - target < {TARGET_BUILD_S:.0f} s: "
                f"{'met' if b['max_s'] < TARGET_BUILD_S else 'MISSED'}"
            )
    for run in results.get("send", []):
        lines.append(
            f"send to {run['subscribers']:,} subscribers: received {run['received']:,} "
            f"(sent {run['sent']:,}, skipped {run['skipped']}, failed {run['failed']}) in "
            f"{run['wall_s']:.1f} s = {run['mails_per_s']:,.0f} mails/s end to end "
            f"(CPU: sender {run['cpu_s']:.1f} s, SMTP server {run['sink_cpu_s']:.1f} s = "
            f"{run['mails_per_cpu_s']:,.0f} mails per CPU second), peak RSS "
            f"{run['peak_rss_mb']:.0f} MB - target "
            f">= {TARGET_MAILS_PER_S:.0f}/s: "
            f"{'met' if run['mails_per_s'] >= TARGET_MAILS_PER_S else 'MISSED'}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench digest", description=__doc__)
    parser.add_argument("--size", type=parse_size, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subscribers", default="10000", help="comma-separated counts")
    parser.add_argument("--only", choices=["build", "send"], help="one part only")
    parser.add_argument("--json", type=Path, default=cache_dir() / "digest-results.json")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)  # the SMTP server process
    args = parser.parse_args(argv)
    if args.sink:
        sink(args.sink)
        return 0
    home = prepare(args.size, args.seed)
    results: dict[str, Any] = {"machine": machine(), "size": args.size}
    if args.only in (None, "build"):
        log("building editions ...")
        results["build"] = bench_build(home)
    if args.only in (None, "send"):
        results["send"] = []
        for count in (int(n) for n in args.subscribers.split(",")):
            log(f"sending to {count:,} subscribers ...")
            results["send"].append(bench_send(home, count, args.seed))
    args.json.write_text(json.dumps(results, indent=2))
    print(render(results))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
