"""The neighbours' vote of papers/predicted_categories.py (pure), and the exact nearest
neighbours it is given."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa

from paperfeed.db.schema import paper_categories, paper_embeddings
from paperfeed.papers.catalog_writer import Outcome
from paperfeed.papers.predicted_categories import (
    CategoryPredictor,
    K,
    Neighbour,
    Prediction,
    nearest,
    vote,
)
from paperfeed.papers.record import PaperRecord
from paperfeed.runtime import Runtime


def test_the_primary_is_the_most_similar_primary() -> None:
    neighbours = [
        Neighbour("cs.CV", ["cs.CV", "cs.LG"], 0.9),
        Neighbour("cs.LG", ["cs.LG", "cs.CV"], 0.8),
        Neighbour("cs.LG", ["cs.LG"], 0.7),
        Neighbour("cs.CV", ["cs.CV"], 0.2),
    ]
    # cs.LG primaries carry 1.5, cs.CV 1.1; cs.CV is in 1.9 of 2.6 (>= half): kept second.
    assert vote(neighbours) == Prediction("cs.LG", ["cs.LG", "cs.CV"])


def test_a_further_category_needs_half_of_the_similarity() -> None:
    neighbours = [
        Neighbour("math.OC", ["math.OC", "cs.SY"], 0.5),
        Neighbour("math.OC", ["math.OC"], 0.5),
        Neighbour("cs.SY", ["cs.SY", "eess.SY"], 0.49),
    ]
    # cs.SY: 0.99 of 1.49 (>= half); eess.SY: 0.49 (< half).
    assert vote(neighbours) == Prediction("math.OC", ["math.OC", "cs.SY"])


def test_at_most_three_categories() -> None:
    cats = ["hep-th", "gr-qc", "astro-ph.CO", "hep-ph", "quant-ph"]
    assert vote([Neighbour("hep-th", cats, 1.0)]) == Prediction("hep-th", cats[:3])


def test_no_neighbours_or_no_similarity_votes_nothing() -> None:
    assert vote([]) is None
    assert vote([Neighbour("cs.LG", ["cs.LG"], -0.3)]) is None


def test_ties_go_to_the_nearer_neighbour() -> None:
    assert vote([Neighbour("cs.AI", ["cs.AI"], 0.5), Neighbour("cs.CL", ["cs.CL"], 0.5)]) == (
        Prediction("cs.AI", ["cs.AI", "cs.CL"])
    )


@pytest.mark.parametrize("block", [7, 64, 100_000])
def test_nearest_is_exact_and_can_leave_a_row_out(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paperfeed.papers.predicted_categories as module

    monkeypatch.setattr(module, "_REFERENCE_BLOCK", block)  # blocks of several sizes agree
    rng = np.random.default_rng(7)
    reference = rng.normal(size=(300, 16)).astype(np.float32)
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    queries = reference[:5]
    rows, sims = nearest(queries, reference.astype(np.float16), K, exclude=[0, 1, 2, 3, 4])
    exact = queries @ reference.astype(np.float16).astype(np.float32).T
    for q in range(5):
        exact[q, q] = -np.inf
        expected = np.argsort(-exact[q], kind="stable")[:K]
        assert list(rows[q]) == list(expected)
        assert q not in rows[q]
        assert np.allclose(sims[q], exact[q, expected])
    rows, _ = nearest(queries, reference, K)
    assert [r[0] for r in rows] == [0, 1, 2, 3, 4]  # each is its own nearest


def _record(arxiv_id: str, categories: list[str], **fields: object) -> PaperRecord:
    return PaperRecord(  # type: ignore[arg-type]
        source=str(fields.pop("source", "oai-pmh")),
        arxiv_id=arxiv_id,
        title=f"Paper {arxiv_id}",
        abstract="An abstract.",
        primary_category=categories[0] if categories else None,
        categories=categories,
        freshness=fields.pop("freshness", dt.datetime(2026, 7, 1)),
        **fields,
    )


def test_the_vote_is_stored_marked_and_gives_way_to_arxiv(runtime: Runtime) -> None:
    """On the catalog (SQLite and PostgreSQL): papers with vectors near a paper without
    categories vote; the result is stored with the mark, `paper_categories` follows, the same
    Hugging Face file imported again changes nothing, and arXiv's record replaces the vote."""
    writer, engine = runtime.catalog_writer, runtime.engine
    hf = _record("2607.00004", [], source="hf-daily", freshness=None)
    with engine.begin() as conn:
        results = writer.upsert(
            conn,
            [
                _record("2607.00001", ["cs.CV", "cs.LG"]),
                _record("2607.00002", ["cs.CV"]),
                _record("2607.00003", ["math.AP"]),
                hf,
            ],
        )
        ids = [r.paper_id for r in results]
        vectors = [[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 1, 0], [0.95, 0.05, 0, 0]]
        conn.execute(
            paper_embeddings.insert(),
            [
                {
                    "paper_id": pid,
                    "model": "test@1",
                    "text_hash": "x",
                    "vector": (np.asarray(v, np.float32) / np.linalg.norm(v))
                    .astype(np.float16)
                    .tobytes(),
                    "updated_at": dt.datetime(2026, 7, 1),
                }
                for pid, v in zip(ids, vectors, strict=True)
            ],
        )
    outcome = CategoryPredictor(engine).predict("test@1", 4)
    assert (outcome.predicted, outcome.without_vector, outcome.reference) == (1, 0, 3)
    paper = runtime.catalog.get(paper_id=ids[3])
    assert paper is not None
    # cs.CV: 0.99 + 1.0 of 1.99 (math.AP has similarity 0); cs.LG: 1.0 of 1.99 (>= half)
    assert (paper["primary_category"], paper["categories"]) == ("cs.CV", ["cs.CV", "cs.LG"])
    assert paper["categories_predicted"] is True
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(paper_categories.c.category).where(paper_categories.c.paper_id == ids[3])
        ).scalars()
        assert sorted(rows) == ["cs.CV", "cs.LG"]
    assert CategoryPredictor(engine).predict("test@1", 4).predicted == 0  # nothing left
    with engine.begin() as conn:
        [again] = writer.upsert(conn, [hf])
    assert again.outcome is Outcome.UNCHANGED

    with engine.begin() as conn:
        writer.upsert(conn, [_record("2607.00004", ["eess.IV"], source="arxiv-atom")])
    paper = runtime.catalog.get(paper_id=ids[3])
    assert paper is not None
    assert (paper["categories"], paper["categories_predicted"]) == (["eess.IV"], False)
    assert CategoryPredictor(engine).predict("test@1", 4, again=True).predicted == 0
