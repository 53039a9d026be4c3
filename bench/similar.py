"""Similar papers (issue #17): paperfeed's similar papers before (nearest neighbours by vector)
and now (`SearchService.similar`), against arxiv-sanity-lite's exemplar SVM, on two
development sets built from the shared data, in one process on the same papers.

    python -m bench similar                        # both sets, all three methods
    python -m bench similar --sets scifact --queries 100
    python -m bench similar --weights 0.3,0.45,0.6 --terms 15,25,40   # the knobs, new method only
    python -m bench similar --terms 25 --shares 1,0.05,0.01 --candidates 30,100   # more knobs
    python -m bench similar --latency 1m           # similar() at a million papers (p50/p95)

The sets (folders in the format of `paperfeed eval similar`, written to the bench cache):

- `authors`: the 51,693 real OAI-PMH records (2017Q1), parsed by paperfeed's own OAI-PMH
  parser. Two papers are related when they share an author, named in full (a first name that
  is not just initials); papers with more than 10 authors (collaborations) relate nothing.
  Query papers: a seeded sample of 300 of those with 2 to 10 related papers. The set holds
  them, their related papers and other records drawn at random, 8,000 papers in all
  (`--pool`; 0 keeps all 51,693, whose embedding takes an hour or more on a loaded 2-core box).
- `scifact`: the 5,183 BEIR SciFact abstracts. Two abstracts are related when both are
  evidence for one claim (train and test qrels); every abstract that shares a claim with
  another is a query paper.

Relatedness comes from authorship and from SciFact's annotators, never from any system's
output, and neither set was used to choose a parameter on its own (bench/README.md).

`--latency SIZE` times `SearchService.similar(paper, limit=10)` instead, one call at a time,
on the catalog `python -m bench search --sizes SIZE` built and cached (its vectors partly
synthesised, see bench/README.md), for 400 papers drawn at random after 30 warm-up calls,
against the vector neighbours alone and `similar()` with its first knobs (25 words all
searching, 100 candidates a leg, the graph's own beam), the methods taking turns, each on
papers of its own.

Each set's catalog is built once (`paperfeed eval similar`'s loader and the real indexer,
embedding every paper) and kept in the bench cache with the set's id -> paper id map.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import itertools
import json
import os
import random
import shutil
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.config import Settings
from paperfeed.papers.authors import Author
from paperfeed.runtime import Runtime
from paperfeed.search import evaluation
from paperfeed.search.service import SearchService, SimilarParams
from paperfeed.search.similar_eval import (
    K,
    SimilarQuery,
    SimilarSet,
    index_set,
    load_similar_set,
    mean_metrics,
    query_metrics,
)

from .common import cache_dir, oaipmh_records, shared_data_dir

MAX_AUTHORS = 10  # papers with more authors (collaborations) relate nothing in `authors`
MAX_RELATED = 10
Ranker = Callable[[str], list[str]]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the development sets -------------------------------------------------------------------------


def _write_set(
    folder: Path, papers: list[tuple[str, str, str]], queries: list[SimilarQuery]
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "papers.jsonl.gz", "wt") as out:
        for pid, title, abstract in papers:
            out.write(json.dumps({"id": pid, "title": title, "abstract": abstract}) + "\n")
    with (folder / "queries.jsonl").open("w") as out:
        for q in queries:
            out.write(json.dumps({"paper": q.paper, "related": sorted(q.related)}) + "\n")


def _author_key(author: Author) -> str | None:
    """A full name (accents and case folded), or None for initials only."""
    first = author.get("first", "").replace(".", " ").split()
    if not first or all(len(part) <= 1 for part in first):
        return None
    name = f"{' '.join(first)} {author.get('last', '')}".lower()
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


def build_authors(folder: Path, queries: int, pool: int, seed: int) -> None:
    records = list(oaipmh_records())
    by_author: dict[str, set[str]] = {}
    for record in records:
        if record.arxiv_id and len(record.authors) <= MAX_AUTHORS:
            for author in record.authors:
                key = _author_key(author)
                if key:
                    by_author.setdefault(key, set()).add(record.arxiv_id)
    related: dict[str, set[str]] = {}
    for ids in by_author.values():
        for pid in ids:
            related.setdefault(pid, set()).update(ids - {pid})
    eligible = sorted(p for p, r in related.items() if 2 <= len(r) <= MAX_RELATED)
    rng = random.Random(seed)
    chosen = sorted(rng.sample(eligible, min(queries, len(eligible))))
    papers = [(r.arxiv_id, r.title, r.abstract) for r in records if r.arxiv_id]
    if pool:  # the query papers, their related papers, and others drawn at random
        keep = set(chosen).union(*(related[p] for p in chosen))
        others = sorted({p for p, _, _ in papers} - keep)
        keep.update(rng.sample(others, max(0, min(len(others), pool - len(keep)))))
        papers = [paper for paper in papers if paper[0] in keep]
    _write_set(folder, papers, [SimilarQuery(p, frozenset(related[p])) for p in chosen])


def build_scifact(folder: Path) -> None:
    scifact = shared_data_dir() / "beir" / "scifact"
    claims: dict[str, set[str]] = {}
    for split in ("train", "test"):
        for claim, docs in evaluation.load_qrels(scifact / "qrels" / f"{split}.tsv").items():
            claims.setdefault(f"{split}:{claim}", set()).update(
                d for d, grade in docs.items() if grade > 0
            )
    related: dict[str, set[str]] = {}
    for judged in claims.values():
        if len(judged) >= 2:
            for doc in judged:
                related.setdefault(doc, set()).update(judged - {doc})
    papers = [
        (str(d["_id"]), str(d.get("title") or ""), str(d.get("text") or ""))
        for d in evaluation._jsonl(scifact / "corpus.jsonl.gz")
    ]
    queries = [SimilarQuery(doc, frozenset(r)) for doc, r in sorted(related.items())]
    _write_set(folder, papers, [q for q in queries if len(q.related) <= MAX_RELATED])


def dev_set(name: str, queries: int, pool: int, seed: int) -> Path:
    """The set's folder in the bench cache, built when missing."""
    folder = cache_dir() / "similar-set-scifact"
    if name == "authors":
        folder = cache_dir() / f"similar-set-authors-{queries}-{pool or 'all'}-seed{seed}"
    if not (folder / "queries.jsonl").is_file():
        log(f"building the {name} set in {folder} ...")
        if name == "authors":
            build_authors(folder, queries, pool, seed)
        else:
            build_scifact(folder)
    return folder


