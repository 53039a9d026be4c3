"""`paperfeed eval recsys DIR`: the recommender measured on a folder of readers, through the
same Recommender `/for-you` calls, over a temporary catalog loaded from the folder.

The folder holds `papers.jsonl` (one object a line: `id`, `title`, `abstract`, and optionally
`categories`, the paper's arXiv categories, primary first; other keys are ignored) and
`users.jsonl` (one object a line: `user`, and lists of paper ids `liked`, `disliked`,
`candidates`, `relevant`). Each reader's `liked` and `disliked` go to the
recommender, which ranks their `candidates`; `relevant` says which candidates count. Reported,
averaged over readers: nDCG@10, Recall@50, AUC (relevant candidates against the others) and
MRR (over the whole ranking)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paperfeed.config import Settings
from paperfeed.papers.record import PaperRecord
from paperfeed.progress import Progress
from paperfeed.recommend.service import Recommender
from paperfeed.runtime import Runtime
from paperfeed.search.evaluation import (
    EvalFolderError,
    jsonl_rows,
    load_documents,
    mrr_at,
    ndcg_at,
    recall_at,
)

METRICS = ("ndcg@10", "recall@50", "auc", "mrr")
_LISTS = ("liked", "disliked", "candidates", "relevant")


class RecsysError(EvalFolderError):
    """The folder is not a usable evaluation set (the message says where and why)."""


@dataclass(frozen=True)
class Reader:
    user: str
    liked: list[str]
    disliked: list[str]
    candidates: list[str]
    relevant: list[str]


@dataclass(frozen=True)
class Paper:
    id: str
    title: str
    abstract: str
    categories: tuple[str, ...] = ()


def _lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """("FILE:LINE", object) for each non-blank line of a JSON-lines file."""
    if not path.is_file():
        raise RecsysError(f"{path.parent} has no {path.name}")
    return jsonl_rows(path, RecsysError)


def _text(where: str, row: Mapping[str, Any], key: str, *, required: bool) -> str:
    value = row.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise RecsysError(f"{where}: field {key!r} must be a non-empty string")
    return value


def read_papers(directory: Path) -> dict[str, Paper]:
    path = directory / "papers.jsonl"
    found: dict[str, Paper] = {}
    for where, row in _lines(path):
        pid = row.get("id")
        if isinstance(pid, int) and not isinstance(pid, bool):
            pid = str(pid)
        if not isinstance(pid, str) or not pid:
            raise RecsysError(f"{where}: field 'id' must be a non-empty string")
        if pid in found:
            raise RecsysError(f"{where}: paper id {pid!r} appears twice")
        title = _text(where, row, "title", required=True)
        abstract = _text(where, row, "abstract", required=False)  # may be empty
        categories = row.get("categories") or []
        if not isinstance(categories, list) or not all(
            isinstance(c, str) and c.strip() for c in categories
        ):
            raise RecsysError(f"{where}: field 'categories' must be a list of category names")
        try:
            PaperRecord(source="recsys-eval", title=title, abstract=abstract, categories=categories)
        except ValueError as exc:  # over the catalog's caps
            raise RecsysError(f"{where}: {exc}") from None
        found[pid] = Paper(pid, title, abstract, tuple(c.strip() for c in categories))
    if not found:
        raise RecsysError(f"{path} holds no papers")
    return found


def read_readers(directory: Path, papers: Mapping[str, Paper]) -> list[Reader]:
    path = directory / "users.jsonl"
    readers: list[Reader] = []
    for where, row in _lines(path):
        user = row.get("user")
        if not isinstance(user, str | int) or isinstance(user, bool) or user == "":
            raise RecsysError(f"{where}: field 'user' must be a non-empty string")
        lists: dict[str, list[str]] = {}
        for key in _LISTS:
            value = row.get(key, [])
            if not isinstance(value, list):
                raise RecsysError(f"{where}: field {key!r} must be a list of paper ids")
            ids = [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
            for pid in ids:
                if not isinstance(pid, str):
                    raise RecsysError(f"{where}: {key!r} holds {pid!r}, not a paper id")
                if pid not in papers:
                    raise RecsysError(f"{where}: unknown paper id {pid!r} in {key!r}")
            lists[key] = list(dict.fromkeys(ids))
        if not lists["candidates"]:
            raise RecsysError(f"{where}: 'candidates' is empty")
        outside = [pid for pid in lists["relevant"] if pid not in set(lists["candidates"])]
        if outside:
            raise RecsysError(f"{where}: relevant paper {outside[0]!r} is not a candidate")
        if not lists["relevant"]:
            raise RecsysError(f"{where}: 'relevant' is empty (nothing to find)")
        readers.append(Reader(str(user), **lists))
    if not readers:
        raise RecsysError(f"{path} holds no users")
    return readers


def auc(ranked: Sequence[str], relevant: set[str]) -> float:
    """The share of (relevant, other) candidate pairs that the ranking orders rightly."""
    positives = negatives = right = 0
    for doc in reversed(ranked):  # from the bottom: each relevant beats the others seen so far
        if doc in relevant:
            positives += 1
            right += negatives
        else:
            negatives += 1
    return right / (positives * negatives) if positives and negatives else 0.5


def reader_metrics(ranked: Sequence[str], relevant: Sequence[str]) -> dict[str, float]:
    """One reader's metrics for a ranking of all their candidates (binary relevance)."""
    grades = dict.fromkeys(relevant, 1)
    return {
        "ndcg@10": ndcg_at(ranked, grades, 10),
        "recall@50": recall_at(ranked, grades, 50),
        "auc": auc(ranked, set(relevant)),
        "mrr": mrr_at(ranked, grades, len(ranked)),
    }


