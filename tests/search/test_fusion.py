import pytest

from paperfeed.search.fusion import linear_blend, reciprocal_rank_fusion, z_scores


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