def runtime_for(folder: Path, dataset: SimilarSet) -> tuple[Runtime, dict[str, int]]:
    """The set's catalog and index (built once, kept in the cache), and its id -> paper id."""
    home = folder.with_name(folder.name.replace("similar-set-", "similar-home-"))
    ids = home / "ids.json"
    if home.exists() and not ids.is_file():  # an earlier build did not finish
        shutil.rmtree(home)
    runtime = Runtime(Settings(home=home, database_url=None, embedder="minilm"))
    if not ids.is_file():
        log(f"indexing and embedding {len(dataset.papers):,} papers into {home} ...")
        paper_of = index_set(runtime, dataset.papers)
        ids.write_text(json.dumps(paper_of))
    return runtime, json.loads(ids.read_text())


# -- the methods --------------------------------------------------------------------------------


def vector_neighbours(service: SearchService, paper_of: dict[str, int]) -> Ranker:
    """paperfeed before: the paper's nearest neighbours by vector (the code `similar` had)."""
    doc_of = {pid: doc for doc, pid in paper_of.items()}
    embedder = service.embedder()
    assert embedder is not None
    index = service.store.vectors(embedder.dim)

    def ranked(paper: str) -> list[str]:
        pid = paper_of[paper]
        vector = index.get(pid)
        assert vector is not None
        return [doc_of[p] for p, _ in index.search(vector, K + 1) if p != pid][:K]

    return ranked


def paperfeed_similar(service: SearchService, paper_of: dict[str, int]) -> Ranker:
    doc_of = {pid: doc for doc, pid in paper_of.items()}
    return lambda paper: [doc_of[h.paper_id] for h in service.similar(paper_of[paper], limit=K)]