# A ranker gets a reader and returns their candidates (as given) best first.
Ranker = Callable[[Reader], Sequence[str]]


def average(readers: Sequence[Reader], ranker: Ranker) -> dict[str, float]:
    """Each metric averaged over readers, rounded to 4 places, and the number of readers."""
    totals = dict.fromkeys(METRICS, 0.0)
    for reader in readers:
        ranked = list(ranker(reader))
        if sorted(ranked) != sorted(reader.candidates):
            raise ValueError(f"the ranking of {reader.user!r} is not of its candidates")
        for key, value in reader_metrics(ranked, reader.relevant).items():
            totals[key] += value
    result: dict[str, float] = {k: round(v / len(readers), 4) for k, v in totals.items()}
    result["users"] = len(readers)
    return result


class RecsysEvaluation:
    """The folder loaded into a temporary catalog (imported, embedded, indexed), and its
    readers; `close()` removes it. `rank` is what `paperfeed eval recsys` measures; other
    rankers (bench/recsys.py's baselines) can be measured on the same readers with `vectors`."""

    def __init__(
        self,
        directory: Path,
        *,
        settings: Settings | None = None,
        index_progress: Progress | None = None,
    ) -> None:
        self.papers = read_papers(directory)
        self.readers = read_readers(directory, self.papers)
        base = settings or Settings()
        self._tmp = tempfile.TemporaryDirectory(prefix="paperfeed-recsys-")
        self.runtime = Runtime(
            base.model_copy(update={"home": Path(self._tmp.name), "database_url": None})
        )
        try:
            self.paper_id = self._load()
            self.runtime.indexer(progress=index_progress).update(embed=True)
        except BaseException:
            self.close()
            raise
        self.folder_id = {pid: key for key, pid in self.paper_id.items()}

    def _load(self) -> dict[str, int]:
        """Every paper of the folder as a catalog paper; returns folder id -> paper id."""
        papers = ((p.id, p.title, p.abstract) for p in self.papers.values())
        categories = {p.id: p.categories for p in self.papers.values() if p.categories}
        doc_of = load_documents(self.runtime, papers, source="recsys-eval", categories=categories)
        return {doc: pid for pid, doc in doc_of.items()}

    @property
    def recommender(self) -> Recommender:
        return self.runtime.recommender

    def rank(self, reader: Reader) -> list[str]:
        """The reader's candidates as the recommender orders them; those it does not rank
        (none without likes, and any without a vector) follow in the given order."""
        ids = self.paper_id
        found = self.recommender.rank(
            [ids[p] for p in reader.liked],
            [ids[p] for p in reader.disliked],
            [ids[p] for p in reader.candidates],
            limit=len(reader.candidates),
        )
        ranked = [self.folder_id[r.paper_id] for r in found]
        seen = set(ranked)
        return ranked + [p for p in reader.candidates if p not in seen]

    def close(self) -> None:
        if "runtime" in self.__dict__:
            self.runtime.close()
        self._tmp.cleanup()


def evaluate_recsys(
    directory: Path,
    *,
    settings: Settings | None = None,
    index_progress: Progress | None = None,
) -> dict[str, float]:
    """nDCG@10, Recall@50, AUC and MRR of the recommender over the folder's readers."""
    evaluation = RecsysEvaluation(directory, settings=settings, index_progress=index_progress)
    try:
        if not evaluation.recommender.ready():
            raise RecsysError(
                "the recommender ranks by paper vectors: PAPERFEED_EMBEDDER must name a model"
            )
        return average(evaluation.readers, evaluation.rank)
    finally:
        evaluation.close()
