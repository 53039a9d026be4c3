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


@dataclass(frozen=True)
class Centres:
    """A reader's papers as at most k centres of interest (unit vectors) and how many of the
    papers each stands for."""

    vectors: Floats
    sizes: Floats


def centres(papers: Floats, k: int, rounds: int = 3) -> Centres:
    """Spherical k-means of the papers (unit rows) into at most `k` centres: each paper its own
    centre when there are no more than `k`. Deterministic: seeded with the first paper, then
    each time the paper least similar to the centres chosen so far (the first of equals).
    Worked on the papers' Gram matrix (a centre is the normalised sum of its papers): a few
    large products rather than many small ones, which cost most on a busy machine."""
    n = len(papers)
    if n <= k:
        return Centres(papers.astype(np.float32, copy=False), np.ones(n, np.float32))
    gram = papers @ papers.T
    chosen = [0]
    closest = gram[0].copy()
    for _ in range(1, k):
        far = int(np.argmin(closest))
        chosen.append(far)
        np.maximum(closest, gram[far], out=closest)
    sims = gram[:, chosen]  # to each centre (at first, its paper)
    for _ in range(rounds):
        members = np.argmax(sims, axis=1)
        onehot = (members[:, None] == np.arange(k)).astype(np.float32)
        sums = gram @ onehot  # each paper's dot product with each centre's sum
        norms = np.sqrt(np.maximum((onehot * sums).sum(axis=0), 0.0))
        filled = norms > 0
        sims = np.where(filled, sums / np.where(filled, norms, 1.0), sims)
    members = np.argmax(sims, axis=1)
    sizes = np.bincount(members, minlength=k).astype(np.float32)
    onehot = (members[:, None] == np.arange(k)).astype(np.float32)
    vectors = onehot.T @ papers
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    kept = sizes > 0
    return Centres(vectors[kept].astype(np.float32), sizes[kept])


def soft_max_centres(sims: Floats, sizes: Floats, sharpness: float) -> Floats:
    """`soft_max` of the similarities to a reader's papers, each paper taken as its centre:
    log(sum(size * exp(sharpness * s)) / sum(size)) / sharpness over the centres. `sims` has
    a row per centre and a column per candidate (long rows: numpy reduces them in a few
    vector operations, where a row per candidate cost ~9 ms more for 15,000)."""
    if sims.shape[0] == 0:
        return np.zeros(sims.shape[1], np.float32)
    top = sims.max(axis=0)
    powers = sims - top
    powers *= np.float32(sharpness)
    np.exp(powers, out=powers)
    weighted = (sizes / sizes.sum()).astype(np.float32) @ powers
    out: Floats = (top + np.log(weighted) / np.float32(sharpness)).astype(np.float32)
    return out


def shared_categories(
    candidates: npt.NDArray[np.int32], liked: npt.NDArray[np.int32], categories: int
) -> Floats:
    """For each candidate (its primary category's code, one of `categories`; -1: none), how
    many of the liked papers (their primary categories' codes) have it as theirs: a reader's
    field. A paper without categories counts for nothing (such a candidate scores 0)."""
    counts = np.zeros(categories + 1, np.float32)  # the last: no category (-1)
    counts[:categories] = np.bincount(liked[liked >= 0], minlength=categories)[:categories]
    out: Floats = counts[candidates]
    return out
