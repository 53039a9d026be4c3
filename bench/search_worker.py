"""Subprocess side of `python -m bench search` (see bench/search.py): each command runs in a
fresh interpreter so its peak RSS and CPU time are its own, and prints one JSON object.

    python -m bench.search_worker sample HOME OUT.npz --n 10000 --seed 1
    python -m bench.search_worker vectors HOME SAMPLE.npz --seed 1
    python -m bench.search_worker serve HOME QUERIES.json [--warmup 30]
    python -m bench.search_worker embed CORPUS.jsonl.gz --docs 2000 --variant int8-t128
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import random
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.db.schema import papers
from paperfeed.runtime import Runtime
from paperfeed.search import minilm
from paperfeed.search import service as service_module
from paperfeed.search.embedder import Embedder, document_text, normalise
from paperfeed.search.fusion import dbsf_blend
from paperfeed.search.minilm import MiniLMEmbedder
from paperfeed.search.wordllama import WordLlamaEmbedder

F32 = npt.NDArray[np.float32]
T = TypeVar("T")
Mode = Literal["lexical", "dense", "hybrid"]
MODES: tuple[Mode, ...] = ("lexical", "dense", "hybrid")
SYNTH_CHUNK = 2000  # vectors per VectorIndex.upsert, as Indexer.update_vectors (_PAGE)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def runtime_for(home: Path) -> Runtime:
    # Each query is searched in several modes and passes: keeping its vector would time the
    # later ones without their embedding (a process keeps query vectors by default).
    return Runtime(Settings(home=home, embedder="minilm", search_query_vectors=0))


# -- sample: embed real papers of the catalog ---------------------------------------------------


def cmd_sample(home: Path, out: Path, n: int, seed: int, first: int) -> dict[str, Any]:
    """Embed n papers drawn (seeded) from the first `first` ids with the real model; saved by
    arXiv id so catalogs of other sizes built from the same generated file can reuse them."""
    runtime = runtime_for(home)
    embedder = runtime.embedder()
    assert embedder is not None
    with runtime.engine.connect() as conn:
        top = int(conn.execute(sa.select(sa.func.max(papers.c.id))).scalar_one())
        ids = sorted(random.Random(seed).sample(range(1, min(first, top) + 1), n))
        rows: list[Any] = []
        for start in range(0, len(ids), 500):
            rows += conn.execute(
                sa.select(papers.c.arxiv_id, papers.c.title, papers.c.abstract).where(
                    papers.c.id.in_(ids[start : start + 500])
                )
            ).all()
    texts = [document_text(r.title, r.abstract or "") for r in rows]
    started, cpu = time.perf_counter(), time.process_time()
    matrix = embedder.embed_documents(texts)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    np.savez(out, arxiv_ids=np.array([r.arxiv_id for r in rows]), vectors=matrix)
    return {"n": len(rows), "seconds": seconds, "cpu_seconds": cpu_s, "model": embedder.name}


# -- vectors: synthesise the rest, build the HNSW index, point meta at it -------------------------


def synthesise(real: F32, count: int, rng: np.random.Generator) -> F32:
    """count vectors that are noisy mixtures of two real ones: v = a*r_i + (1-a)*r_j + noise,
    a ~ U(0.55, 1), per-dimension noise sd 0.03 (norm ~0.6 before normalising; the mixtures'
    cosine to their main parent is ~0.8), L2-normalised. Keeps the real vectors' anisotropy and
    topic clusters while making every vector distinct."""
    i = rng.integers(0, len(real), count)
    j = rng.integers(0, len(real), count)
    a = rng.uniform(0.55, 1.0, (count, 1))
    noise = rng.normal(0.0, 0.03, (count, real.shape[1]))
    mixed = a * real[i] + (1.0 - a) * real[j] + noise
    return normalise(np.asarray(mixed, dtype=np.float32))


def neighbour_cosines(matrix: F32, probes: int, rng: np.random.Generator) -> float:
    """Median cosine of each probe's 10th nearest neighbour (exact, excluding itself)."""
    picks = rng.choice(len(matrix), size=min(probes, len(matrix)), replace=False)
    sims = matrix[picks] @ matrix.T
    sims[np.arange(len(picks)), picks] = -1.0
    tenth = np.sort(sims, axis=1)[:, -10]
    return float(np.median(tenth))


