"""Recommender: ranks given candidate papers for one reader from the papers they liked and
disliked, with the reason for each (the liked paper it is closest to). No HTTP, no storage of
its own: the vectors are the search index's (`VectorIndex.rows`), the words its word index's,
and the caller passes plain id lists (liked, disliked, candidates, papers to leave out).

The model (recommend/model.py, chosen on `python -m bench recsys`, bench/README.md):

- **meaning**: for each candidate, a smooth maximum of its cosine similarities to the liked
  papers (`soft_max`), so a reader with several interests is served in each of them;
- **words**: the reader's profile of words (the most distinctive index terms of the liked
  papers' titles and abstracts, tf-idf) scored against each candidate by BM25 in the word
  index;
- **dislikes**: minus the same smooth maximum over the disliked papers.

The signals are z-scored over the candidates and added with weights (`Weights`). A reader
without a liked paper (or none with a vector yet) gets nothing: taste cannot rank, and the
caller falls back to follows or trending. Candidates without a vector yet are not ranked.
Deterministic: the same inputs give the same order (ties by paper id)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from paperfeed.papers.catalog import Catalog
from paperfeed.recommend import model
from paperfeed.search.lexical import STOPWORDS
from paperfeed.search.store import SearchStore

# The liked papers the profile of words is made from (the latest ones: ids grow with time).
PROFILE_PAPERS = 300
PROFILE_TERMS = 64


@dataclass(frozen=True)
class Weights:
    """How the signals are weighted (see the module docstring and bench/README.md)."""

    sharpness: float = 20.0  # of the smooth maximum over liked papers (0 < s; large: max)
    meaning: float = 1.0
    words: float = 1.0
    dislikes: float = 0.5
    profile_terms: int = PROFILE_TERMS


@dataclass(frozen=True)
class Recommendation:
    paper_id: int
    score: float
    because: int  # the liked paper it is most similar to
    similarity: float  # the cosine similarity of the two (MiniLM vectors)


class Recommender:
    def __init__(
        self,
        store: Callable[[], SearchStore],
        catalog: Catalog,
        *,
        weights: Weights | None = None,
    ) -> None:
        self._store = store  # the generation being served, asked at every call
        self.catalog = catalog
        self.weights = weights or Weights()

    def ready(self) -> bool:
        """Whether there are paper vectors to rank with."""
        store = self._store()
        return store.meta.dim is not None and store.has_vectors()

    def rank(
        self,
        liked: Sequence[int],
        disliked: Sequence[int],
        candidates: Sequence[int],
        *,
        exclude: Collection[int] = (),
        limit: int = 50,
    ) -> list[Recommendation]:
        """The best `limit` of `candidates` for a reader, best first. Liked, disliked and
        `exclude`d papers (seen, saved, dismissed) are never returned. Empty without a liked
        paper that has a vector."""
        store = self._store()
        if limit <= 0 or not liked or store.meta.dim is None or not store.has_vectors():
            return []
        vectors = store.vectors(store.meta.dim)
        rated = set(liked) | set(disliked) | set(exclude)
        wanted = [pid for pid in dict.fromkeys(candidates) if pid not in rated]
        liked_ids, liked_rows = vectors.rows(list(dict.fromkeys(liked)))
        ids, rows = vectors.rows(wanted)
        if not len(liked_ids) or not len(ids):
            return []
        w = self.weights
        likes = np.asarray(liked_rows, np.float32)
        found = np.asarray(rows, np.float32)
        sims = model.similarities(found, likes)
        signals = [(w.meaning, model.soft_max(sims, w.sharpness))]
        if w.words:
            words = self.word_scores(store, liked_ids.tolist(), ids.tolist())
            signals.append((w.words, words))
        if w.dislikes and disliked:
            _, disliked_rows = vectors.rows(list(dict.fromkeys(disliked)))
            if len(disliked_rows):
                against = model.similarities(found, np.asarray(disliked_rows, np.float32))
                signals.append((-w.dislikes, model.soft_max(against, w.sharpness)))
        scores = model.blend(signals)
        near = model.nearest(sims)
        order = np.lexsort((ids, -scores))[:limit]
        return [
            Recommendation(
                paper_id=int(ids[i]),
                score=float(scores[i]),
                because=int(liked_ids[near.rows[i]]),
                similarity=float(near.similarity[i]),
            )
            for i in order
        ]

    def word_scores(
        self, store: SearchStore, liked: Sequence[int], candidates: Sequence[int]
    ) -> model.Floats:
        """BM25 of each candidate for the reader's profile of words (0: none of them)."""
        profile = self.profile(store, liked)
        found = store.lexical.weighted_scores(profile, candidates)
        return np.fromiter((found.get(pid, 0.0) for pid in candidates), np.float32, len(candidates))

    def profile(self, store: SearchStore, liked: Sequence[int]) -> dict[str, float]:
        """The liked papers' most distinctive index terms, each weighted by how many of
        them hold it (sublinear in its count); chosen by that weight times the term's idf."""
        latest = sorted(liked)[-PROFILE_PAPERS:]
        rows = self.catalog.get_many(latest, ("title", "abstract"))
        lexical = store.lexical
        held: dict[str, float] = {}
        for row in rows.values():
            counts = Counter(lexical.analyze(f"{row['title']}\n{row['abstract'] or ''}"))
            for term, n in counts.items():
                if term not in _STOP_TERMS and len(term) > 1 and not term.isdigit():
                    held[term] = held.get(term, 0.0) + 1.0 + math.log(n)
        if not held:
            return {}
        df, total = lexical.document_frequencies(list(held))
        weight = {t: held[t] * math.log(1.0 + total / df[t]) for t in held if df[t] > 0}
        best = sorted(weight, key=lambda t: (-weight[t], t))[: self.weights.profile_terms]
        top = max((held[t] for t in best), default=1.0)
        return {t: held[t] / top for t in best}


_STOP_TERMS = frozenset(STOPWORDS)
