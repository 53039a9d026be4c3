"""The reader model of "For you": pure functions over L2-normalised paper vectors (MiniLM,
384-d, as the search index stores them) and plain arrays; no I/O.

Each signal gives every candidate a score; `blend` puts signals on one scale (z-scores over
the candidates) and adds them with weights. Which signals and weights the service uses was
measured on the dev sets of `python -m bench recsys` (bench/README.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Nearest:
    """For each candidate: the liked paper (row of `liked`) it is most similar to, and that
    cosine similarity: the reason a recommendation gives."""

    rows: npt.NDArray[np.int64]
    similarity: Floats


def similarities(candidates: Floats, papers: Floats) -> Floats:
    """Cosine similarity of each candidate (row) to each paper (column)."""
    out: Floats = (candidates @ papers.T).astype(np.float32, copy=False)
    return out


def nearest(sims: Floats) -> Nearest:
    rows = np.argmax(sims, axis=1)
    return Nearest(rows, sims[np.arange(len(sims)), rows])


def soft_max(sims: Floats, sharpness: float) -> Floats:
    """A smooth maximum over each row: log(mean(exp(sharpness * s))) / sharpness. Sharp, it is
    the similarity to the nearest liked paper (a reader with several interests is served in
    each); soft, the mean similarity (one centre of interest)."""
    if sims.shape[1] == 0:
        return np.zeros(len(sims), np.float32)
    top = sims.max(axis=1, keepdims=True)
    mean = np.exp(sharpness * (sims - top)).mean(axis=1)
    out: Floats = (top[:, 0] + np.log(mean) / sharpness).astype(np.float32)
    return out


def mean_cosine(candidates: Floats, liked: Floats) -> Floats:
    """Cosine to the mean of the liked vectors (a baseline)."""
    centre = liked.mean(axis=0)
    norm = float(np.linalg.norm(centre))
    out: Floats = (candidates @ (centre / norm if norm > 0 else centre)).astype(np.float32)
    return out


def logistic_regression(
    positives: Floats,
    negatives: Floats,
    *,
    l2: float = 1.0,
    iterations: int = 6,
    negative_weights: Floats | None = None,
) -> tuple[Floats, float]:
    """Weights and bias of an L2-regularised logistic regression fitted by Newton's method
    (IRLS), the classes weighted to count equally ("balanced"); `negative_weights` scales
    single negatives within their class (a dislike counts more than a random paper)."""
    x = np.vstack([positives, negatives]).astype(np.float64)
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    weights = np.concatenate(
        [
            np.full(len(positives), 0.5 / max(1, len(positives))),
            _class_share(negatives, negative_weights),
        ]
    )
    x = np.hstack([x, np.ones((len(x), 1))])
    theta = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2 / len(x))
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ theta)))
        gradient = x.T @ (weights * (p - y)) + penalty * theta
        hessian = (x.T * (weights * p * (1 - p))) @ x + np.diag(penalty + 1e-9)
        theta -= np.linalg.solve(hessian, gradient)
    return theta[:-1].astype(np.float32), float(theta[-1])


def _class_share(rows: Floats, scale: Floats | None) -> npt.NDArray[np.float64]:
    if not len(rows):
        return np.zeros(0)
    raw = np.ones(len(rows)) if scale is None else np.asarray(scale, np.float64)
    out: npt.NDArray[np.float64] = 0.5 * raw / raw.sum()
    return out


def z_scores(scores: Floats) -> Floats:
    spread = float(scores.std())
    out: Floats = ((scores - scores.mean()) / (spread if spread > 0 else 1.0)).astype(np.float32)
    return out


def blend(signals: list[tuple[float, Floats]]) -> Floats:
    """The weighted sum of the signals' z-scores over the candidates."""
    total = np.zeros(len(signals[0][1]), np.float32)
    for weight, scores in signals:
        if weight:
            total += np.float32(weight) * z_scores(scores)
    return total
