"""`python -m bench foryou-model`: the model's part of "For you" at a million papers: one
reader's ranking (`Recommender.rank`, as `/for-you` calls it) and a digest run's rankings.

    python -m bench foryou-model                    # 1M papers, 300 rated, 15,000 candidates
    python -m bench foryou-model --readers 2000     # fewer digest readers (scaled up)

Built once and cached in ~/.cache/paperfeed-bench/foryou-1000000/:
- the catalog: the 1,000,000-paper SQLite catalog of `python -m bench digest`
  (digest-1000000-seed1, generated arXiv-like records) is read, never written;
- the word index: its papers' titles and abstracts in the search index's LexicalIndex;
- the vector table by paper id (what `Recommender.rank` reads): one vector per paper, noisy
  mixtures of the real MiniLM vectors of the recommender dev set (bench/recsys.py; embedding
  a million abstracts takes hours here), L2-normalised, float16, as `VectorIndex` stores them.
  The HNSW graph beside it holds a handful of vectors only: the recommender does not search
  it;
- the papers' terms (search/terms.py, `terms.sqlite3`), each paper's made as the indexer
  makes them and stored by this bench (`build_terms`; ~5 minutes). (Until 2026-12-04 it
  called `Indexer.update_terms`, which since 2026-12-04 01:00 stores nothing for an index
  without a lexical watermark, as this one is: a cache built after that held no terms, and
  every ranking analysed its liked papers' text from the catalog. Delete
  `foryou-1000000/terms.done` and `gen-bench/terms.sqlite3` of such a cache.)

Measured: (1) a reader with 300 rated papers (250 liked, 50 disliked, drawn at random from
papers before the candidates) ranking the newest 15,000 papers (about a week), limit 50, the
median and p95 over `--queries` readers after a warm-up (wall clock, and CPU time of the
process: `_cpu`): each reader's first ranking in the
process (their papers' terms read from the term store) and a second after one action (one more
paper "not interested"), and how many of the top 50 the centres of interest change against
every liked paper compared one by one (after the candidates' pool is made, timed apart, for
the list of a minute before, then for the list 10 papers on: `pool_moved_ms`);
(2) digests: `--readers` readers with 50 rated papers each (45 liked, 5 disliked), each
ranking one day's (3,000) and one week's (15,000) candidates, limit 10, in `--processes`
processes (the 2 cores). Times are wall clock, in this process (or its workers), after the
index is open."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sqlite3
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from bench.common import cache_dir
from paperfeed.db.schema import papers
from paperfeed.papers.catalog import Catalog
from paperfeed.recommend.service import Recommender, Weights
from paperfeed.search.lexical import IndexDocument, LexicalIndex
from paperfeed.search.store import IndexMeta, SearchStore
from paperfeed.search.terms import paper_terms
from paperfeed.search.vectors import VectorIndex

DIM = 384
WEEK = 15_000
DAY = 3_000


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def catalog_home() -> Path:
    home = cache_dir() / "digest-1000000-seed1" / "home"
    if not (home / "catalog.sqlite3").is_file():
        raise SystemExit(f"no 1M catalog at {home}: run `python -m bench digest` first")
    return home


def work_dir() -> Path:
    path = cache_dir() / "foryou-1000000"
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_catalog() -> Catalog:
    """The 1M catalog, read only and as it is (its schema is not brought up to date: another
    branch's benchmark may have migrated it further)."""
    path = catalog_home() / "catalog.sqlite3"
    engine = sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    return Catalog(engine, engine)


def paper_ids(catalog: Catalog) -> np.ndarray:
    with catalog.reader.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.select(papers.c.id).order_by(papers.c.id))]
    return np.asarray(ids, np.int64)


def build_lexical(catalog: Catalog, root: Path) -> None:
    done = root / "lexical.done"
    if done.exists():
        return
    log("building the word index of 1M papers (once) ...")
    started = time.perf_counter()
    index = LexicalIndex(root / "gen-bench" / "lexical")
    query = sa.select(papers.c.id, papers.c.title, papers.c.abstract).order_by(papers.c.id)
    with catalog.reader.connect() as conn:
        rows = conn.execution_options(stream_results=True, yield_per=20_000).execute(query)
        batch: list[IndexDocument] = []
        for row in rows:
            batch.append(IndexDocument(row.id, row.title, row.abstract or "", (), (), None))
            if len(batch) >= 20_000:
                index.upsert(batch)
                batch.clear()
        index.upsert(batch)
    index.commit()
    done.write_text(f"{time.perf_counter() - started:.0f} s\n")


