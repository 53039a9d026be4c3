"""Per-query signals for the hybrid fusion (issue #17, second item): which extra evidence
helps the meaning leg on queries that hinge on specific terms, measured on SciFact and on
the arXiv titles set (`python -m bench devset`).

    python -m bench signals --split train                        # SciFact train (the choice)
    python -m bench signals --split test --blends today,cover    # measured once, after
    python -m bench signals --beir DEVSET --split term --home /dev/shm/devset-home

For every query the service's candidates are collected once (`SearchService._fused`'s: the
word top 1,000, the meaning top 300 with the query's filters, each word candidate's exact
cosine), with each candidate's BM25 score per query term (`LexicalIndex.scores`, one term at a
time) and the terms' document frequencies, and cached in the home folder. The blends below
then re-rank those candidates (nDCG@10 as `paperfeed eval beir` computes it), each against
today's blend with a paired bootstrap interval over the queries.
"""

from __future__ import annotations

import argparse
import math
import pickle
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from paperfeed.search import evaluation
from paperfeed.search.fusion import _dbsf, dbsf_blend
from paperfeed.search.query import ParsedQuery, parse_query
from paperfeed.search.service import SearchService

from .common import shared_data_dir

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass
class Signals:
    """One query's candidates and what is known about each."""

    lex_ids: Ints
    lex: Floats  # BM25, best first (the word top 1,000)
    vec_ids: Ints
    vec: Floats  # cosine, best first (the meaning top 300)
    ids: Ints  # every candidate (sorted)
    cosine: Floats  # each candidate's exact cosine
    bm25: Floats  # each candidate's exact BM25 (0: no word)
    term_bm25: Floats  # candidates x query terms: each term's part of the BM25 score
    df: Floats  # each query term's document frequency
    docs: int  # papers in the index


def collect(service: SearchService, text: str) -> Signals:
    store, embedder = service.store, service.embedder()
    assert embedder is not None
    lexical = store.lexical
    query = parse_query(text)
    words, _ = lexical.search(query, limit=service.candidates)
    vector = embedder.embed_query(query.text)
    index = store.vectors(embedder.dim)
    found = index.search(vector, service.dense_candidates)
    allowed = set(lexical.restrict(query, [pid for pid, _ in found]))
    dense = [(pid, score) for pid, score in found if pid in allowed]
    ids = sorted({pid for pid, _ in words} | {pid for pid, _ in dense})
    cos = dict(zip(*(a.tolist() for a in index.similarities(vector, ids)), strict=True))
    terms = lexical.content_terms(query)
    searcher = lexical.index.searcher()
    per_term = np.zeros((len(ids), len(terms)))
    row = {pid: i for i, pid in enumerate(ids)}
    for j, term in enumerate(terms):
        for pid, score in lexical.scores(ParsedQuery(terms=[term]), ids).items():
            per_term[row[pid], j] = score
    exact = lexical.scores(query, ids)
    return Signals(
        lex_ids=np.array([p for p, _ in words], np.int64),
        lex=np.array([s for _, s in words], np.float64),
        vec_ids=np.array([p for p, _ in dense], np.int64),
        vec=np.array([s for _, s in dense], np.float64),
        ids=np.array(ids, np.int64),
        cosine=np.array([cos.get(p, 0.0) for p in ids], np.float64),
        bm25=np.array([exact.get(p, 0.0) for p in ids], np.float64),
        term_bm25=per_term,
        df=np.array([searcher.doc_freq("text", t) for t in terms], np.float64),
        docs=int(searcher.num_docs),
    )


# -- blends: (signals, parameter) -> a score per candidate (s.ids order) ------------------------


def _today_parts(s: Signals) -> tuple[Floats, Floats]:
    """Each candidate's DBSF-normalised word and meaning scores as today's blend has them."""
    lex = np.zeros(len(s.ids))
    vec = np.zeros(len(s.ids))
    pos = np.searchsorted(s.ids, s.lex_ids)
    lex[pos] = _dbsf(s.lex)
    if len(s.vec):
        mean, sd = s.vec.mean(), s.vec.std() or 1.0
        # the meaning list's own scores (the HNSW graph's), exact cosines for the others
        vec = (s.cosine - (mean - 3 * sd)) / (6 * sd)
        vec[np.searchsorted(s.ids, s.vec_ids)] = _dbsf(s.vec)
    return lex, vec


