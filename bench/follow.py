"""`python -m bench follow`: how long after a commit on one node papers are searchable on
another node that shares the PostgreSQL catalog (paperfeed.search.follow).

Node B is a real server process (`uvicorn paperfeed.http.server:app`) with its own data
directory; node A is this process, with another data directory, writing PAPERS new papers in
one transaction per round (as an import batch does) and then indexing its own directory in
the background, as `paperfeed import` does. For each round the time from A's commit to the
moment B's search API finds all of the round's papers (one word common to them, `total`) is
measured; the median over ROUNDS is printed with the spread.

    python -m bench follow --papers 1000 --rounds 7
    PAPERFEED_BENCH_DATABASE_URL=postgresql+psycopg://user@host:port/postgres python -m bench follow
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.pg import Server
from paperfeed.config import Settings
from paperfeed.ingest.runner import write_batch
from paperfeed.papers.record import PaperRecord
from paperfeed.runtime import Runtime

WORDS = [
    "graph",
    "neural",
    "sparse",
    "attention",
    "retrieval",
    "protein",
    "lattice",
    "quantum",
    "spectral",
    "diffusion",
    "kernel",
    "bayesian",
    "robust",
    "causal",
    "manifold",
    "tensor",
    "stochastic",
    "convex",
    "photon",
    "galaxy",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _papers(round_no: int, count: int, rng: random.Random) -> list[PaperRecord]:
    marker = f"followround{round_no}"
    return [
        PaperRecord(
            source="snapshot",
            arxiv_id=f"29{round_no:02d}.{i:05d}",
            title=f"{' '.join(rng.sample(WORDS, 5))} {marker}",
            abstract=" ".join(rng.choices(WORDS, k=120)),
            categories=["cs.LG"],
            freshness=dt.datetime(2026, 12, 1),
        )
        for i in range(1, count + 1)
    ]


def _total(client: httpx.Client, word: str) -> int:
    response = client.get("/api/v1/search", params={"q": word, "mode": "lexical", "limit": 1})
    return int(response.json()["total"]) if response.status_code == 200 else -1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench follow", description=__doc__)
    parser.add_argument("--papers", type=int, default=1000, help="new papers per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="also write the runs here")
    args = parser.parse_args(argv)
    rng = random.Random(1)
    with Server() as server, server.database() as (url, _admin):
        folder = Path(tempfile.mkdtemp(prefix="paperfeed-bench-follow-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
        env.update(
            PAPERFEED_HOME=str(folder / "b"),
            PAPERFEED_DATABASE_URL=url,
            PAPERFEED_CONFIG=str(folder / "none.toml"),
            PAPERFEED_EMBEDDER="none",  # what is measured is searchable by words
        )
        port = _free_port()
        log = (folder / "b.log").open("wb")
        node_b = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "paperfeed.http.server:app"),
                *("--port", str(port), "--log-level", "warning"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        node_a = Runtime(Settings(home=folder / "a", database_url=url, embedder="none"))
        latencies: list[float] = []
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/api/v1/trending").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit((folder / "b.log").read_text())
                time.sleep(0.1)
            for round_no in range(1, args.rounds + 1):
                records = _papers(round_no, args.papers, rng)
                write_batch(node_a.engine, node_a.catalog_writer, records)
                committed = time.monotonic()
                threading.Thread(target=node_a.index.after_import, daemon=True).start()
                while _total(client, f"followround{round_no}") < args.papers:
                    if time.monotonic() - committed > 60:
                        raise SystemExit(f"round {round_no}: not searchable on B after 60 s")
                    time.sleep(0.02)
                latencies.append(time.monotonic() - committed)
                print(f"round {round_no}: {latencies[-1]:.2f} s", file=sys.stderr)
                time.sleep(1.5)  # let node A finish indexing its own directory
        finally:
            node_a.close()
            node_b.terminate()
            node_b.wait(timeout=30)
            log.close()
    result = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "papers_per_round": args.papers,
        "rounds": len(latencies),
        "median_s": round(statistics.median(latencies), 3),
        "min_s": round(min(latencies), 3),
        "max_s": round(max(latencies), 3),
        "runs_s": [round(x, 3) for x in latencies],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
