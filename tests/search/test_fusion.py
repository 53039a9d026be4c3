import math
import random

import numpy as np
import pytest

from paperfeed.search.fusion import (
    dbsf_blend,
    dbsf_scores,
    linear_blend,
    reciprocal_rank_fusion,
    z_scores,
)


def test_rrf_rewards_documents_ranked_well_by_both() -> None:
    fused = reciprocal_rank_fusion([[(1, 9.0), (2, 8.0), (3, 1.0)], [(3, 0.9), (1, 0.8)]])
    assert [doc for doc, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_z_scores_are_standardised() -> None:
    z = z_scores([(1, 3.0), (2, 1.0), (3, 2.0)])
    assert sum(z.values()) == pytest.approx(0.0)
    assert z[1] > z[3] > z[2]
    assert z_scores([(7, 5.0)]) == {7: 0.0}
    assert z_scores([]) == {}


def test_linear_blend_weights_the_two_lists() -> None:
    lexical = [(1, 20.0), (2, 10.0), (3, 0.0)]
    dense = [(3, 0.9), (2, 0.5), (1, 0.1)]
    assert linear_blend(lexical, dense, dense_weight=0.0)[0][0] == 1
    assert linear_blend(lexical, dense, dense_weight=1.0)[0][0] == 3


def test_a_document_from_one_list_only_gets_that_lists_floor_elsewhere() -> None:
    fused = dict(linear_blend([(1, 2.0), (2, 1.0)], [(3, 0.9), (1, 0.1)], dense_weight=0.5))
    assert set(fused) == {1, 2, 3}
    assert fused[2] < fused[1]


def test_dbsf_maps_three_standard_deviations_around_the_mean_onto_0_1() -> None:
    scores = dbsf_scores([(1, 3.0), (2, 1.0), (3, 2.0)])
    spread = math.sqrt(2 / 3)
    assert scores[3] == pytest.approx(0.5)
    assert scores[1] == pytest.approx(0.5 + 1 / (6 * spread))
    assert dbsf_scores([(7, 5.0), (8, 5.0)]) == {7: 1.0, 8: 1.0}
    assert dbsf_scores([]) == {}


def _reference_blend(
    lexical: list[tuple[int, float]], dense: list[tuple[int, float]], weight: float
) -> list[tuple[int, float]]:
    """The definition, written out with dicts."""
    lex, vec = dbsf_scores(lexical), dbsf_scores(dense)
    fused = {
        doc: (1 - weight) * lex.get(doc, 0.0) + weight * vec.get(doc, 0.0)
        for doc in lex.keys() | vec.keys()
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def test_dbsf_blend_follows_its_definition_best_first_with_ties_by_id() -> None:
    rng = random.Random(3)
    for _ in range(50):
        docs = rng.sample(range(5000), 300)
        lexical = sorted(((d, rng.uniform(0, 30)) for d in docs[:200]), key=lambda x: -x[1])
        dense = sorted(((d, rng.uniform(-1, 1)) for d in docs[120:]), key=lambda x: -x[1])
        weight = rng.choice([0.0, 0.45, 1.0])
        got = dbsf_blend(lexical, dense, dense_weight=weight)
        expected = _reference_blend(lexical, dense, weight)
        assert [doc for doc, _ in got] == [doc for doc, _ in expected]
        assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-12)
    # equal fused scores: lower id first
    assert [doc for doc, _ in dbsf_blend([(9, 1.0), (4, 1.0)], [], dense_weight=0.5)] == [4, 9]
    assert dbsf_blend([], [], dense_weight=0.5) == []


def test_dbsf_blend_counts_a_document_listed_twice_once_at_its_best() -> None:
    once = dbsf_blend([(1, 5.0), (2, 3.0), (3, 1.0)], [(2, 0.9)], dense_weight=0.5)
    twice = dbsf_blend([(1, 5.0), (2, 3.0), (3, 1.0), (2, 0.5)], [(2, 0.9)], dense_weight=0.5)
    assert [doc for doc, _ in twice] == [doc for doc, _ in once]


def test_exact_dense_scores_of_word_candidates_are_scaled_by_the_dense_lists_statistics() -> None:
    """A word candidate that the nearest-neighbour search did not reach gets its own meaning
    score, on the dense list's scale; a paper in the dense list keeps its listed score."""
    lexical = [(1, 9.0), (2, 9.0), (3, 4.0)]
    dense = [(4, 0.8), (5, 0.6), (3, 0.4)]
    extra = (np.array([1, 2, 3], dtype=np.int64), np.array([0.7, 0.1, 0.99]))
    got = dict(dbsf_blend(lexical, dense, dense_weight=0.5, dense_extra=extra))
    vec = np.array([0.8, 0.6, 0.4])
    low, width = vec.mean() - 3 * vec.std(), 6 * vec.std()
    lex = dbsf_scores(lexical)
    assert got[1] == pytest.approx(0.5 * lex[1] + 0.5 * (0.7 - low) / width)
    assert got[2] == pytest.approx(0.5 * lex[2] + 0.5 * (0.1 - low) / width)
    assert got[3] == pytest.approx(0.5 * lex[3] + 0.5 * (0.4 - low) / width)  # listed: 0.4
    assert got[1] > got[2]  # equal words; the meaning decides
    without = dict(dbsf_blend(lexical, dense, dense_weight=0.5))
    assert without[1] == without[2]
    # nothing to scale by: extras are ignored, as is an empty extra list
    assert dbsf_blend(lexical, [], dense_weight=0.5, dense_extra=extra) == dbsf_blend(
        lexical, [], dense_weight=0.5
    )
    empty = (np.array([], dtype=np.int64), np.array([]))
    assert dbsf_blend(lexical, dense, dense_weight=0.5, dense_extra=empty) == list(
        sorted(without.items(), key=lambda item: (-item[1], item[0]))
    )


def test_exact_word_scores_of_meaning_candidates_are_scaled_by_the_lexical_lists_statistics() -> (
    None
):
    """A meaning candidate outside the word candidates gets its own word score, on the lexical
    list's scale, rather than none; a paper in the lexical list keeps its listed score."""
    lexical = [(1, 9.0), (2, 6.0), (3, 4.0)]
    dense = [(4, 0.8), (5, 0.8), (3, 0.4)]
    extra = (np.array([4, 5, 3], dtype=np.int64), np.array([3.5, 0.0, 99.0]))
    got = dict(dbsf_blend(lexical, dense, dense_weight=0.5, lexical_extra=extra))
    lex = np.array([9.0, 6.0, 4.0])
    low, width = lex.mean() - 3 * lex.std(), 6 * lex.std()
    vec = dbsf_scores(dense)
    assert got[4] == pytest.approx(0.5 * (3.5 - low) / width + 0.5 * vec[4])
    assert got[5] == pytest.approx(0.5 * (0.0 - low) / width + 0.5 * vec[5])
    assert got[3] == pytest.approx(0.5 * (4.0 - low) / width + 0.5 * vec[3])  # listed: 4.0
    assert got[4] > got[5]  # equal meaning; the words decide
    without = dict(dbsf_blend(lexical, dense, dense_weight=0.5))
    assert without[4] == without[5]
