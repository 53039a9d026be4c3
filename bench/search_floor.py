"""Where the meaning floor comes from: cosine scores of the dense leg (MiniLM int8) for real
queries' relevant papers against those of the best match of nonsense queries.

    python -m bench floor                      # SciFact + 8,000 arXiv OAI-PMH records
    python -m bench floor --arxiv-records 20000 --json floor.json

- SciFact (BEIR): every judged (query, relevant document) pair of the train and test qrels,
  and each query's best cosine over the corpus.
- arXiv (the 2017Q1 OAI-PMH records, the first N in file order): short topical queries as a
  person types them (QUERIES below); a paper counts as relevant when its title and abstract
  hold every content word of the query (the analyzer of the word index), a partial match
  when it holds some of them.
- Nonsense: random pseudo-words (seeded) and a few typed by hand; their best cosine over
  each corpus is what a paper gets by meaning when nothing matches.

Vectors are the ones the service computes (document_text for papers, embed_query for queries);
corpus vectors are cached in the bench cache folder. Prints a table (figures in bench/README.md).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import random
import string
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.common import cache_dir, oaipmh_records, shared_data_dir
from paperfeed.papers.record import PaperRecord
from paperfeed.search.embedder import Embedder, document_text, load_embedder
from paperfeed.search.lexical import STOPWORDS, _analyze_word
from paperfeed.search.query import words

QUERIES = [
    "KV cache compression",
    "graph neural networks",
    "dark matter halo",
    "quantum error correction",
    "speech recognition",
    "reinforcement learning robot",
    "topological insulator",
    "gravitational waves binary black hole",
    "image segmentation",
    "machine translation",
    "generative adversarial networks",
    "stochastic gradient descent convergence",
    "superconductivity",
    "exoplanet atmosphere",
    "neutrino oscillation",
    "knowledge graph embedding",
    "community detection networks",
    "compressed sensing",
    "differential privacy",
    "galaxy cluster",
    "random matrix theory",
    "sentiment analysis",
    "convex optimization",
    "spin glass",
    "language model",
    "protein structure",
    "Bayesian inference",
    "recommender systems",
    "string theory",
    "wireless networks",
]
FIXED_NONSENSE = ["xqzv blorptang fnord", "asdfgh qwerty", "zzzz", "flimflam quuxor", "blorp"]
Floats = npt.NDArray[np.float32]


def nonsense_queries(count: int, seed: int = 19) -> list[str]:
    """Pseudo-words of random letters, one to four of them."""
    rng = random.Random(seed)
    made = list(FIXED_NONSENSE)
    while len(made) < count:
        made.append(
            " ".join(
                "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10)))
                for _ in range(rng.randint(1, 4))
            )
        )
    return made


def _cached_vectors(embedder: Embedder, name: str, texts: Sequence[str]) -> Floats:
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache_dir() / f"floor-{name}-{embedder.name.replace('/', '_')}-{digest}.npy"
    if path.is_file():
        cached: Floats = np.load(path)
        return cached
    print(f"embedding {len(texts):,} {name} documents...", file=sys.stderr, flush=True)
    vectors = np.vstack(
        [embedder.embed_documents(texts[i : i + 256]) for i in range(0, len(texts), 256)]
    ).astype(np.float32)
    np.save(path, vectors)
    return vectors


def _queries(embedder: Embedder, texts: Sequence[str]) -> Floats:
    return np.vstack([embedder.embed_query(t) for t in texts]).astype(np.float32)


def scifact(embedder: Embedder, folder: Path) -> tuple[Floats, Floats, Floats]:
    """Relevant pairs' cosines, each query's best cosine, and the corpus vectors."""
    with gzip.open(folder / "corpus.jsonl.gz", "rt") as lines:
        docs = [json.loads(line) for line in lines]
    row = {str(d["_id"]): i for i, d in enumerate(docs)}
    corpus = _cached_vectors(
        embedder, "scifact", [document_text(d.get("title", ""), d.get("text", "")) for d in docs]
    )
    with (folder / "queries.jsonl").open() as lines:
        texts = {str(q["_id"]): q["text"] for q in map(json.loads, lines)}
    qrels: dict[str, list[str]] = {}
    for split in ("train", "test"):
        for line in (folder / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
            qid, doc, grade = line.split("\t")
            if int(grade) > 0 and doc in row:
                qrels.setdefault(qid, []).append(doc)
    ids = sorted(qrels)
    queries = _queries(embedder, [texts[q] for q in ids])
    scores = queries @ corpus.T
    relevant = np.array(
        [scores[i, row[doc]] for i, q in enumerate(ids) for doc in qrels[q]], np.float32
    )
    return relevant, scores.max(axis=1), corpus


def arxiv_records(limit: int) -> list[PaperRecord]:
    return list(itertools.islice((r for r in oaipmh_records() if r.abstract), limit))


def _content_terms(text: str) -> set[str]:
    return {
        t for w in words(text) if w.lower() not in STOPWORDS and (t := _analyze_word(w)) is not None
    }


def arxiv(embedder: Embedder, limit: int) -> tuple[Floats, Floats, Floats, Floats]:
    """All-words matches' cosines, partial matches' cosines, each query's best, and the
    corpus vectors."""
    records = arxiv_records(limit)
    texts = [document_text(r.title, r.abstract) for r in records]
    corpus = _cached_vectors(embedder, f"arxiv{len(records)}", texts)
    doc_terms = [_content_terms(t) for t in texts]
    scores = _queries(embedder, QUERIES) @ corpus.T
    full: list[float] = []
    partial: list[float] = []
    for i, query in enumerate(QUERIES):
        wanted = _content_terms(query)
        for j, terms in enumerate(doc_terms):
            shared = len(wanted & terms)
            if shared == len(wanted):
                full.append(float(scores[i, j]))
            elif shared:
                partial.append(float(scores[i, j]))
    return np.array(full, np.float32), np.array(partial, np.float32), scores.max(axis=1), corpus


def _row(name: str, values: Floats) -> str:
    cuts = [1, 5, 10, 25, 50, 75, 90, 95, 99]
    figures = " | ".join(f"{np.percentile(values, p):.3f}" for p in cuts)
    return f"| {name} | {len(values):,} | {values.min():.3f} | {figures} | {values.max():.3f} |"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench floor", description=__doc__)
    parser.add_argument("--arxiv-records", type=int, default=8000)
    parser.add_argument("--nonsense", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    embedder = load_embedder("minilm", cache_dir() / "models")
    assert embedder is not None
    data = shared_data_dir()
    relevant, best, sf_corpus = scifact(embedder, data / "beir" / "scifact")
    full, partial, arxiv_best, ax_corpus = arxiv(embedder, args.arxiv_records)
    nonsense = _queries(embedder, nonsense_queries(args.nonsense))
    rows = {
        "SciFact: relevant documents": relevant,
        "SciFact: each query's best": best,
        "SciFact: nonsense query's best": (nonsense @ sf_corpus.T).max(axis=1),
        f"arXiv {len(ax_corpus):,}: papers with every query word": full,
        f"arXiv {len(ax_corpus):,}: papers with some query words": partial,
        f"arXiv {len(ax_corpus):,}: each query's best": arxiv_best,
        f"arXiv {len(ax_corpus):,}: nonsense query's best": (nonsense @ ax_corpus.T).max(axis=1),
    }
    print("| cosine of | n | min | p1 | p5 | p10 | p25 | p50 | p75 | p90 | p95 | p99 | max |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, values in rows.items():
        print(_row(name, values))
    from paperfeed.search.service import MEANING_FLOOR, SOME_WORDS_FLOOR

    floors = sorted({0.30, 0.35, 0.40, 0.42, 0.45, 0.50, MEANING_FLOOR, SOME_WORDS_FLOOR})
    print("\n| share at or above | " + " | ".join(f"{f:.2f}" for f in floors) + " |")
    print("|---|" + "---|" * len(floors))
    for name, values in rows.items():
        shares = " | ".join(f"{np.mean(values >= f):.1%}" for f in floors)
        print(f"| {name} | {shares} |")
    if args.json:
        args.json.write_text(json.dumps({k: v.tolist() for k, v in rows.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
