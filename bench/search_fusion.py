"""Exact word scores for the meaning candidates (issue #17): SciFact nDCG@10 of the hybrid
fusion today, with every meaning candidate's exact BM25 score (`LexicalIndex.scores`), and
with both exact signals normalised over all candidates.

    python -m bench fusion                       # train queries, weights 0.45
    python -m bench fusion --split test --weights 0.4,0.45,0.5 --home /dev/shm/scifact-home

The candidates are the service's (`SearchService._fused`: the word top 1,000, the meaning
top 300 with the query's filters, each word candidate's exact cosine); only the blend
differs. `--home` keeps the indexed collection for the next run (embedding SciFact takes
minutes). Figures in bench/README.md ("Search quality: what was tried").
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from paperfeed.search import evaluation
from paperfeed.search.fusion import Ranked, _arrays, _dbsf, dbsf_blend
from paperfeed.search.query import parse_query
from paperfeed.search.service import SearchService

from .common import shared_data_dir

Extra = tuple[np.ndarray, np.ndarray]


def over_all_candidates(
    lexical: Ranked, dense: Ranked, weight: float, dense_extra: Extra, lexical_extra: Extra
) -> list[tuple[int, float]]:
    """Both exact scores for every candidate, each normalised by DBSF over all candidates."""
    words = dict(zip(*(a.tolist() for a in _arrays(lexical)), strict=True))
    meaning = dict(zip(*(a.tolist() for a in _arrays(dense)), strict=True))
    for scores, (ids, values) in ((words, lexical_extra), (meaning, dense_extra)):
        for pid, value in zip(ids.tolist(), values.tolist(), strict=True):
            scores.setdefault(pid, value)
    ids = np.array(sorted(words.keys() | meaning.keys()), dtype=np.int64)
    fused = (1 - weight) * _dbsf(np.array([words.get(p, 0.0) for p in ids.tolist()])) + (
        weight * _dbsf(np.array([meaning.get(p, 0.0) for p in ids.tolist()]))
    )
    order = np.lexsort((ids, -fused))
    return list(zip(ids[order].tolist(), fused[order].tolist(), strict=True))


Blend = Callable[[Ranked, Ranked, float, Extra, Extra], list[tuple[int, float]]]
BLENDS: dict[str, Blend] = {
    "today": lambda lex, vec, w, dx, lx: dbsf_blend(lex, vec, dense_weight=w, dense_extra=dx),
    "exact": lambda lex, vec, w, dx, lx: dbsf_blend(
        lex, vec, dense_weight=w, dense_extra=dx, lexical_extra=lx
    ),
    "all": over_all_candidates,
}


def rank(service: SearchService, text: str, weight: float, blend: Blend) -> list[int]:
    """The service's candidates (as `_fused` takes them), fused by `blend`."""
    store, embedder = service.store, service.embedder()
    assert embedder is not None
    query = parse_query(text)
    lexical, total = store.lexical.search(query, limit=service.candidates)
    vector = embedder.embed_query(query.text)
    index = store.vectors(embedder.dim)
    found = index.search(vector, service.dense_candidates)
    allowed = set(store.lexical.restrict(query, [pid for pid, _ in found]))
    dense = [(pid, score) for pid, score in found if pid in allowed]
    by_words = {pid for pid, _ in lexical}
    dense_extra = index.similarities(vector, [pid for pid, _ in lexical])
    outside = [pid for pid, _ in dense if pid not in by_words]
    exact = store.lexical.scores(query, outside) if total > len(lexical) else {}
    lexical_extra = (
        np.array(outside, dtype=np.int64),
        np.array([exact.get(pid, 0.0) for pid in outside], dtype=np.float64),
    )
    return [pid for pid, _ in blend(lexical, dense, weight, dense_extra, lexical_extra)][:100]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench fusion", description=__doc__)
    parser.add_argument("--split", default="train", choices=["train", "test"])
    parser.add_argument("--weights", default="0.45", help="dense weights, comma-separated")
    parser.add_argument("--blends", default="today,exact,all", help=", ".join(BLENDS))
    parser.add_argument("--home", type=Path, help="a data folder to index into and reuse")
    args = parser.parse_args(argv)
    folder = shared_data_dir() / "beir" / "scifact"
    qrels = evaluation.load_qrels(folder / "qrels" / f"{args.split}.tsv")
    queries = {
        str(q["_id"]): str(q.get("text", ""))
        for q in evaluation._jsonl(folder / "queries.jsonl")
        if str(q.get("_id")) in qrels
    }
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-fusion-"))
    runtime = Runtime(Settings(home=home, database_url=None))
    try:
        corpus = evaluation._find(folder, "corpus")
        if runtime.search.store.lexical.num_docs() == 0:
            evaluation._load_corpus(runtime, corpus)
            runtime.indexer().update(embed=True)
        # Papers are numbered in corpus order (one insert per document, evaluation._load_corpus).
        docs = [str(doc["_id"]) for doc in evaluation._jsonl(corpus)]
        doc_of = dict(enumerate(docs, start=1))
        print(f"| blend | weight | {args.split} nDCG@10 |\n|---|---|---|")
        for name in args.blends.split(","):
            for weight in (float(w) for w in args.weights.split(",")):
                total = 0.0
                for qid, text in queries.items():
                    ranked = rank(runtime.search, text, weight, BLENDS[name])
                    total += evaluation.ndcg_at([doc_of[pid] for pid in ranked], qrels[qid])
                print(f"| {name} | {weight} | {total / len(queries):.4f} |", flush=True)
    finally:
        runtime.close()
    return 0
