"""Search quality on BEIR-format collections: nDCG@10, Recall@100 and MRR@10 for lexical,
dense and hybrid retrieval, measured through the real SearchService on a temporary catalog."""

from __future__ import annotations

import csv
import gzip
import math
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson
from tqdm import tqdm

from paperfeed.config import Settings
from paperfeed.papers.record import PaperRecord
from paperfeed.progress import Progress
from paperfeed.runtime import Runtime

Mode = Literal["lexical", "dense", "hybrid"]
MODES: tuple[Mode, ...] = ("lexical", "dense", "hybrid")


class EvalFolderError(Exception):
    """An evaluation folder (`paperfeed eval beir|similar|recsys`) is not usable; the message
    says where and why."""


class BeirError(EvalFolderError):
    """The folder is not a usable BEIR collection."""


def jsonl_rows(
    path: Path, error: type[EvalFolderError] = EvalFolderError
) -> Iterator[tuple[str, dict[str, Any]]]:
    """("FILE:LINE", object) for each non-blank line of a JSON-lines file (gzipped when its
    name ends in .gz): the one reader of the evaluation folders' files. A line that is not a
    JSON object raises `error` naming the file and line."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as lines:
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise error(f"{path.name}:{n}: not JSON ({exc})") from None
            if not isinstance(row, dict):
                raise error(f"{path.name}:{n}: not a JSON object")
            yield f"{path.name}:{n}", row


def find_file(directory: Path, stem: str, error: type[EvalFolderError] = EvalFolderError) -> Path:
    """DIR/STEM.jsonl or DIR/STEM.jsonl.gz."""
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if (directory / name).is_file():
            return directory / name
    raise error(f"{directory} has no {stem}.jsonl(.gz)")


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    return (row for _, row in jsonl_rows(path, BeirError))


def _find(directory: Path, stem: str) -> Path:
    return find_file(directory, stem, BeirError)


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise BeirError(f"missing relevance judgements {path}")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or not row[2].lstrip("-").isdigit():
                continue  # the header line
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    dcg = sum(
        (2 ** relevant.get(doc, 0) - 1) / math.log2(i + 2) for i, doc in enumerate(ranked[:k])
    )
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    wanted = {doc for doc, grade in relevant.items() if grade > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    for i, doc in enumerate(ranked[:k]):
        if relevant.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def evaluate_beir(
    directory: Path,
    *,
    split: str = "test",
    settings: Settings | None = None,
    progress: bool = False,
    modes: Sequence[Mode] = MODES,
    index_progress: Progress | None = None,
    floor: bool = False,
) -> dict[str, dict[str, float]]:
    """Measures the ranking: every candidate in order, relevant or not, unless `floor` (then
    only the papers a search shows, those above the meaning floor or holding every word)."""
    qrels = load_qrels(directory / "qrels" / f"{split}.tsv")
    queries = {
        str(q["_id"]): str(q.get("text", ""))
        for q in _jsonl(_find(directory, "queries"))
        if str(q.get("_id")) in qrels
    }
    if not queries:
        raise BeirError(f"no queries of {directory} have judgements in qrels/{split}.tsv")
    base = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="paperfeed-beir-") as tmp:
        runtime = Runtime(base.model_copy(update={"home": Path(tmp), "database_url": None}))
        try:
            doc_of = _load_corpus(runtime, _find(directory, "corpus"))
            # A throwaway index: no terms for recommendations (a third of the words' time).
            runtime.indexer(progress=index_progress, terms=False).update(
                embed="dense" in modes or "hybrid" in modes
            )
            results: dict[str, dict[str, float]] = {}
            for mode in modes:
                totals = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
                for qid, text in tqdm(
                    queries.items(), desc=f"queries ({mode})", disable=not progress, file=sys.stderr
                ):
                    # Only the order counts: no catalog rows, no snippets (fetch=False).
                    found = runtime.search.search(
                        text, limit=100, mode=mode, fetch=False, floor=floor
                    )
                    ranked = [doc_of[pid] for pid, _, _ in found.ranked]
                    totals["ndcg@10"] += ndcg_at(ranked, qrels[qid])
                    totals["recall@100"] += recall_at(ranked, qrels[qid])
                    totals["mrr@10"] += mrr_at(ranked, qrels[qid])
                results[mode] = {k: round(v / len(queries), 4) for k, v in totals.items()}
            return results
        finally:
            runtime.close()


def _load_corpus(runtime: Runtime, path: Path) -> dict[int, str]:
    """Insert every document as its own paper; returns paper id -> BEIR doc id."""
    docs = (
        (str(doc["_id"]), str(doc.get("title") or ""), str(doc.get("text") or ""))
        for doc in _jsonl(path)
    )
    doc_of = load_documents(runtime, docs)
    if not doc_of:
        raise BeirError(f"{path} holds no documents")
    return doc_of


def load_documents(
    runtime: Runtime,
    docs: Iterable[tuple[str, str, str]],
    *,
    source: str = "beir",
    categories: Mapping[str, Sequence[str]] | None = None,
) -> dict[int, str]:
    """Insert each (id, title, abstract) as its own paper, in order, with its arXiv
    `categories` (by id, primary first) where given; returns paper id -> id."""
    doc_of: dict[int, str] = {}
    batch: list[tuple[str, PaperRecord]] = []

    def flush() -> None:
        with runtime.engine.begin() as conn:
            ids = runtime.catalog_writer.insert_new(conn, [record for _, record in batch])
        doc_of.update(zip(ids, (doc for doc, _ in batch), strict=True))
        batch.clear()

    for doc, title, text in docs:
        cats = list((categories or {}).get(doc, ()))
        record = PaperRecord(
            source=source,
            title=title,
            abstract=text,
            primary_category=cats[0] if cats else None,
            categories=cats,
        )
        batch.append((doc, record))
        if len(batch) >= 2000:
            flush()
    if batch:
        flush()
    return doc_of
