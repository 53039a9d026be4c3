"""`python -m bench recsys`: the "For you" recommender against simple baselines, on the same
readers in the same process (figures in bench/README.md).

    python -m bench recsys                      # the dev set (built first if missing)
    python -m bench recsys --check              # the time-split check set (weeks 6-9)
    python -m bench recsys --dir FOLDER --readers 300 --variants

The folder (`python -m bench recsys-devset`, bench/recsys_devset.py) is loaded by
`paperfeed.recommend.evaluation.RecsysEvaluation`, exactly as `paperfeed eval recsys` loads it
(a temporary catalog: import, embed, index), and every method ranks each reader's candidates
from their liked papers alone:

- **popularity**: the dev set has no votes, so a paper's popularity is that of its primary
  arXiv category among all readers' liked papers (the share of liked papers in it), the same
  for every reader;
- **tf-idf SVM** (arxiv-sanity-lite, `serve.py` and `compute.py`): scikit-learn's
  `TfidfVectorizer` as arxiv-sanity-lite configures it (word 1-2-grams, sublinear tf, English
  stopwords, `min_df=5`, `max_df=0.5`, at most 20,000 features) fitted on every paper's title
  and abstract (arxiv-sanity-lite also adds the author names: left out, as the readers here
  are authors), and per reader a `LinearSVC(C=0.01, class_weight="balanced", tol=1e-6,
  max_iter=10000)` with the liked papers as positives and all other papers as negatives,
  ranking by its decision function;
- **mean cosine**: cosine of each candidate's stored vector to the mean of the liked vectors;
- **paperfeed**: `Recommender.rank` (recommend/service.py), as `/for-you` calls it.

`--variants` also measures the recommender's signals alone and other weights (how the model
was chosen). Vectors are cached by text in the bench cache folder (bench/vector_cache.py), so
only the first run embeds."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from bench.common import cache_dir
from bench.recsys_devset import CHECK_WEEKS, DEFAULT_WEEKS, make
from bench.vector_cache import CachedEmbedder
from paperfeed.config import Settings
from paperfeed.recommend import model
from paperfeed.recommend.evaluation import Reader, RecsysEvaluation, average
from paperfeed.recommend.service import Recommender, Weights
from paperfeed.search.embedder import Embedder, load_embedder

Ranker = Callable[[Reader], Sequence[str]]


def _cached_loader(name: str, folder: Path) -> Embedder | None:
    embedder = load_embedder(name, cache_dir() / "models")
    if embedder is None:
        return None
    return CachedEmbedder(embedder, cache_dir() / "recsys-vectors.sqlite3")


def popularity(directory: Path, readers: Sequence[Reader]) -> Ranker:
    primary: dict[str, str] = {}
    with (directory / "papers.jsonl").open() as lines:
        for line in lines:
            paper = json.loads(line)
            primary[paper["id"]] = (paper.get("categories") or [""])[0]
    liked = Counter(primary[pid] for r in readers for pid in r.liked)

    def rank(reader: Reader) -> list[str]:
        return sorted(reader.candidates, key=lambda pid: (-liked[primary[pid]], pid))

    return rank


def tfidf_svm(evaluation: RecsysEvaluation) -> Ranker:
    from sklearn import svm
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        input="content",
        encoding="utf-8",
        decode_error="replace",
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
        max_features=20_000,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,
        max_df=0.5,
        min_df=5,
    )
    ids = list(evaluation.papers)
    row = {pid: i for i, pid in enumerate(ids)}
    x = vectorizer.fit_transform(
        f"{p.title} {p.abstract}" for p in evaluation.papers.values()
    ).astype(np.float32)

    def rank(reader: Reader) -> list[str]:
        y = np.zeros(len(ids))
        y[[row[pid] for pid in reader.liked]] = 1
        clf = svm.LinearSVC(class_weight="balanced", max_iter=10_000, tol=1e-6, C=0.01)
        clf.fit(x, y)
        scores = clf.decision_function(x[[row[pid] for pid in reader.candidates]])
        order = np.lexsort((np.arange(len(scores)), -scores))
        return [reader.candidates[i] for i in order]

    return rank


def mean_cosine(evaluation: RecsysEvaluation) -> Ranker:
    store = evaluation.runtime.search_store
    assert store.meta.dim is not None
    vectors = store.vectors(store.meta.dim)

    def rank(reader: Reader) -> list[str]:
        ids = evaluation.paper_id
        _, liked = vectors.rows([ids[p] for p in reader.liked])
        found, rows = vectors.rows([ids[p] for p in reader.candidates])
        scores = model.mean_cosine(np.asarray(rows, np.float32), np.asarray(liked, np.float32))
        order = np.lexsort((found, -scores))
        return _complete([evaluation.folder_id[int(found[i])] for i in order], reader)

    return rank


def _complete(ranked: list[str], reader: Reader) -> list[str]:
    """The ranking, then the candidates it left out (no vector) in the given order."""
    seen = set(ranked)
    return ranked + [p for p in reader.candidates if p not in seen]


def recommender(evaluation: RecsysEvaluation, weights: Weights) -> Ranker:
    service = Recommender(
        lambda: evaluation.runtime.search_store, evaluation.runtime.catalog, weights=weights
    )

    def rank(reader: Reader) -> list[str]:
        ids = evaluation.paper_id
        found = service.rank(
            [ids[p] for p in reader.liked],
            [ids[p] for p in reader.disliked],
            [ids[p] for p in reader.candidates],
            limit=len(reader.candidates),
        )
        return _complete([evaluation.folder_id[r.paper_id] for r in found], reader)

    return rank


VARIANTS: dict[str, Weights] = {
    "meaning only (soft max, 20)": Weights(words=0.0),
    "meaning only (soft max, 5)": Weights(words=0.0, sharpness=5.0),
    "words only": Weights(meaning=0.0),
    "meaning + 0.5 words": Weights(words=0.5),
    "meaning + 1.5 words": Weights(words=1.5),
    "meaning + words, soft max 10": Weights(sharpness=10.0),
    "meaning + words, 2 centres": Weights(centres=2),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench recsys", description=__doc__)
    parser.add_argument("--dir", type=Path, default=None, help="an eval folder (default: built)")
    parser.add_argument("--check", action="store_true", help="the time-split check set")
    parser.add_argument("--readers", type=int, default=None, help="only the first N readers")
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--no-svm", action="store_true", help="skip the (slow) tf-idf SVM")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    directory = args.dir or cache_dir() / ("recsys-check" if args.check else "recsys-dev")
    if not (directory / "users.jsonl").is_file():
        make(directory, weeks=CHECK_WEEKS if args.check else DEFAULT_WEEKS)
    with mock.patch("paperfeed.runtime.load_embedder", _cached_loader):
        evaluation = RecsysEvaluation(directory, settings=Settings(embedder="minilm"))
    try:
        readers = evaluation.readers[: args.readers]
        methods: dict[str, Ranker] = {"popularity": popularity(directory, readers)}
        if not args.no_svm:
            methods["tf-idf SVM (arxiv-sanity-lite)"] = tfidf_svm(evaluation)
        methods["mean cosine"] = mean_cosine(evaluation)
        methods["paperfeed"] = recommender(evaluation, Weights())
        if args.variants:
            for name, weights in VARIANTS.items():
                methods[f"paperfeed: {name}"] = recommender(evaluation, replace(weights))
        results: dict[str, dict[str, Any]] = {}
        for name, rank in methods.items():
            started = time.perf_counter()
            results[name] = {**average(readers, rank), "seconds": time.perf_counter() - started}
            print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    finally:
        evaluation.close()
    print(f"{directory.name}: {len(readers)} readers, {len(evaluation.papers):,} papers")
    print("| method | nDCG@10 | Recall@50 | AUC | MRR | users | s |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['ndcg@10']:.4f} | {r['recall@50']:.4f} | {r['auc']:.4f} "
            f"| {r['mrr']:.4f} | {r['users']} | {r['seconds']:.0f} |"
        )
    baselines = [r["ndcg@10"] for n, r in results.items() if not n.startswith("paperfeed")]
    ours = results["paperfeed"]["ndcg@10"]
    print(f"paperfeed nDCG@10 {ours:.4f} = {ours / max(baselines):.3f} x the best baseline")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0
