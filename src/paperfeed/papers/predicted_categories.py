"""Categories for papers that arrive without any (Hugging Face daily papers), voted by their
nearest categorised neighbours in the catalog, offline, from the paper vectors the search
index already stores (`paper_embeddings`).

The vote (pure: `vote`): the K = 10 categorised papers most similar to the paper (cosine of
their vectors) each vote with their similarity. The predicted primary category is the one
whose papers' primary categories gather the most similarity; the paper also gets every other
category that at least half of the neighbours' similarity carries (at most MAX_CATEGORIES in
all). Only papers with arXiv's own categories vote (never predicted ones), so predictions do
not feed on each other. The papers get `categories_predicted` = true: pages and the API mark
them, `cat:` finds them, and arXiv's categories replace them when the paper is harvested or
fetched (papers/merge.py). bench/categories.py measures the vote on papers with known
categories (bench/README.md)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from paperfeed.clock import Clock, utcnow
from paperfeed.db.schema import paper_categories, paper_embeddings, papers
from paperfeed.papers.merge import CONTENT_FIELDS, content_hash
from paperfeed.papers.sql import among, chunks, serialise_writers

K = 10
SHARE = 0.5  # a further category needs this share of the neighbours' similarity
MAX_CATEGORIES = 3
_QUERY_BLOCK = 256  # papers predicted at once
_REFERENCE_BLOCK = 65_536  # reference vectors compared at once (float32 copies)


@dataclass(frozen=True)
class Neighbour:
    primary: str
    categories: Sequence[str]
    similarity: float


@dataclass(frozen=True)
class Prediction:
    primary: str
    categories: list[str]  # the primary first


def vote(neighbours: Sequence[Neighbour]) -> Prediction | None:
    """The categories that `neighbours` (the nearest categorised papers) vote for; None
    without neighbours. Similarities below zero count as zero."""
    weights = [max(0.0, n.similarity) for n in neighbours]
    total = sum(weights)
    if not neighbours or total <= 0:
        return None
    primary_votes: dict[str, float] = defaultdict(float)
    any_votes: dict[str, float] = defaultdict(float)
    for n, w in zip(neighbours, weights, strict=True):
        primary_votes[n.primary] += w
        for category in dict.fromkeys(n.categories):
            any_votes[category] += w
    # Ties: the category named first by the nearer neighbours (sorted() is stable).
    primary = max(primary_votes, key=lambda c: primary_votes[c])
    others = sorted(
        (c for c in any_votes if c != primary and any_votes[c] >= SHARE * total),
        key=lambda c: -any_votes[c],
    )
    return Prediction(primary, [primary, *others][:MAX_CATEGORIES])


def nearest(
    queries: npt.NDArray[np.float32],
    reference: npt.NDArray[Any],
    k: int = K,
    exclude: Sequence[int] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The rows of `reference` (L2-normalised vectors, float16 or float32) nearest to each of
    `queries` by cosine: (indices, similarities), each (len(queries), k), nearest first.
    `exclude[i]`: a reference row that query i must not get (itself, in evaluations)."""
    k = min(k, len(reference))
    best_i = np.zeros((len(queries), 0), np.int64)
    best_s = np.zeros((len(queries), 0), np.float32)
    for start in range(0, len(reference), _REFERENCE_BLOCK):
        block = np.asarray(reference[start : start + _REFERENCE_BLOCK], np.float32)
        sims = queries @ block.T
        if exclude is not None:
            for row, excluded in enumerate(exclude):
                if start <= excluded < start + len(block):
                    sims[row, excluded - start] = -np.inf
        take = min(k, sims.shape[1])
        top = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        best_i = np.concatenate([best_i, top + start], axis=1)
        best_s = np.concatenate([best_s, np.take_along_axis(sims, top, axis=1)], axis=1)
        keep = np.argsort(-best_s, axis=1, kind="stable")[:, :k]
        best_i = np.take_along_axis(best_i, keep, axis=1)
        best_s = np.take_along_axis(best_s, keep, axis=1)
    return best_i, best_s


@dataclass
class Reference:
    """The categorised papers that vote: their vectors (float16) and categories."""

    ids: list[int]
    primaries: list[str]
    categories: list[list[str]]
    vectors: npt.NDArray[np.float16]

    def predict(
        self, queries: npt.NDArray[np.float32], exclude: Sequence[int] | None = None
    ) -> list[Prediction | None]:
        found: list[Prediction | None] = []
        for start in range(0, len(queries), _QUERY_BLOCK):
            block = queries[start : start + _QUERY_BLOCK]
            skip = None if exclude is None else exclude[start : start + _QUERY_BLOCK]
            rows, sims = nearest(block, self.vectors, K, skip)
            for row_ids, row_sims in zip(rows, sims, strict=True):
                found.append(
                    vote(
                        [
                            Neighbour(self.primaries[i], self.categories[i], float(s))
                            for i, s in zip(row_ids, row_sims, strict=True)
                            if np.isfinite(s)
                        ]
                    )
                )
        return found


