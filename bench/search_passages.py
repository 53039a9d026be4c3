"""Passages for the meaning leg (issue #17): the embedder reads only a paper's first 128 word
pieces, so most of a long abstract is never embedded. Here each paper is also embedded as
passages (the title, then consecutive sentences up to the embedder's 128 word pieces, one
sentence of overlap between windows, counted with the embedder's own tokenizer), and the
meaning score of a paper is a blend of its best passage's cosine and its whole-paper vector's:
`a x whole + (1 - a) x best passage` (a = 1 is today). The word leg is the service's (the
lexical top 1,000 of a data folder indexed without vectors); the meaning list is the top 300
papers by that score and every word candidate gets its exact score, fused by
`paperfeed.search.fusion.dbsf_blend` as `SearchService._fused` does.

    python -m bench passages                          # SciFact train: the grid (the choice)
    python -m bench passages --split test --blend 0.5 --weight 0.45     # measured once
    python -m bench passages --beir DEVSET --split term --blend 0.5 --weight 0.45

Vectors (whole papers, passages and queries) are cached by text in the bench cache folder
(bench/vector_cache.py, `passages-vectors.sqlite3`), so a rerun does not embed again; the time
of the first embedding of a corpus's passages is kept beside it (`passages-cost-*.json`).
Figures in bench/README.md ("Passages for the meaning leg").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from paperfeed.search import evaluation, minilm
from paperfeed.search.embedder import document_text, load_embedder
from paperfeed.search.fusion import dbsf_blend
from paperfeed.search.query import parse_query

from .common import cache_dir, shared_data_dir
from .search_signals import bootstrap
from .vector_cache import CachedEmbedder

Floats = npt.NDArray[np.float64]
# Word pieces a passage may hold: the embedder reads 128, two of them [CLS] and [SEP].
PASSAGE_TOKENS = minilm.MAX_TOKENS - 2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'$\\])")


def sentences(text: str) -> list[str]:
    """A text cut after '.', '!' or '?' followed by a space and what may start a sentence."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def passages(
    title: str,
    abstract: str,
    count: Callable[[str], int],
    *,
    budget: int = PASSAGE_TOKENS,
    overlap: int = 1,
) -> list[str]:
    """A paper as passages of at most `budget` tokens (by `count`) each: the title, then
    consecutive sentences of the abstract, each window starting `overlap` sentences before the
    previous one ended. A paper that fits in one window is one passage, its whole text
    (`document_text`); a sentence longer than the budget is a window of its own (the embedder
    truncates it)."""
    whole = document_text(title, abstract)
    if count(whole) <= budget:
        return [whole]
    head = f"{title}. " if title else ""
    room = budget - (count(head) if head else 0)
    parts = sentences(abstract)
    sizes = [count(s) for s in parts]
    out: list[str] = []
    start = 0
    while start < len(parts):
        end, used = start + 1, sizes[start]
        while end < len(parts) and used + sizes[end] <= room:
            used += sizes[end]
            end += 1
        out.append(head + " ".join(parts[start:end]))
        if end >= len(parts):
            break
        start = max(end - overlap, start + 1)
    return out


def token_counter() -> Callable[[str], int]:
    """Word pieces of a text as the embedder's own tokenizer counts them (no special tokens,
    no truncation)."""
    tokenizer = Tokenizer.from_file(
        str(minilm._package_dir(minilm.TOKENIZER_PACKAGE) / minilm.TOKENIZER_FILE)
    )
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


class Corpus:
    """A BEIR folder's papers as whole-paper and passage vectors (papers numbered 1.. in corpus
    order, as `evaluation._load_corpus` inserts them) and its word index in `home`."""

    def __init__(self, beir: Path, home: Path, embedder: CachedEmbedder) -> None:
        path = evaluation._find(beir, "corpus")
        docs = [
            (str(d["_id"]), str(d.get("title") or ""), str(d.get("text") or ""))
            for d in evaluation._jsonl(path)
        ]
        self.doc_of = {n: doc for n, (doc, _, _) in enumerate(docs, start=1)}
        self.whole = embedder.embed_documents([document_text(t, a) for _, t, a in docs])
        count = token_counter()
        texts: list[str] = []
        owner: list[int] = []
        for row, (_, title, abstract) in enumerate(docs):
            cut = passages(title, abstract, count)
            texts.extend(cut)
            owner.extend([row] * len(cut))
        digest = hashlib.blake2b("\0".join(texts).encode(), digest_size=8).hexdigest()
        cost = cache_dir() / f"passages-cost-{beir.name}-{digest}.json"
        started = time.perf_counter()
        self.passages = embedder.embed_documents(texts)
        if not cost.is_file():
            seconds = time.perf_counter() - started
            cost.write_text(json.dumps({"papers": len(docs), "passages": len(texts), "s": seconds}))
        self.cost = json.loads(cost.read_text())
        self.starts = np.flatnonzero(np.r_[1, np.diff(owner)])  # each paper's first passage
        self.home = home
        self.runtime = Runtime(Settings(home=home, database_url=None, embedder="none"))
        if self.runtime.search.store.lexical.num_docs() == 0:
            evaluation._load_corpus(self.runtime, path)
            self.runtime.indexer().update(embed=False)

    def meaning(self, vector: npt.NDArray[np.float32]) -> tuple[Floats, Floats]:
        """Each paper's whole-paper cosine and best passage cosine for a query vector."""
        whole = (self.whole @ vector).astype(np.float64)
        best = np.maximum.reduceat(self.passages @ vector, self.starts).astype(np.float64)
        return whole, best


