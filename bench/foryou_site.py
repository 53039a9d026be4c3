"""`python -m bench foryou`: "For you" end to end at a million papers: the `/for-you` page's
server time for a reader with 300 rated papers, and a digest run's personal sections for many
readers with 50 rated papers each.

    python -m bench foryou                        # the page, and 10,000 digest readers
    python -m bench foryou --readers 1000         # fewer digest readers
    python -m bench foryou --skip-digests
    python -m bench foryou --skip-page --outbox   # digests to the outbox, not an SMTP server

Inputs (built once, cached in ~/.cache/paperfeed-bench/):
- the catalog: a copy (foryou-site-1000000/home) of the 1,000,000-paper SQLite catalog of
  `python -m bench digest` (its daily lists of November 2026 included), which this bench
  writes its readers into (the original is never written);
- the search index's part the recommender reads, from `python -m bench foryou-model`
  (bench/foryou.py): the word index of the 1M papers, their terms, and a table of one
  synthetic MiniLM-like vector per paper. The app's index follower is replaced by that store
  (no 1M embedding).

The page: the app (create_app over the runtime, the real routes, templates and middleware)
driven in this process by Starlette's TestClient with the reader's session cookie; the server
time is the page's `Server-Timing: app;dur=` (from the request's arrival to the response).
The clock stands at 2019-03-01, the catalog's newest papers; the candidates are the last
`--days` days (21 here hold ~15,000 papers, about a week of all of arXiv). The reader: 300
rated papers drawn from older ones (125 upvoted, 125 saved, 50 "not interested"). Measured:
`--loads` reloads (after 5 warm-ups; the ranking is kept for unchanged inputs), and
`--acts` times "Not interested" on the top paper followed by a reload (the reader's inputs
change: ranked again), each reload's server time.

Digests: `--readers` accounts with 50 rated papers each (20 upvoted, 25 saved, 5 "not
interested"), each subscribed (daily, 10 papers) with its account's address; then one
`DigestSender.send` of the daily edition of 2026-11-27 in this process against a counting SMTP
server in a process of its own on the same cores (bench/digest.py's sink; with `--outbox`,
into an outbox folder instead, the embedded default's mailer), with `--processes` (2) chooser
processes when the run is large enough (digest/sender.py: 1,000 readers). Reported: the
whole run, its CPU (this process, the chooser processes' and the SMTP server's), and the part
this process spent choosing the personal sections (`PersonalDigests.choose_many`, a batch at
a time; with choosers: none)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import cache_dir
from bench.digest import LAST_DAY, start_sink, stop_sink
from bench.foryou import (
    build_lexical,
    build_terms,
    build_vectors,
    catalog_home,
    paper_ids,
    store,
    work_dir,
)
from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.digest.personal import PersonalDigests
from paperfeed.runtime import Runtime
from paperfeed.search.store import SearchStore

NOW = dt.datetime(2019, 3, 1)
TARGET_PAGE_P95_MS = 50.0
TARGET_DIGEST_S = 120.0
HASH = "$argon2id$v=19$m=19456,t=2,p=1$bench$bench"  # never signs in: sessions are made


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def site_home() -> Path:
    home = cache_dir() / "foryou-site-1000000" / "home"
    catalog = home / "catalog.sqlite3"
    if not catalog.is_file():
        home.mkdir(parents=True, exist_ok=True)
        log("copying the 1M catalog (once) ...")
        shutil.copyfile(catalog_home() / "catalog.sqlite3", catalog.with_suffix(".tmp"))
        catalog.with_suffix(".tmp").rename(catalog)
    return home


class _Store:
    """Stands for the app's index follower: the bench's store, nothing to follow; its thread
    runs the tasks the app gives it (`also`: For you's pool made ahead of the readers) once,
    as the follower does after its first poll, and `join` waits for that."""

    def __init__(self, found: SearchStore) -> None:
        self.store = found
        self._tasks: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None

    def also(self, task: Callable[[], None]) -> None:
        if task not in self._tasks:
            self._tasks.append(task)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=lambda: [t() for t in self._tasks])
            self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def stop(self) -> None:
        self.join()


def runtime(home: Path, days: int, clock: FrozenClock, **changes: Any) -> Runtime:
    settings = Settings(home=home, database_url=None, embedder="none", for_you_days=days, **changes)
    rt = Runtime(settings, clock=clock)
    rt.__dict__["index"] = _Store(store(work_dir()))
    return rt


def reset(catalog: Path) -> None:
    """Removes what an earlier run of this bench wrote."""
    with sqlite3.connect(catalog) as db:
        db.execute("PRAGMA foreign_keys = ON")
        users = "SELECT id FROM users WHERE username LIKE 'fyb-%'"
        for table in ("votes", "paper_marks", "recommendation_impressions", "follows"):
            db.execute(f"DELETE FROM {table} WHERE user_id IN ({users})")
        db.execute(
            "DELETE FROM collection_items WHERE collection_id IN "
            f"(SELECT id FROM collections WHERE user_id IN ({users}))"
        )
        db.execute(f"DELETE FROM collections WHERE user_id IN ({users})")
        db.execute(f"DELETE FROM user_sessions WHERE user_id IN ({users})")
        db.execute("DELETE FROM users WHERE username LIKE 'fyb-%'")
        db.execute("DELETE FROM digest_deliveries")
        db.execute("DELETE FROM digest_edition_items")
        db.execute("DELETE FROM digest_editions")
        db.execute("DELETE FROM digest_preferences")
        db.execute("DELETE FROM subscriptions")
        db.execute("DELETE FROM digest_sender_lease")


def add_readers(
    catalog: Path, count: int, rated: tuple[int, int, int], pool: np.ndarray, seed: int
) -> list[int]:
    """`count` confirmed accounts, each with (upvoted, saved, dismissed) papers drawn from
    `pool`, subscribed with their address; their user ids."""
    upvoted, saved, dismissed = rated
    rng = np.random.default_rng(seed)
    stamp = "2019-02-01 00:00:00.000000"
    with sqlite3.connect(catalog) as db:
        first = (db.execute("SELECT coalesce(max(id), 0) FROM users").fetchone()[0]) + 1
        ids = list(range(first, first + count))
        db.executemany(
            "INSERT INTO users (id, email, username, fullname, password_hash, role, "
            "created_at, email_confirmed_at) VALUES (?, ?, ?, '', ?, 'user', ?, ?)",
            [(u, f"fyb-{u}@example.org", f"fyb-{u}", HASH, stamp, stamp) for u in ids],
        )
        db.executemany(
            "INSERT INTO collections (id, user_id, name, description, public, created_at, "
            "updated_at) VALUES (?, ?, 'Reading list', '', 0, ?, ?)",
            [(u, u, stamp, stamp) for u in ids],
        )
        votes, items, marks = [], [], []
        for u in ids:
            chosen = rng.choice(pool, upvoted + saved + dismissed, replace=False).tolist()
            votes += [(u, p, stamp) for p in chosen[:upvoted]]
            items += [(u, p, stamp) for p in chosen[upvoted : upvoted + saved]]
            marks += [(u, p, stamp) for p in chosen[upvoted + saved :]]
        db.executemany("INSERT INTO votes (user_id, paper_id, created_at) VALUES (?, ?, ?)", votes)
        db.executemany(
            "INSERT INTO collection_items (collection_id, paper_id, note, added_at) "
            "VALUES (?, ?, '', ?)",
            items,
        )
        db.executemany(
            "INSERT INTO paper_marks (user_id, paper_id, kind, created_at) "
            "VALUES (?, ?, 'dismissed', ?)",
            marks,
        )
        db.executemany(
            "INSERT INTO subscriptions (email, token, status, created_at, confirmed_at, "
            "confirmed_via) VALUES (?, ?, 'confirmed', ?, ?, 'operator')",
            [(f"fyb-{u}@example.org", secrets.token_urlsafe(32), stamp, stamp) for u in ids],
        )
    return ids


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * (len(ordered) - 1) + 0.5))]


def bench_page(home: Path, pool: np.ndarray, days: int, loads: int, acts: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from paperfeed.http.app import create_app
    from paperfeed.http.deps import SESSION_COOKIE

    catalog = home / "catalog.sqlite3"
    [user_id] = add_readers(catalog, 1, (125, 125, 50), pool, seed=7)
    clock = FrozenClock(NOW)
    rt = runtime(home, days, clock)
    user = rt.accounts.get(user_id)
    assert user is not None
    since = NOW - dt.timedelta(days=days)
    candidates = len(rt.for_you.candidates(since, NOW)[0])
    client = TestClient(create_app(rt), base_url="http://127.0.0.1")
    client.cookies.set(SESSION_COOKIE, rt.accounts.start_session(user))
    started = time.perf_counter()
    client.__enter__()  # the app starts serving (its lifespan starts the follower's thread)
    index = rt.index
    assert isinstance(index, _Store)
    index.join()  # its work after starting: the candidates' pool (ForYouService.warm)
    warmed = (time.perf_counter() - started) * 1000

    def load() -> tuple[float, float, str]:
        started = time.perf_counter()
        answer = client.get("/for-you")
        wall = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, answer.status_code
        server = float(answer.headers["server-timing"].split("dur=")[1])
        return server, wall, answer.text

    built = rt.recommender.builds
    first, _, page = load()  # the first load of the day also records what it shows
    assert page.count('class="reason"') == 30, page.count('class="reason"')
    for _ in range(4):
        load()
    warm = [load()[0] for _ in range(loads)]
    acted: list[float] = []
    posts: list[float] = []
    for _ in range(acts):
        top = re.search(r'action="/papers/([^"]+)/not-interested"', page)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert top is not None and token is not None
        posted = time.perf_counter()
        answer = client.post(
            f"/papers/{top[1]}/not-interested",
            data={"csrf_token": token[1], "on": "1"},
            headers={"referer": "http://127.0.0.1/for-you"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.status_code
        posts.append((time.perf_counter() - posted) * 1000)  # (a redirect: no Server-Timing)
        server, _, page = load()
        assert f"/papers/{top[1]}/not-interested" not in page  # gone at once
        acted.append(server)
    client.__exit__(None, None, None)
    rt.close()
    return {
        "candidates": candidates,
        "days": days,
        "rated": 300,
        "warmed_at_start_ms": round(warmed, 1),
        "builds_in_requests": rt.recommender.builds - built,
        "first_load_ms": round(first, 1),
        "reload_ms": {
            "loads": loads,
            "median": round(statistics.median(warm), 1),
            "p95": round(percentile(warm, 0.95), 1),
            "max": round(max(warm), 1),
        },
        "after_an_action_ms": {
            "acts": acts,
            "median": round(statistics.median(acted), 1),
            "p95": round(percentile(acted, 0.95), 1),
            "max": round(max(acted), 1),
            "post_wall_median": round(statistics.median(posts), 1),
        },
    }


def bench_digests(
    home: Path, pool: np.ndarray, readers: int, processes: int, outbox: bool = False
) -> dict[str, Any]:
    """The digest run; `outbox`: mailed to the outbox folder (the embedded default's mailer)
    instead of the counting SMTP server in a process of its own on the same cores."""
    catalog = home / "catalog.sqlite3"
    log(f"adding {readers:,} readers ...")
    add_readers(catalog, readers, (20, 25, 5), pool, seed=11)
    clock = FrozenClock(NOW)
    sink: subprocess.Popen[str] | None = None
    mail_kb: float | None = None  # a mail's median size (in the outbox)
    folder = home / "bench-outbox"
    shutil.rmtree(folder, ignore_errors=True)
    if outbox:
        mailer: dict[str, Any] = {"smtp_host": None, "outbox_dir": folder}
    else:
        port, sink = start_sink()
        mailer = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    rt = runtime(
        home,
        7,
        clock,
        base_url="https://papers.example.org",
        mail_from="paperfeed <digest@papers.example.org>",
        digest_processes=processes,
        **mailer,
    )

    def personal_elsewhere() -> PersonalDigests:  # a chooser process's own, over the bench's store
        own = runtime(home, 7, clock)
        return PersonalDigests(own.for_you, own.secret)

    rt.digest_sender.make_personal = personal_elsewhere
    chosen: list[float] = []  # a batch's sections chosen in this process: seconds a reader
    original = PersonalDigests.choose_many

    def timed(self: PersonalDigests, asks: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, asks, *args, **kwargs)
        finally:
            chosen.extend([(time.perf_counter() - started) / max(1, len(asks))] * len(asks))

    PersonalDigests.choose_many = timed  # type: ignore[method-assign]
    times_before = os.times()
    started = time.perf_counter()
    try:
        report = rt.digest_sender.send(kinds=("daily",), day=LAST_DAY)
        times_after = os.times()  # (the chooser processes ended: counted as children)
    finally:
        PersonalDigests.choose_many = original  # type: ignore[method-assign]
        if sink is not None:
            count, sink_cpu = stop_sink(sink)
        else:
            sizes = sorted(f.stat().st_size for f in folder.glob("*.eml"))
            count, sink_cpu = len(sizes), 0.0
            mail_kb = round(statistics.median(sizes) / 1024, 1) if sizes else None
            shutil.rmtree(folder, ignore_errors=True)
    wall = time.perf_counter() - started
    rt.close()
    cpu = (times_after.user - times_before.user) + (times_after.system - times_before.system)
    children = (times_after.children_user - times_before.children_user) + (
        times_after.children_system - times_before.children_system
    )
    return {
        "readers": readers,
        "rated": 50,
        "candidates_days": 3,
        "sent": report.sent,
        "skipped": report.skipped,
        "failed": report.failed,
        "received": count,
        "wall_s": round(wall, 1),
        "processes": processes,
        "cpu_s": round(cpu, 1),
        "chooser_processes_cpu_s": round(children, 1),
        "mailed_to": "outbox" if outbox else "SMTP server",
        "mail_kb_median": mail_kb,
        "smtp_server_cpu_s": round(sink_cpu, 1),  # the counting sink, on the same cores
        # (in this process only: chosen in others when the run was large enough), a batch's
        # time spread evenly over its readers
        "personal_sections_s": round(sum(chosen), 1),
        "personal_ms_per_reader": {
            "median": round(1000 * statistics.median(chosen), 1),
            "p95 of batches": round(1000 * percentile(chosen, 0.95), 1),
        }
        if chosen
        else None,
        "projected_10000_s": round(wall * 10_000 / readers, 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench foryou", description=__doc__)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--loads", type=int, default=100)
    parser.add_argument("--acts", type=int, default=20)
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument(
        "--processes", type=int, default=2, help="the sender's digest_processes (1: one process)"
    )
    parser.add_argument(
        "--outbox",
        action="store_true",
        help="digests mailed to an outbox folder (the embedded default), not an SMTP server",
    )
    parser.add_argument("--skip-page", action="store_true")
    parser.add_argument("--skip-digests", action="store_true")
    args = parser.parse_args(argv)

    home = site_home()
    catalog = home / "catalog.sqlite3"
    prepared = Runtime(Settings(home=home, database_url=None, embedder="none"))
    try:
        ids = paper_ids(prepared.catalog)  # (the copy is migrated on first open)
        build_lexical(prepared.catalog, work_dir())
        build_vectors(ids, work_dir(), 1)
        build_terms(prepared.catalog, work_dir())
    finally:
        prepared.close()
    pool = ids[:-30_000]  # rated papers: older than every window measured
    reset(catalog)
    result: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "load": [round(x, 2) for x in os.getloadavg()],
        "papers": len(ids),
    }
    if not args.skip_page:
        result["page"] = bench_page(home, pool, args.days, args.loads, args.acts)
        log(f"page: {result['page']}")
    if not args.skip_digests:
        result["digests"] = bench_digests(home, pool, args.readers, args.processes, args.outbox)
        log(f"digests: {result['digests']}")
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = {
        "page_p95_ms": TARGET_PAGE_P95_MS,
        "digests_10000_s": TARGET_DIGEST_S,
    }
    print(json.dumps(result, indent=2))
    return 0