def cmd_vectors(home: Path, sample: Path, seed: int, deadline: float) -> dict[str, Any]:
    """Build the index; with deadline > 0, stop adding after that many seconds (the index then
    holds the papers with the lowest ids only, and says so in the result)."""
    runtime = runtime_for(home)
    embedder = runtime.embedder()
    assert embedder is not None
    data = np.load(sample)
    with runtime.engine.connect() as conn:
        by_arxiv = {
            str(a): int(i) for a, i in conn.execute(sa.select(papers.c.arxiv_id, papers.c.id))
        }
    all_ids = np.array(sorted(by_arxiv.values()), dtype=np.int64)
    real_ids = [by_arxiv.get(str(a)) for a in data["arxiv_ids"]]
    keep = [k for k, pid in enumerate(real_ids) if pid is not None]
    real = np.asarray(data["vectors"][keep], dtype=np.float32)
    real_map = {int(real_ids[k] or 0): row for row, k in enumerate(keep)}
    rng = np.random.default_rng(seed)

    store = runtime.search_store
    path = store.directory / "vectors.usearch"
    path.unlink(missing_ok=True)
    store._vectors = None
    index = store.vectors(embedder.dim)
    synth_s = build_s = 0.0
    started_cpu, rss_before = time.process_time(), rss_mb()
    check: list[F32] = []
    for start in range(0, len(all_ids), SYNTH_CHUNK):
        if deadline and synth_s + build_s > deadline:
            break
        ids = all_ids[start : start + SYNTH_CHUNK]
        t0 = time.perf_counter()
        block = synthesise(real, len(ids), rng)
        for row, pid in enumerate(ids):
            if int(pid) in real_map:
                block[row] = real[real_map[int(pid)]]
        if start < 20_000:
            check.append(block)
        t1 = time.perf_counter()
        index.upsert([int(p) for p in ids], block)
        synth_s += t1 - t0
        build_s += time.perf_counter() - t1
    rss_built = rss_mb()
    t0 = time.perf_counter()
    index.save()
    save_s = time.perf_counter() - t0
    cpu_s = time.process_time() - started_cpu
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()
    meta = store.meta
    meta.model, meta.dim, meta.vector_watermark = embedder.name, embedder.dim, now
    store.save_meta()
    synthetic = np.concatenate(check)[:20_000]
    return {
        "vectors": len(index),
        "papers": len(all_ids),
        "complete": len(index) == len(all_ids),
        "real": sum(1 for pid in real_map if pid in index),
        "synth_seconds": synth_s,
        "hnsw_seconds": build_s,
        "save_seconds": save_s,
        "cpu_seconds": cpu_s,
        "rss_before_mb": rss_before,
        "rss_built_mb": rss_built,
        "peak_rss_mb": peak_rss_mb(),
        "file_mb": path.stat().st_size / 1e6,
        "nn10_cos_real": neighbour_cosines(real[: len(synthetic)], 200, rng),
        "nn10_cos_mixed": neighbour_cosines(synthetic, 200, rng),
        "model": embedder.name,
    }


# -- serve: query latency through the real SearchService ---------------------------------------