def peak(scores: Floats, top: int = 1) -> float:
    """How far a list's best scores stand out: (mean of the top `top` - list mean) / sd."""
    if len(scores) < 2 or scores.std() == 0:
        return 0.0
    return float((scores[:top].mean() - scores.mean()) / scores.std())


def coverage(s: Signals) -> Floats:
    """The IDF-weighted share of the query's terms each candidate holds."""
    if not s.term_bm25.shape[1]:
        return np.zeros(len(s.ids))
    idf = np.log(1 + (s.docs - s.df + 0.5) / (s.df + 0.5))
    held = (s.term_bm25 > 0).astype(np.float64)
    return np.asarray(held @ idf / (idf.sum() or 1.0))


def today(s: Signals, w: float) -> Floats:
    lex, vec = _today_parts(s)
    return (1 - w) * lex + w * vec


def check_today(s: Signals, w: float) -> Floats:
    """Today's blend through fusion.dbsf_blend itself (to check `today` reproduces it)."""
    lex_pos = np.searchsorted(s.ids, s.lex_ids)
    fused = dict(
        dbsf_blend(
            list(zip(s.lex_ids.tolist(), s.lex.tolist(), strict=True)),
            list(zip(s.vec_ids.tolist(), s.vec.tolist(), strict=True)),
            dense_weight=w,
            dense_extra=(s.lex_ids, s.cosine[lex_pos]),
        )
    )
    return np.array([fused.get(p, -1.0) for p in s.ids.tolist()])


def peaked(base: float) -> Callable[[Signals, float], Floats]:
    """The meaning weight moved by how much more peaked the meaning list is than the word list
    (each list's top-3 gap to its mean in sd units): w = base + a * (peak_vec - peak_lex)."""

    def blend(s: Signals, a: float) -> Floats:
        lex, vec = _today_parts(s)
        w = float(np.clip(base + a * (peak(s.vec, 3) - peak(s.lex, 3)), 0.05, 0.95))
        return (1 - w) * lex + w * vec

    return blend


def rare_terms(base: float) -> Callable[[Signals, float], Floats]:
    """The meaning weight lowered for queries with rare terms: w = base - a * (max IDF share -
    0.5), the max IDF share being the rarest term's IDF over log(N)."""

    def blend(s: Signals, a: float) -> Floats:
        lex, vec = _today_parts(s)
        if not len(s.df):
            return (1 - base) * lex + base * vec
        rarest = math.log(s.docs / (s.df.min() + 1)) / math.log(s.docs)
        w = float(np.clip(base - a * (rarest - 0.5), 0.05, 0.95))
        return (1 - w) * lex + w * vec

    return blend


def covered(base: float) -> Callable[[Signals, float], Floats]:
    """Today's blend plus c x the IDF-weighted share of query terms a candidate holds."""

    def blend(s: Signals, c: float) -> Floats:
        return today(s, base) + c * coverage(s)

    return blend


def covered_top(base: float, top: int = 100) -> Callable[[Signals, float], Floats]:
    """`covered`, with the coverage bonus only for today's top `top` (what a service could
    afford: one query over `top` papers instead of one per term over every candidate)."""

    def blend(s: Signals, c: float) -> Floats:
        fused = today(s, base)
        best = np.argsort(-fused, kind="stable")[:top]
        fused[best] += c * coverage(s)[best]
        return fused

    return blend


def exact_lex(base: float) -> Callable[[Signals, float], Floats]:
    """Both exact scores for every candidate (the word list's DBSF statistics)."""

    def blend(s: Signals, c: float) -> Floats:
        lex, vec = _today_parts(s)
        mean, sd = s.lex.mean(), s.lex.std() or 1.0
        lex = np.where(s.bm25 > 0, (s.bm25 - (mean - 3 * sd)) / (6 * sd), 0.0)
        return (1 - base) * lex + base * vec + c * coverage(s)

    return blend


