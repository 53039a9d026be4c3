"""Fusing ranked lists from the lexical and dense retrievers: pure functions over
(paper_id, score) lists, best first."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Ranked = Sequence[tuple[int, float]]


def reciprocal_rank_fusion(lists: Sequence[Ranked], *, k: float = 60.0) -> list[tuple[int, float]]:
    """RRF (Cormack, Clarke & Buettcher, SIGIR 2009): sum of 1 / (k + rank)."""
    scores: dict[int, float] = {}
    for ranked in lists:
        for rank, (doc, _) in enumerate(ranked, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def z_scores(ranked: Ranked) -> dict[int, float]:
    """Standardise one list's scores (mean 0, sd 1) so lists on different scales can be added."""
    if not ranked:
        return {}
    values = [score for _, score in ranked]
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
    return {doc: (score - mean) / spread for doc, score in ranked}


def linear_blend(
    lexical: Ranked, dense: Ranked, *, dense_weight: float = 0.5
) -> list[tuple[int, float]]:
    """Convex combination of z-scored lists. A document missing from one list gets that list's
    lowest standardised score: it was not retrieved, so it scores no better than the worst hit."""
    lex, vec = z_scores(lexical), z_scores(dense)
    lex_floor = min(lex.values(), default=0.0)
    vec_floor = min(vec.values(), default=0.0)
    fused = {
        doc: (1.0 - dense_weight) * lex.get(doc, lex_floor) + dense_weight * vec.get(doc, vec_floor)
        for doc in lex.keys() | vec.keys()
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def dbsf_scores(ranked: Ranked) -> dict[int, float]:
    """Distribution-based score normalisation (Mazzeschi et al., 2023): map [mean - 3 sd,
    mean + 3 sd] onto [0, 1], so an outlying top hit is not flattened as min-max would."""
    scores = _dbsf(np.fromiter((score for _, score in ranked), np.float64, len(ranked)))
    return dict(zip((doc for doc, _ in ranked), scores.tolist(), strict=True))


def _dbsf(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    if not len(scores):
        return scores
    spread = scores.std()
    if spread == 0:
        return np.ones_like(scores)
    return _onto_unit(scores, scores.mean(), spread)


def _onto_unit(
    scores: npt.NDArray[np.float64], mean: float, spread: float
) -> npt.NDArray[np.float64]:
    """Map [mean - 3 sd, mean + 3 sd] onto [0, 1]."""
    normalised: npt.NDArray[np.float64] = (scores - (mean - 3 * spread)) / (6 * spread)
    return normalised


def _arrays(ranked: Ranked) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """A list's ids and scores, each id once (its best score: a list is best first)."""
    ids = np.fromiter((doc for doc, _ in ranked), np.int64, len(ranked))
    scores = np.fromiter((score for _, score in ranked), np.float64, len(ranked))
    first = np.unique(ids, return_index=True)[1]
    if len(first) < len(ids):
        keep = np.sort(first)
        return ids[keep], scores[keep]
    return ids, scores


def _with_extra(
    ids: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    extra: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """A list's ids and DBSF-normalised scores, with `extra` (exact scores of documents the
    list did not reach) normalised by the list's own statistics and appended."""
    normalised = _dbsf(scores)
    if extra is None or not len(scores) or not len(extra[0]):
        return ids, normalised
    outside = ~np.isin(extra[0], ids)
    added = _onto_unit(extra[1][outside], scores.mean(), scores.std() or 1.0)
    return np.concatenate([ids, extra[0][outside]]), np.concatenate([normalised, added])


def dbsf_blend(
    lexical: Ranked,
    dense: Ranked,
    *,
    dense_weight: float = 0.5,
    dense_extra: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None = None,
    lexical_extra: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None = None,
) -> list[tuple[int, float]]:
    """Weighted sum of DBSF-normalised scores; a document absent from a list scores 0 there.
    Best first, ties by id. In numpy: it runs on every hybrid search, over two lists of 1,000
    candidates, where dicts and a keyed sort took 1.1 ms (now 0.4).

    `dense_extra` holds exact dense scores of documents outside the dense list (the word
    candidates): they are normalised with the dense list's statistics, so a word match that
    the nearest-neighbour search did not reach still gets the meaning score it deserves
    instead of none. `lexical_extra` does the same for the word scores of documents outside
    the lexical list (the meaning candidates)."""
    lex_ids, lex_norm = _with_extra(*_arrays(lexical), lexical_extra)
    vec_ids, vec_norm = _with_extra(*_arrays(dense), dense_extra)
    parts = np.concatenate([(1.0 - dense_weight) * lex_norm, dense_weight * vec_norm])
    unique, where = np.unique(np.concatenate([lex_ids, vec_ids]), return_inverse=True)
    fused = np.bincount(where, weights=parts, minlength=len(unique))
    order = np.lexsort((unique, -fused))
    return list(zip(unique[order].tolist(), fused[order].tolist(), strict=True))