def build_terms(catalog: Catalog, root: Path) -> None:
    """Each paper's terms stored beside the index (search/terms.py), as the indexer stores
    them with a paper's words; the bench builds its word index without the indexer
    (`build_lexical`: no watermark, so `Indexer.update_terms`, the fill-in for an older
    index, leaves it to a first `update_lexical` and stores nothing), so it stores the terms
    itself, in pages of ids (resumable)."""
    opened = store(root)
    start = opened.terms.filled_through()
    if start is None:  # every paper's are stored
        return
    log("storing the terms of 1M papers (once; resumable) ...")
    started = last = time.perf_counter()
    stored = 0
    while True:
        query = (
            sa.select(papers.c.id, papers.c.title, papers.c.abstract, papers.c.modified_at)
            .where(papers.c.id > start)
            .order_by(papers.c.id)
            .limit(20_000)
        )
        with catalog.reader.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            opened.terms.put((), complete=True)
            break
        start = rows[-1].id
        stored += opened.terms.put(
            ((r.id, r.modified_at, paper_terms(r.title, r.abstract or "")) for r in rows),
            filled_through=start,
        )
        if time.perf_counter() - last > 30:
            last = time.perf_counter()
            log(f"  {stored:,} papers, {stored / (last - started):,.0f} a second")
    took = time.perf_counter() - started
    (root / "terms.done").write_text(f"{stored} papers in {took:.0f} s\n")


def build_vectors(ids: np.ndarray, root: Path, seed: int) -> None:
    path = root / "gen-bench" / "vectors.usearch"
    if (root / "vectors.done").exists():
        return
    log("synthesising 1M vectors (once) ...")
    with sqlite3.connect(cache_dir() / "recsys-vectors.sqlite3") as conn:  # bench/vector_cache
        real = np.vstack(
            [np.frombuffer(v, np.float32) for (v,) in conn.execute("SELECT vector FROM v")]
        )
    rng = np.random.default_rng(seed)
    table = np.lib.format.open_memmap(
        path.with_name(path.name + ".byid.npy"),
        mode="w+",
        dtype=np.float16,
        shape=(int(ids.max()) + 1, DIM),
    )
    for start in range(0, len(ids), 50_000):
        chunk = ids[start : start + 50_000]
        a, b = rng.integers(0, len(real), (2, len(chunk)))
        mixed = 0.7 * real[a] + 0.3 * real[b] + rng.normal(0, 0.02, (len(chunk), DIM))
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        table[chunk] = mixed.astype(np.float16)
    table.flush()
    del table
    graph = VectorIndex(path.with_name("graph-tmp.usearch"), DIM)
    keep = ids[[0, -1]]
    graph.upsert(keep.tolist(), np.zeros((2, DIM), np.float32) + 1 / np.sqrt(DIM))
    graph.index.save(str(path))  # the graph alone: the table above is the real one
    (root / "vectors.done").write_text("ok\n")


def store(root: Path) -> SearchStore:
    meta = IndexMeta(generation="gen-bench", model="synthetic", dim=DIM)
    return SearchStore(root, "gen-bench", meta)