def rankings(
    corpus: Corpus,
    embedder: CachedEmbedder,
    text: str,
    blends: Sequence[float],
    weights: Sequence[float],
) -> dict[tuple[float, float | None], list[int]]:
    """Paper ids best first (top 100) for each (blend a, fusion weight w); w None is the meaning
    leg alone."""
    service = corpus.runtime.search
    lexical_index = service.store.lexical
    query = parse_query(text)
    lexical, _ = lexical_index.search(query, limit=service.candidates)
    whole, best = corpus.meaning(embedder.embed_query(query.text))
    lex_ids = np.array([pid for pid, _ in lexical], dtype=np.int64)
    out: dict[tuple[float, float | None], list[int]] = {}
    for a in blends:
        score = a * whole + (1 - a) * best
        top = np.lexsort((np.arange(len(score)), -score))[: service.dense_candidates]
        found = [(int(i) + 1, float(score[i])) for i in top]
        allowed = set(lexical_index.restrict(query, [pid for pid, _ in found]))
        dense = [(pid, s) for pid, s in found if pid in allowed]
        out[(a, None)] = [pid for pid, _ in dense][:100]
        extra = (lex_ids, score[lex_ids - 1]) if len(lex_ids) else None
        for w in weights:
            if not lexical or not dense:
                fused = lexical or dense
            else:
                fused = dbsf_blend(lexical, dense, dense_weight=w, dense_extra=extra)
            out[(a, w)] = [pid for pid, _ in fused][:100]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench passages", description=__doc__)
    parser.add_argument("--beir", type=Path, default=shared_data_dir() / "beir" / "scifact")
    parser.add_argument("--split", default="train")
    parser.add_argument("--blend", default="1,0.75,0.5,0.25,0", help="values of a, 1 = today")
    parser.add_argument("--weight", default="0.4,0.45,0.5,0.55,0.6", help="meaning weights")
    parser.add_argument("--home", type=Path, help="the word index's data folder")
    args = parser.parse_args(argv)
    blends = [float(v) for v in args.blend.split(",")]
    weights = [float(v) for v in args.weight.split(",")]
    if 1.0 not in blends:
        blends.insert(0, 1.0)
    if 0.45 not in weights:
        weights.insert(0, 0.45)
    model = load_embedder("minilm", cache_dir() / "models")
    assert model is not None
    embedder = CachedEmbedder(model, cache_dir() / "passages-vectors.sqlite3")
    home = args.home or cache_dir() / f"passages-home-{args.beir.name}"
    corpus = Corpus(args.beir, home, embedder)
    cost = corpus.cost
    print(
        f"{cost['papers']} papers, {cost['passages']} passages "
        f"({cost['passages'] / cost['papers']:.2f} a paper), embedded in {cost['s']:.0f} s "
        f"({cost['passages'] / cost['s']:.0f} passages/s)"
    )
    qrels = evaluation.load_qrels(args.beir / "qrels" / f"{args.split}.tsv")
    queries = {
        str(q["_id"]): str(q.get("text", ""))
        for q in evaluation._jsonl(evaluation._find(args.beir, "queries"))
        if str(q.get("_id")) in qrels
    }
    ndcg: dict[tuple[float, float | None], list[float]] = {}
    try:
        for qid, text in queries.items():
            for key, ranked in rankings(corpus, embedder, text, blends, weights).items():
                got = evaluation.ndcg_at([corpus.doc_of[p] for p in ranked], qrels[qid])
                ndcg.setdefault(key, []).append(got)
    finally:
        corpus.runtime.close()
    print(f"{len(queries)} queries, {args.split}")
    print(
        "| a (whole) | meaning weight | nDCG@10 | vs today (a = 1, 0.45) | 95% interval "
        "| better / worse |"
    )
    print("|---|---|---|---|---|---|")
    for key, values in ndcg.items():
        a, w = key
        scores = np.array(values)
        base = np.array(ndcg[(1.0, None if w is None else 0.45)])
        diff = scores - base
        low, high = bootstrap(diff)
        print(
            f"| {a:g} | {'alone' if w is None else f'{w:g}'} | {scores.mean():.4f} | "
            f"{diff.mean():+.4f} | {low:+.4f} .. {high:+.4f} | "
            f"{(diff > 1e-9).sum()} / {(diff < -1e-9).sum()} |"
        )
    return 0