def _vectors(rows: Sequence[Any], dim: int) -> npt.NDArray[np.float16]:
    if not rows:
        return np.zeros((0, dim), np.float16)
    matrix = np.frombuffer(b"".join(r.vector for r in rows), dtype=np.float16)
    return matrix.reshape(len(rows), dim)


def load_reference(conn: sa.Connection, model: str, dim: int) -> Reference:
    """The papers with arXiv's (not predicted) categories and a vector of `model`."""
    query = (
        sa.select(
            papers.c.id, papers.c.primary_category, papers.c.categories, paper_embeddings.c.vector
        )
        .join(paper_embeddings, paper_embeddings.c.paper_id == papers.c.id)
        .where(
            paper_embeddings.c.model == model,
            papers.c.categories_predicted.is_(False),
            papers.c.primary_category.is_not(None),
        )
        .order_by(papers.c.id)
    )
    rows = [r for r in conn.execute(query) if r.categories]
    return Reference(
        ids=[r.id for r in rows],
        primaries=[r.primary_category for r in rows],
        categories=[list(r.categories) for r in rows],
        vectors=_vectors(rows, dim),
    )


@dataclass
class Outcome:
    predicted: int  # papers that got categories
    without_vector: int  # papers without categories that have no vector of this model yet
    reference: int  # categorised papers that voted


class CategoryPredictor:
    def __init__(self, engine: sa.Engine, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock

    def predict(self, model: str, dim: int, *, again: bool = False) -> Outcome:
        """Predicts categories for the papers without any (with `again`, for those predicted
        before too) that have a vector of `model`, and stores them in one transaction."""
        wanted: sa.ColumnElement[bool] = papers.c.primary_category.is_(None)
        if again:
            wanted = sa.or_(wanted, papers.c.categories_predicted.is_(True))
        with self.engine.connect() as conn:
            targets = conn.execute(
                sa.select(
                    *(papers.c[c] for c in CONTENT_FIELDS),
                    papers.c.id,
                    paper_embeddings.c.vector,
                )
                .outerjoin(
                    paper_embeddings,
                    sa.and_(
                        paper_embeddings.c.paper_id == papers.c.id,
                        paper_embeddings.c.model == model,
                    ),
                )
                .where(wanted)
                .order_by(papers.c.id)
            ).all()
            targets = [t for t in targets if again or not t.categories]
            embedded = [t for t in targets if t.vector is not None]
            # (the voters are read only when there is a paper to vote on)
            reference = load_reference(conn, model, dim) if embedded else None
        outcome = Outcome(0, len(targets) - len(embedded), len(reference.ids) if reference else 0)
        if reference is None or not reference.ids:
            return outcome
        queries = np.asarray(_vectors(embedded, dim), np.float32)
        predictions = reference.predict(queries)
        now = self.clock()
        updates = []
        for target, prediction in zip(embedded, predictions, strict=True):
            if prediction is None:
                continue
            row = {c: target._mapping[c] for c in CONTENT_FIELDS}
            row["primary_category"] = prediction.primary
            row["categories"] = prediction.categories
            updates.append(
                {
                    "_id": target.id,
                    "primary_category": prediction.primary,
                    "categories": prediction.categories,
                    "categories_predicted": True,
                    "content_hash": content_hash(row),
                    "modified_at": now,  # the search index follows this
                }
            )
        if not updates:
            return outcome
        with self.engine.begin() as conn:
            serialise_writers(conn)
            # Only papers still without arXiv's categories: an import may have brought them
            # since they were read.
            still: set[int] = set()
            for chunk in chunks([u["_id"] for u in updates]):
                still.update(
                    conn.execute(
                        sa.select(papers.c.id).where(
                            among(conn, papers.c.id, chunk),
                            sa.or_(
                                papers.c.primary_category.is_(None),
                                papers.c.categories_predicted.is_(True),
                            ),
                        )
                    ).scalars()
                )
            updates = [u for u in updates if u["_id"] in still]
            if not updates:
                return outcome
            conn.execute(
                papers.update()
                .where(papers.c.id == sa.bindparam("_id"))
                .values(
                    {
                        c: sa.bindparam(c)
                        for c in (
                            "primary_category",
                            "categories",
                            "categories_predicted",
                            "content_hash",
                            "modified_at",
                        )
                    }
                ),
                updates,
            )
            for chunk in chunks([u["_id"] for u in updates]):
                conn.execute(
                    paper_categories.delete().where(among(conn, paper_categories.c.paper_id, chunk))
                )
            conn.execute(
                paper_categories.insert(),
                [{"paper_id": u["_id"], "category": c} for u in updates for c in u["categories"]],
            )
        outcome.predicted = len(updates)
        return outcome