def reader(rng: np.random.Generator, pool: np.ndarray, rated: int) -> tuple[list[int], list[int]]:
    chosen = rng.choice(pool, rated, replace=False).tolist()
    liked = chosen[: rated - rated // 6]
    return liked, chosen[len(liked) :]


def _summary(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "max_ms": round(times[-1], 1),
    }


def one_reader(service: Recommender, ids: np.ndarray, queries: int, seed: int) -> dict[str, Any]:
    """Each reader twice: their first ranking in this process (their papers' words read and
    analysed: `new reader`), then again after one action (one more paper marked "not
    interested", the top one: `after an action`). The second ranking is also made with
    every liked paper its own centre of interest (`exact`) to measure what the centres
    change: the share of the top 50 both rankings hold."""
    rng = np.random.default_rng(seed)
    candidates = ids[-WEEK:].tolist()
    pool = ids[:-WEEK]
    exact = Recommender(
        service._store, service.catalog, weights=replace(service.weights, centres=10**6)
    )
    earlier = ids[-WEEK - 10 : -10].tolist()  # the list of a minute before: 10 papers moved
    started = time.perf_counter()
    service.prepare(earlier)  # the candidates' pool, made once (as a serving process does)
    made = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    service.prepare(candidates)  # made from the one before
    moved = (time.perf_counter() - started) * 1000
    first: list[float] = []
    again: list[float] = []
    first_cpu: list[float] = []  # time.process_time: less sensitive to the box's load
    again_cpu: list[float] = []
    overlap: list[float] = []
    readers: list[tuple[list[int], list[int], set[int]]] = []
    for n in range(queries + 5):
        liked, disliked = reader(rng, pool, 300)
        started, cpu = time.perf_counter(), time.process_time()
        found = service.rank(liked, disliked, candidates, limit=50)
        took = (time.perf_counter() - started) * 1000
        took_cpu = (time.process_time() - cpu) * 1000
        assert len(found) == 50
        disliked = [*disliked, found[0].paper_id]
        started, cpu = time.perf_counter(), time.process_time()
        found = service.rank(liked, disliked, candidates, limit=50)
        took_again = (time.perf_counter() - started) * 1000
        took_again_cpu = (time.process_time() - cpu) * 1000
        if n >= 5:  # warm-up
            first.append(took)
            again.append(took_again)
            first_cpu.append(took_cpu)
            again_cpu.append(took_again_cpu)
            if n < 25:
                readers.append((liked, disliked, {r.paper_id for r in found}))
    for liked, disliked, top in readers:  # (apart: not to disturb the timings)
        kept = {r.paper_id for r in exact.rank(liked, disliked, candidates, limit=50)}
        overlap.append(len(kept & top) / 50)
    return {
        "readers": queries,
        "pool_made_ms": round(made, 1),
        "pool_moved_ms": round(moved, 1),
        "new_reader": _summary(first),
        "after_an_action": _summary(again),
        "new_reader_cpu": _summary(first_cpu),
        "after_an_action_cpu": _summary(again_cpu),
        "top50_shared_with_exact": round(statistics.mean(overlap), 3),
    }


def _digest_part(args: tuple[int, int, int, int]) -> float:
    first, count, width, seed = args
    root = work_dir()
    catalog = open_catalog()
    opened = store(root)  # (as the app's: one store, refreshed when the index changes)
    service = Recommender(lambda: opened, catalog)
    ids = paper_ids(catalog)
    candidates = ids[-width:].tolist()
    pool = ids[:-WEEK]
    rng = np.random.default_rng(seed + first)
    started = time.perf_counter()
    for _ in range(count):
        liked, disliked = reader(rng, pool, 50)
        service.rank(liked, disliked, candidates, limit=10)
    catalog.reader.dispose()
    return time.perf_counter() - started


def digests(readers: int, processes: int, width: int, seed: int) -> dict[str, Any]:
    share = readers // processes
    parts = [(n * share, share, width, seed) for n in range(processes)]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        busy = pool.map(_digest_part, parts)
    wall = time.perf_counter() - started
    return {
        "readers": share * processes,
        "candidates": width,
        "processes": processes,
        "wall_s": round(wall, 1),
        "ranking_s_per_process": [round(b, 1) for b in busy],
        "ms_per_reader": round(1000 * max(busy) * processes / (share * processes), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench foryou-model", description=__doc__)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-digests", action="store_true")
    parser.add_argument(
        "--no-categories", action="store_true", help="the model without its categories signal"
    )
    args = parser.parse_args(argv)

    root = work_dir()
    catalog = open_catalog()
    ids = paper_ids(catalog)
    build_lexical(catalog, root)
    build_vectors(ids, root, args.seed)
    build_terms(catalog, root)
    opened = store(root)  # (as the app's: one store, refreshed when the index changes)
    weights = Weights(categories=0.0) if args.no_categories else Weights()
    service = Recommender(lambda: opened, catalog, weights=weights)
    result: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "load": os.getloadavg(),
        "papers": len(ids),
        "for_you": one_reader(service, ids, args.queries, args.seed),
    }
    log(f"for-you: {result['for_you']}")
    if not args.skip_digests:
        for name, width in (("digest_day", DAY), ("digest_week", WEEK)):
            result[name] = digests(args.readers, args.processes, width, args.seed)
            log(f"{name}: {result[name]}")
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    return 0
