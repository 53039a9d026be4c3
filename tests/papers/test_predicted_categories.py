"""The neighbours' vote of papers/predicted_categories.py (pure), and the exact nearest
neighbours it is given."""

from __future__ import annotations

import numpy as np
import pytest

from paperfeed.papers.predicted_categories import K, Neighbour, Prediction, nearest, vote


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