BLENDS: dict[str, tuple[Callable[[Signals, float], Floats], list[float]]] = {
    "today": (today, [0.35, 0.4, 0.45, 0.5, 0.55]),
    "check": (check_today, [0.45]),
    "peaked": (peaked(0.45), [-0.08, -0.04, -0.02, 0.02, 0.04, 0.08]),
    "rare": (rare_terms(0.45), [-0.4, -0.2, -0.1, 0.1, 0.2, 0.4]),
    "cover": (covered(0.45), [0.02, 0.05, 0.1, 0.15, 0.2, 0.3]),
    "cover100": (covered_top(0.45), [0.05, 0.1, 0.15, 0.2, 0.3]),
    "exactcover": (exact_lex(0.45), [0.0, 0.05, 0.1, 0.2]),
}


# -- measuring ----------------------------------------------------------------------------------


def ndcgs(
    signals: dict[str, Signals],
    qrels: dict[str, dict[str, int]],
    doc_of: dict[int, str],
    blend: Callable[[Signals, float], Floats],
    value: float,
) -> Floats:
    out = []
    for qid, s in signals.items():
        scores = blend(s, value)
        order = np.lexsort((s.ids, -scores))[:100]
        out.append(evaluation.ndcg_at([doc_of[p] for p in s.ids[order].tolist()], qrels[qid]))
    return np.array(out)


def bootstrap(diff: Floats, rounds: int = 2000, seed: int = 7) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (rounds, len(diff)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def load(
    beir: Path, split: str, home: Path
) -> tuple[dict[str, Signals], dict[str, dict[str, int]], dict[int, str]]:
    qrels = evaluation.load_qrels(beir / "qrels" / f"{split}.tsv")
    queries = {
        str(q["_id"]): str(q.get("text", ""))
        for q in evaluation._jsonl(evaluation._find(beir, "queries"))
        if str(q.get("_id")) in qrels
    }
    corpus = evaluation._find(beir, "corpus")
    # Papers are numbered in corpus order (one insert per document, evaluation._load_corpus).
    doc_of = dict(enumerate((str(d["_id"]) for d in evaluation._jsonl(corpus)), start=1))
    cache = home / f"signals-{split}.pkl"
    for path in (cache, *sorted(home.glob("signals-*.pkl"))):
        if path.is_file():  # a split's queries may be part of another's (term, natural)
            known = pickle.loads(path.read_bytes())
            if set(queries) <= set(known):
                return {qid: known[qid] for qid in queries}, qrels, doc_of
    runtime = Runtime(Settings(home=home, database_url=None))
    try:
        if runtime.search.store.lexical.num_docs() == 0:
            evaluation._load_corpus(runtime, corpus)
            runtime.indexer().update(embed=True)
        signals = {qid: collect(runtime.search, text) for qid, text in queries.items()}
    finally:
        runtime.close()
    cache.write_bytes(pickle.dumps(signals))
    return signals, qrels, doc_of


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench signals", description=__doc__)
    parser.add_argument("--beir", type=Path, default=shared_data_dir() / "beir" / "scifact")
    parser.add_argument("--split", default="train")
    parser.add_argument("--blends", default=",".join(BLENDS), help=", ".join(BLENDS))
    parser.add_argument("--values", help="the blend's parameter values, comma-separated")
    parser.add_argument("--home", type=Path, help="a data folder to index into and reuse")
    args = parser.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-signals-"))
    signals, qrels, doc_of = load(args.beir, args.split, home)
    base = ndcgs(signals, qrels, doc_of, today, 0.45)
    print(f"{len(signals)} queries, today (0.45): {base.mean():.4f}")
    print(f"| blend | value | {args.split} nDCG@10 | vs today | 95% interval | better / worse |")
    print("|---|---|---|---|---|---|")
    for name in args.blends.split(","):
        blend, values = BLENDS[name]
        for value in [float(v) for v in args.values.split(",")] if args.values else values:
            got = ndcgs(signals, qrels, doc_of, blend, value)
            diff = got - base
            low, high = bootstrap(diff)
            print(
                f"| {name} | {value:g} | {got.mean():.4f} | {diff.mean():+.4f} | "
                f"{low:+.4f} .. {high:+.4f} | {(diff > 1e-9).sum()} / {(diff < -1e-9).sum()} |",
                flush=True,
            )
    return 0