class Timers:
    """Wall time per named part of one search (wrapped calls on the real objects). A part
    that runs in another thread than the search's (the query's embedding and the graph
    search, beside the word search) is named with BESIDE: it overlaps the others, so it is
    not subtracted from the search's time for "other" (which then includes the wait for
    it)."""

    BESIDE = " (beside)"

    def __init__(self) -> None:
        self.current: dict[str, float] = {}
        self._lock = threading.Lock()

    def wrap(self, name: str, fn: Callable[..., T]) -> Callable[..., T]:
        def timed(*args: Any, **kwargs: Any) -> T:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                took = time.perf_counter() - t0
                key = (
                    name
                    if threading.current_thread() is threading.main_thread()
                    else (name + self.BESIDE)
                )
                with self._lock:
                    self.current[key] = self.current.get(key, 0.0) + took

        return timed

    def other(self, total: float) -> float:
        """The search's time not in a part of its own thread."""
        return total - sum(v for k, v in self.current.items() if not k.endswith(self.BESIDE))


@contextmanager
def instrumented(runtime: Runtime, embedder: Embedder, timers: Timers) -> Iterator[None]:
    svc = runtime.search
    lexical = svc.store.lexical
    index = svc.store.vectors(embedder.dim)
    saved_top = lexical.top
    saved = (lexical.search, lexical.restrict, embedder.embed_query, index.search, svc._hits)
    saved_set = (
        lexical.holding_every_word,
        lexical.every_word_papers,
        lexical.holding_every_word_by_id,
        lexical.relevant_by_date,
    )
    lexical.search = timers.wrap("tantivy", lexical.search)  # type: ignore[method-assign]
    lexical.top = timers.wrap("tantivy", lexical.top)  # type: ignore[method-assign]
    lexical.restrict = timers.wrap("restrict", lexical.restrict)  # type: ignore[method-assign]
    # The relevant set: which candidates hold every word, and the set's count (or date order).
    lexical.holding_every_word = timers.wrap("every word", lexical.holding_every_word)  # type: ignore[method-assign]
    lexical.every_word_papers = timers.wrap("every word", lexical.every_word_papers)  # type: ignore[method-assign]
    lexical.holding_every_word_by_id = timers.wrap("every word", lexical.holding_every_word_by_id)  # type: ignore[method-assign]
    lexical.relevant_by_date = timers.wrap("count", lexical.relevant_by_date)  # type: ignore[method-assign]
    embedder.embed_query = timers.wrap("embed_query", embedder.embed_query)  # type: ignore[method-assign]
    index.search = timers.wrap("ann", index.search)  # type: ignore[method-assign]
    svc._hits = timers.wrap("fetch+snippets", svc._hits)  # type: ignore[method-assign]
    setattr(service_module, "dbsf_blend", timers.wrap("fusion", dbsf_blend))  # noqa: B010
    try:
        yield
    finally:
        lexical.search, lexical.restrict, embedder.embed_query, index.search, svc._hits = saved  # type: ignore[method-assign]
        lexical.top = saved_top  # type: ignore[method-assign]
        (
            lexical.holding_every_word,  # type: ignore[method-assign]
            lexical.every_word_papers,  # type: ignore[method-assign]
            lexical.holding_every_word_by_id,  # type: ignore[method-assign]
            lexical.relevant_by_date,  # type: ignore[method-assign]
        ) = saved_set
        setattr(service_module, "dbsf_blend", dbsf_blend)  # noqa: B010


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(wall: list[float], cpu: list[float]) -> dict[str, float]:
    ms = [w * 1000 for w in wall]
    return {
        "n": len(ms),
        "p50": percentile(ms, 0.5),
        "p95": percentile(ms, 0.95),
        "p99": percentile(ms, 0.99),
        "mean": statistics.fmean(ms),
        "cpu_p50": percentile([c * 1000 for c in cpu], 0.5),
        "cpu_mean": statistics.fmean(c * 1000 for c in cpu),
    }