def exemplar_svm(dataset: SimilarSet) -> Ranker:
    """arxiv-sanity-lite's similar papers, re-implemented from its published method
    (compute.py and serve.py's svm_rank): tf-idf of 1-2-grams with its parameters, then a
    linear SVM with the paper as the one positive and every other paper a negative, ranked by
    the decision function. Over title + abstract: arxiv-sanity-lite also appends the author
    names, which on the `authors` set would hand it the answer (and SciFact has none)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vectorizer = TfidfVectorizer(
        input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode",
        lowercase=True, analyzer="word", stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
        max_features=20_000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
        max_df=0.1, min_df=5,
    )  # fmt: skip
    ids = [pid for pid, _, _ in dataset.papers]
    x = vectorizer.fit_transform(f"{title} {abstract}" for _, title, abstract in dataset.papers)
    x = x.astype(np.float32)
    row = {pid: n for n, pid in enumerate(ids)}

    def ranked(paper: str) -> list[str]:
        y = np.zeros(len(ids), dtype=np.float32)
        y[row[paper]] = 1.0
        clf = LinearSVC(class_weight="balanced", verbose=0, max_iter=10_000, tol=1e-6, C=0.01)
        clf.fit(x, y)
        order = np.argsort(-clf.decision_function(x), kind="stable")[: K + 1]
        return [ids[n] for n in order.tolist() if ids[n] != paper][:K]

    return ranked


# -- measuring ----------------------------------------------------------------------------------


def measure(
    ranker: Ranker, queries: Sequence[SimilarQuery]
) -> tuple[list[dict[str, float]], float]:
    started = time.perf_counter()
    per_query = [query_metrics(ranker(q.paper), q) for q in queries]
    return per_query, (time.perf_counter() - started) / len(queries) * 1000


def wins(a: list[dict[str, float]], b: list[dict[str, float]], key: str) -> str:
    more = sum(x[key] > y[key] + 1e-9 for x, y in zip(a, b, strict=True))
    fewer = sum(x[key] < y[key] - 1e-9 for x, y in zip(a, b, strict=True))
    return f"{more}/{fewer}/{len(a) - more - fewer}"


def run_set(name: str, args: argparse.Namespace, out: list[str]) -> dict[str, Any]:
    folder = dev_set(name, args.queries, args.pool, args.seed)
    dataset = load_similar_set(folder)
    queries = dataset.queries[: args.limit] if args.limit else dataset.queries
    runtime, paper_of = runtime_for(folder, dataset)
    service = runtime.search
    results: dict[str, Any] = {"papers": len(dataset.papers), "queries": len(queries)}
    try:
        methods: dict[str, Ranker] = {}
        if not args.knobs:
            methods["before: vector kNN"] = vector_neighbours(service, paper_of)
        for weight, terms, share, depth in itertools.product(
            args.weights, args.terms, args.shares, args.candidates
        ):
            params = dataclasses.replace(
                SimilarParams(), dense_weight=weight, terms=terms, max_share=share,
                candidates=depth,
            )  # fmt: skip
            label = (
                f"w {weight} terms {terms} share {share} candidates {depth}"
                if args.knobs
                else "paperfeed similar()"
            )

            def with_params(paper: str, params: SimilarParams = params) -> list[str]:
                service.similar_params = params
                return paperfeed_similar(service, paper_of)(paper)

            methods[label] = with_params
        if not args.knobs:
            log(f"{name}: fitting tf-idf over {len(dataset.papers):,} papers ...")
            methods["exemplar SVM (arxiv-sanity-lite)"] = exemplar_svm(dataset)
        runs: dict[str, list[dict[str, float]]] = {}
        for label, ranker in methods.items():
            log(f"{name}: {label} over {len(queries)} query papers ...")
            runs[label], ms = measure(ranker, queries)
            results[label] = {**mean_metrics(runs[label], False), "ms_per_paper": round(ms, 1)}
    finally:
        service.similar_params = SimilarParams()
        runtime.close()
    svm = runs.get("exemplar SVM (arxiv-sanity-lite)")
    out.append(f"{name}: {len(dataset.papers):,} papers, {len(queries)} query papers")
    head = "| method | recall@10 | nDCG@10 | other@10 | ms/paper | vs SVM nDCG@10 won/lost/tied |"
    out.append(head)
    out.append("|---|---:|---:|---:|---:|---|")
    for label, per_query in runs.items():
        m = results[label]
        vs = wins(per_query, svm, f"ndcg@{K}") if svm and per_query is not svm else "-"
        out.append(
            f"| {label} | {m['recall@10']:.4f} | {m['ndcg@10']:.4f} | {m['other@10']:.2f} "
            f"| {m['ms_per_paper']:.1f} | {vs} |"
        )
    out.append("")
    return results


def latency(size: str, papers: int, seed: int) -> str:
    """Wall and CPU time of `similar` (limit 10) on the cached `bench search` catalog."""
    from bench.run import machine, parse_size
    from bench.search import workdir

    home = workdir(parse_size(size), seed) / "home"
    if not (home / "catalog.sqlite3").is_file():
        return f"no catalog at {home}: run `python -m bench search --sizes {size}` first"
    runtime = Runtime(Settings(home=home, database_url=None, embedder="minilm"))
    times: dict[str, tuple[list[float], list[float]]] = {}
    machine_at_start = machine()
    try:
        service = runtime.search
        embedder = service._dense_ready()
        assert embedder is not None, "the catalog has no vector index"
        index = service.store.vectors(embedder.dim)
        count = len(index)
        rng = random.Random(seed)  # paper ids are 1..N in the generated catalogs
        # Each method gets papers of its own, all touched for the first time (a paper's rows,
        # postings and vectors read once are cheaper the next time).
        draws = (papers + 30) * 3 + 100
        drawn = list(dict.fromkeys(p for p in (rng.randrange(1, count + 1) for _ in range(draws))))
        drawn = [p for p in drawn if p in index]

        def nearest(paper: str) -> list[str]:  # as `vector_neighbours`, over every paper
            vector = index.get(int(paper))
            assert vector is not None
            found = index.search(vector, K + 1)
            return [str(p) for p, _ in found if p != int(paper)][:K]

        def similar_with(params: SimilarParams) -> Ranker:
            def ranked(paper: str) -> list[str]:
                service.similar_params = params
                return [str(h.paper_id) for h in service.similar(int(paper), limit=K)]

            return ranked

        earlier = SimilarParams(terms=25, candidates=100, max_share=1.0, beam=None)
        methods: dict[str, Ranker] = {
            "before: vector kNN": nearest,
            "similar(), the first knobs (25 words all searching, 100 candidates)": similar_with(
                earlier
            ),
            "paperfeed similar()": similar_with(SimilarParams()),
        }
        # The methods take turns, paper by paper, so that a change in the load (the box is
        # shared) weighs on all of them alike.
        rankers = list(methods.items())
        for n, pid in enumerate(drawn[: (papers + 30) * len(rankers)]):
            label, ranker = rankers[n % len(rankers)]
            started, cpu_started = time.perf_counter(), time.process_time()
            assert len(ranker(str(pid))) == K
            if n >= 30 * len(rankers):  # after the warm-up calls
                wall, cpu = times.setdefault(label, ([], []))
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
    finally:
        runtime.close()

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q))

    lines = [
        f"similar papers at {size} ({count:,} vectors), {papers} papers each, limit 10, ms "
        "(CPU: the process's, helper threads included; x kNN: p95 over the kNN's p95):",
        "| method | p50 | p95 | p99 | CPU p50 | CPU p95 | x kNN |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    knn95 = pct(times["before: vector kNN"][0], 95)
    for label, (wall, cpu) in times.items():
        lines.append(
            f"| {label} | {pct(wall, 50):.1f} | {pct(wall, 95):.1f} | {pct(wall, 99):.1f} "
            f"| {pct(cpu, 50):.1f} | {pct(cpu, 95):.1f} | {pct(wall, 95) / knn95:.1f} |"
        )
    return "\n".join([*lines, f"({machine_at_start}; at the end {os.getloadavg()[0]:.2f})"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench similar",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sets", default="authors,scifact")
    parser.add_argument("--queries", type=int, default=300, help="authors: query papers drawn")
    parser.add_argument(
        "--pool",
        type=int,
        default=8000,
        help="authors: papers in the set (the query papers, their related ones, others at "
        "random; 0: all 51,693)",
    )
    parser.add_argument("--limit", type=int, default=0, help="measure only the first N queries")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--weights", default="", help="dense weights to try (new method)")
    parser.add_argument("--terms", default="", help="word-query sizes to try (new method)")
    parser.add_argument(
        "--shares", default="", help="word-query max shares of papers holding a word to try"
    )
    parser.add_argument("--candidates", default="", help="candidates from each leg to try")
    parser.add_argument("--json", type=Path, default=None, help="also write raw results here")
    parser.add_argument("--latency", metavar="SIZE", help="time similar() on `bench search`'s SIZE")
    parser.add_argument("--papers", type=int, default=400, help="--latency: papers timed")
    args = parser.parse_args(argv)
    if args.latency:
        print(latency(args.latency, args.papers, args.seed))
        return 0
    args.knobs = bool(args.weights or args.terms or args.shares or args.candidates)
    defaults = SimilarParams()
    args.weights = [float(w) for w in args.weights.split(",") if w] or [defaults.dense_weight]
    args.terms = [int(t) for t in args.terms.split(",") if t] or [defaults.terms]
    args.shares = [float(s) for s in args.shares.split(",") if s] or [defaults.max_share]
    args.candidates = [int(c) for c in args.candidates.split(",") if c] or [defaults.candidates]
    out: list[str] = []
    results = {name: run_set(name, args, out) for name in args.sets.split(",") if name}
    print("\n".join(out))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0
