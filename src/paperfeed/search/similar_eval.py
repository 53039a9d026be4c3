"""Similar-papers quality on a folder of papers and the papers known to be related to some of
them: recall@10, nDCG@10 and how many of the top 10 are not known to be related, measured
through `SearchService.similar` (what `/papers/ID/similar`, the API and the CLI call) on a
temporary catalog.

The folder (`paperfeed eval similar DIR`):

    papers.jsonl[.gz]   one paper a line: {"id": "...", "title": "...", "abstract": "..."}
    queries.jsonl[.gz]  one query paper a line: {"paper": ID, "related": [ID, ...]}, optionally
                        with "unrelated": [ID, ...] (papers judged not related to it)
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from paperfeed.config import Settings
from paperfeed.progress import Progress
from paperfeed.runtime import Runtime
from paperfeed.search.evaluation import (
    EvalFolderError,
    find_file,
    jsonl_rows,
    load_documents,
    ndcg_at,
    recall_at,
)

K = 10


class SimilarSetError(EvalFolderError):
    """The folder is not a usable similar-papers set (the message says where and why)."""


@dataclass(frozen=True)
class SimilarQuery:
    paper: str
    related: frozenset[str]
    unrelated: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SimilarSet:
    papers: list[tuple[str, str, str]]  # (id, title, abstract), in file order
    queries: list[SimilarQuery]

    @property
    def judged_unrelated(self) -> bool:
        return any(q.unrelated for q in self.queries)


def _rows(directory: Path, stem: str) -> list[tuple[str, dict[str, Any]]]:
    """("FILE:LINE", object) for each non-empty line of DIR/STEM.jsonl[.gz]."""
    return list(jsonl_rows(find_file(directory, stem, SimilarSetError), SimilarSetError))


def _id(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value).strip() else None


def _ids(where: str, row: dict[str, Any], key: str, known: set[str]) -> frozenset[str]:
    values = row.get(key, [])
    if not isinstance(values, list) or any(_id(v) is None for v in values):
        raise SimilarSetError(f"{where}: {key!r} must be a list of paper ids")
    ids = frozenset(str(v) for v in values)
    unknown = sorted(ids - known)
    if unknown:
        raise SimilarSetError(f"{where}: {key} names papers not in papers.jsonl: {unknown[:5]}")
    return ids


def load_similar_set(directory: Path) -> SimilarSet:
    """Read and check a folder (see the module docstring); SimilarSetError says what is wrong."""
    papers: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for where, row in _rows(directory, "papers"):
        pid = _id(row.get("id"))
        if pid is None:
            raise SimilarSetError(f'{where}: no paper id ("id")')
        if pid in seen:
            raise SimilarSetError(f"{where}: paper {pid!r} appears twice")
        title, abstract = row.get("title") or "", row.get("abstract") or ""
        if not isinstance(title, str) or not isinstance(abstract, str):
            raise SimilarSetError(f"{where}: title and abstract must be text")
        if not (title.strip() or abstract.strip()):
            raise SimilarSetError(f"{where}: paper {pid!r} has neither title nor abstract")
        seen.add(pid)
        papers.append((pid, title, abstract))
    if not papers:
        raise SimilarSetError(f"{directory}: papers.jsonl holds no papers")
    queries: list[SimilarQuery] = []
    asked: set[str] = set()
    for where, row in _rows(directory, "queries"):
        paper = _id(row.get("paper"))
        if paper is None:
            raise SimilarSetError(f'{where}: no query paper ("paper")')
        if paper not in seen:
            raise SimilarSetError(f"{where}: paper {paper!r} is not in papers.jsonl")
        if paper in asked:
            raise SimilarSetError(f"{where}: paper {paper!r} is asked twice")
        related = _ids(where, row, "related", seen)
        unrelated = _ids(where, row, "unrelated", seen)
        if not related:
            raise SimilarSetError(f"{where}: paper {paper!r} has no related papers")
        if paper in related or paper in unrelated:
            raise SimilarSetError(f"{where}: paper {paper!r} is listed as related to itself")
        if related & unrelated:
            raise SimilarSetError(f"{where}: papers both related and unrelated to {paper!r}")
        asked.add(paper)
        queries.append(SimilarQuery(paper, related, unrelated))
    if not queries:
        raise SimilarSetError(f"{directory}: queries.jsonl holds no queries")
    return SimilarSet(papers, queries)


def query_metrics(ranked: Sequence[str], query: SimilarQuery, k: int = K) -> dict[str, float]:
    """One query paper's list (best first, itself not in it): recall@k (the share of its
    related papers in the top k), nDCG@k (binary gains), other@k (papers in the top k not known
    to be related: unrelated or not judged) and unrelated@k (papers in the top k judged
    unrelated)."""
    top = list(ranked[:k])
    grades = dict.fromkeys(query.related, 1)
    hits = sum(1 for doc in top if doc in query.related)
    return {
        f"recall@{k}": recall_at(top, grades, k),
        f"ndcg@{k}": ndcg_at(top, grades, k),
        f"other@{k}": float(len(top) - hits),
        f"unrelated@{k}": float(sum(1 for doc in top if doc in query.unrelated)),
    }


def mean_metrics(per_query: Sequence[dict[str, float]], judged: bool) -> dict[str, float]:
    """The mean of each metric over the queries (unrelated@k only when the set judges some)."""
    keys = [key for key in per_query[0] if judged or not key.startswith("unrelated@")]
    return {key: round(sum(m[key] for m in per_query) / len(per_query), 4) for key in keys}


def index_set(
    runtime: Runtime, papers: Sequence[tuple[str, str, str]], progress: Progress | None = None
) -> dict[str, int]:
    """Put the set's papers into the runtime's (empty) catalog and index, embedded; returns
    the set's id -> paper id."""
    doc_of = load_documents(runtime, papers, source="eval")
    runtime.indexer(progress=progress).update(embed=True)
    return {doc: pid for pid, doc in doc_of.items()}


def rank_similar(runtime: Runtime, paper_of: dict[str, int]) -> Callable[[str], list[str]]:
    """The set's ids of the 10 papers `SearchService.similar` lists for a query paper."""
    doc_of = {pid: doc for doc, pid in paper_of.items()}

    def ranked(paper: str) -> list[str]:
        hits = runtime.search.similar(paper_of[paper], limit=K)
        return [doc_of[hit.paper_id] for hit in hits]

    return ranked


def evaluate_similar(
    directory: Path,
    *,
    settings: Settings | None = None,
    progress: bool = False,
    index_progress: Progress | None = None,
) -> dict[str, float]:
    """Mean metrics (see `query_metrics`) of similar papers over the folder's query papers,
    and how many there were."""
    dataset = load_similar_set(directory)
    base = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="paperfeed-similar-") as tmp:
        runtime = Runtime(base.model_copy(update={"home": Path(tmp), "database_url": None}))
        try:
            ranked = rank_similar(runtime, index_set(runtime, dataset.papers, index_progress))
            per_query = [
                query_metrics(ranked(query.paper), query)
                for query in tqdm(
                    dataset.queries, desc="similar", disable=not progress, file=sys.stderr
                )
            ]
        finally:
            runtime.close()
    return {"queries": len(per_query), **mean_metrics(per_query, dataset.judged_unrelated)}