def cmd_serve(home: Path, queries_file: Path, warmup: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    rss_start = rss_mb()
    runtime = runtime_for(home)
    svc = runtime.search
    embedder = svc._dense_ready()
    if embedder is None:
        raise SystemExit(f"{home}: the vector index is not usable (meta.model mismatch?)")
    vectors = svc.store.vectors(embedder.dim)
    lexical_docs = svc.store.lexical.num_docs()
    open_s = time.perf_counter() - t0
    rss_open = rss_mb()
    spec = json.loads(queries_file.read_text())
    queries: list[str] = spec["queries"]
    for text in spec["warmup"][:warmup]:
        for mode in MODES:
            svc.search(text, limit=10, mode=mode)
    wall: dict[str, list[float]] = {m: [] for m in MODES}
    cpu: dict[str, list[float]] = {m: [] for m in MODES}
    empty = {m: 0 for m in MODES}
    for k, text in enumerate(queries):
        order = MODES[k % 3 :] + MODES[: k % 3]  # rotate: no mode always runs on a cold cache
        for mode in order:
            w, c = time.perf_counter(), time.process_time()
            result = svc.search(text, limit=10, mode=mode)
            wall[mode].append(time.perf_counter() - w)
            cpu[mode].append(time.process_time() - c)
            empty[mode] += not result.hits
    # Breakdown: a second pass over the same queries (hybrid) with the parts timed.
    timers = Timers()
    parts: dict[str, list[float]] = {}
    totals: list[float] = []
    with instrumented(runtime, embedder, timers):
        for text in queries:
            timers.current = {}
            w = time.perf_counter()
            svc.search(text, limit=10, mode="hybrid")
            total = time.perf_counter() - w
            totals.append(total)
            timers.current["other"] = timers.other(total)
            for name, value in timers.current.items():
                parts.setdefault(name, []).append(value * 1000)
    breakdown = {
        name: {"p50": percentile(v, 0.5), "mean": statistics.fmean(v), "p95": percentile(v, 0.95)}
        for name, v in parts.items()
    }
    knobs = probe(runtime, embedder, queries[:200])
    return {
        "knobs": knobs,
        "papers": lexical_docs,
        "vectors": len(vectors),
        "candidates": svc.candidates,
        "expansion_search": int(vectors.index.expansion_search),
        "open_seconds": open_s,
        "rss_start_mb": rss_start,
        "rss_open_mb": rss_open,
        "rss_end_mb": rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
        "modes": {m: summary(wall[m], cpu[m]) for m in MODES},
        "empty": empty,
        "breakdown": breakdown,
        "breakdown_total_p50": percentile([t * 1000 for t in totals], 0.5),
        "ort_threads": os.cpu_count(),
    }


def probe(runtime: Runtime, embedder: Embedder, queries: list[str]) -> dict[str, float]:
    """p50 ms of single parts at other depths than the service's (what a knob would buy)."""
    from paperfeed.search.query import parse_query

    svc = runtime.search
    index = svc.store.vectors(embedder.dim)
    parsed = [parse_query(q) for q in queries]
    vecs = [embedder.embed_query(q.text) for q in parsed]
    out: dict[str, float] = {}

    def timed(name: str, fn: Callable[[int], object]) -> None:
        times = []
        for k in range(len(parsed)):
            t0 = time.perf_counter()
            fn(k)
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = percentile(times, 0.5)
        out[name + " p95"] = percentile(times, 0.95)

    def lexical_at(depth: int) -> Callable[[int], object]:
        return lambda k: svc.store.lexical.search(parsed[k], limit=depth)

    def ann_at(depth: int) -> Callable[[int], object]:
        return lambda k: index.search(vecs[k], depth)

    for depth in (100, 300, 1000):
        timed(f"tantivy top-{depth}", lexical_at(depth))
    for depth in (10, 100, 300, 1000):
        timed(f"ann top-{depth}", ann_at(depth))
    saved = index.index.expansion_search
    for ef in (64, 128):
        index.index.expansion_search = ef  # type: ignore[misc]  # has a setter at run time
        timed(f"ann top-100 ef{ef}", ann_at(100))
    index.index.expansion_search = saved  # type: ignore[misc]
    timed("embed_query", lambda k: embedder.embed_query(parsed[k].text))
    single = MiniLMEmbedder.load(runtime.settings.home / "models", threads=1)
    timed("embed_query 1 thread", lambda k: single.embed_query(parsed[k].text))
    ids = [[pid for pid, _ in svc.store.lexical.search(q, limit=10)[0]] for q in parsed]
    timed("catalog.get_many(10)", lambda k: svc.catalog.get_many(ids[k]))
    return out


# -- embed: document throughput of the model -----------------------------------------------------


def _fp32_model(cache_dir: Path) -> Path:
    """The shipped graph with its de-quantisation folded into fp32 weights (cached)."""
    import onnxruntime as ort

    source = minilm._package_dir(minilm.MODEL_PACKAGE) / "model.onnx"
    target = cache_dir / "minilm-l6-fp32-folded.onnx"
    if not target.exists():
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(target)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    return target


def load_variant(variant: str, cache_dir: Path) -> MiniLMEmbedder | WordLlamaEmbedder:
    if variant == "wordllama":  # the fast mode (a static model)
        return WordLlamaEmbedder.load(cache_dir)
    model, _, tokens = variant.partition("-t")
    minilm.MAX_TOKENS = int(tokens or 128)  # read at call time by embed_documents
    if model == "int8":  # the default: dynamic int8 re-quantisation (what paperfeed uses)
        return MiniLMEmbedder.load(cache_dir)
    tokenizer = minilm._package_dir(minilm.TOKENIZER_PACKAGE) / minilm.TOKENIZER_FILE
    if model == "shipped":  # the package's graph as is (de-quantises weights on every call)
        path = minilm._package_dir(minilm.MODEL_PACKAGE) / "model.onnx"
    elif model == "fp32":
        path = _fp32_model(cache_dir)
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    return MiniLMEmbedder(path, tokenizer, version=model)


def cmd_embed(corpus: Path, docs: int, variant: str, cache_dir: Path) -> dict[str, Any]:
    texts: list[str] = []
    with gzip.open(corpus, "rt") as fh:
        for line in fh:
            rec = json.loads(line)
            texts.append(document_text(rec.get("title") or "", rec.get("text") or ""))
            if len(texts) >= docs:
                break
    embedder = load_variant(variant, cache_dir)
    embedder.embed_documents(texts[:64])  # warm-up (allocations, kernels)
    tokens = embedder.document_tokens(texts)
    started, cpu = time.perf_counter(), time.process_time()
    embedder.embed_documents(texts)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    return {
        "variant": variant,
        "docs": len(texts),
        "seconds": seconds,
        "cpu_seconds": cpu_s,
        "rate": len(texts) / seconds,
        "mean_tokens": statistics.fmean(tokens),
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search_worker")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sample")
    p.add_argument("home", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--first", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("vectors")
    p.add_argument("home", type=Path)
    p.add_argument("sample", type=Path)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--deadline", type=float, default=0.0, help="stop adding after N s")
    p = sub.add_parser("serve")
    p.add_argument("home", type=Path)
    p.add_argument("queries", type=Path)
    p.add_argument("--warmup", type=int, default=30)
    p = sub.add_parser("embed")
    p.add_argument("corpus", type=Path)
    p.add_argument("--docs", type=int, default=2000)
    p.add_argument("--variant", default="int8-t128")
    p.add_argument("--cache", type=Path, required=True)
    args = parser.parse_args(argv)
    result: dict[str, Any]
    if args.cmd == "sample":
        result = cmd_sample(args.home, args.out, args.n, args.seed, args.first)
    elif args.cmd == "vectors":
        result = cmd_vectors(args.home, args.sample, args.seed, args.deadline)
    elif args.cmd == "serve":
        result = cmd_serve(args.home, args.queries, args.warmup)
    else:
        result = cmd_embed(args.corpus, args.docs, args.variant, args.cache)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
