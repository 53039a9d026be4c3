"""Recommender: ranks given candidate papers for one reader from the papers they liked and
disliked, with the reason for each (the liked paper it is closest to). No HTTP, no storage of
its own: the vectors are the search index's (`VectorIndex.rows`), the words its papers' terms
(search/terms.py, stored when a paper is indexed), and the caller passes plain id lists
(liked, disliked, candidates, papers to leave out).

The model (recommend/model.py and words.py, chosen on `python -m bench recsys`,
bench/README.md):

- **meaning**: for each candidate, a smooth maximum of its cosine similarities to the liked
  papers (`soft_max`), so a reader with several interests is served in each of them; the
  liked papers are first gathered into at most `Weights.centres` centres of interest
  (spherical k-means; a reader with fewer liked papers keeps each), so a candidate is
  compared with 32 vectors rather than hundreds;
- **words**: the dot product of the candidate's tf-idf vector of words and word pairs with
  the sum of the liked papers' (recommend/words.py);
- **categories**: how many of the liked papers have the candidate's primary arXiv category
  as theirs (`model.shared_categories`: a reader's field; papers without categories count for
  nothing);
- **dislikes**: minus the smooth maximum of the similarities to the disliked papers (their
  centres likewise).

The signals are z-scored over the candidates and added with weights (`Weights`). A reader
without a liked paper (or none with a vector yet) gets nothing: taste cannot rank, and the
caller falls back to follows or trending. Candidates without a vector yet are not ranked.
Deterministic: the same inputs give the same order (ties by paper id).

Kept between calls (the same list of candidates for many readers: `ForYouService` passes the
page's or the digest run's whole list and leaves each reader's seen papers out with
`exclude`): the candidates' vectors in float32, their categories and their words (`_Pool`,
made again when the list, a vector or a paper changes, from the latest pool when the list
moved), and each paper's words (`words.TermCache`) and primary category
(`categories.CategoryTable`, the whole catalog's: read once, then following its changes).

**Pools are made ahead of readers.** `prepare(candidates)` makes (or finds kept) a list's pool;
a serving process calls it from the index follower's thread (`ForYouService.warm`) when it
starts and whenever the page's list, the vectors or the kept words change, so no reader's
request makes one. One pool is made at a time per process (`_building`): a ranking that needs
a pool being made waits for it (and then finds it kept) rather than making it a second time.
`builds` counts the pools made (vectors and words apart)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from paperfeed.papers.catalog import Catalog
from paperfeed.recommend import model
from paperfeed.recommend.categories import CategoryTable
from paperfeed.recommend.words import TermCache, WordPool
from paperfeed.search.store import SearchStore
from paperfeed.search.vectors import VectorIndex

POOLS_KEPT = 4  # lists of candidates kept per process (a page's, a digest run's)


@dataclass(frozen=True)
class Weights:
    """How the signals are weighted (see the module docstring and bench/README.md)."""

    sharpness: float = 20.0  # of the smooth maximum over liked papers (0 < s; large: max)
    meaning: float = 1.0
    words: float = 1.0
    dislikes: float = 0.5
    categories: float = 0.5
    centres: int = 32  # of interest, at most (liked papers; disliked ones likewise)


@dataclass(frozen=True)
class Recommendation:
    paper_id: int
    score: float
    because: int  # the liked paper it is most similar to
    similarity: float  # the cosine similarity of the two (MiniLM vectors)


@dataclass
class _Pool:
    """A list of candidates as kept between calls: those with a vector (ids, in the given
    order without repeats) and their vectors in float32, a column each (the centres' product
    with them packs no transposed copy: ~3 ms less for 15,000, the same values); their words
    made on first use."""

    version: int  # the vector index's
    given: npt.NDArray[np.int64]
    ids: npt.NDArray[np.int64]
    columns: model.Floats  # (dimensions, candidates), C order
    categories: npt.NDArray[np.int32]  # of `ids`: their primary categories' codes
    words: WordPool | None = None


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
        self.terms = TermCache(catalog, lambda: store().terms)
        self.categories = CategoryTable(catalog)
        self._pools: OrderedDict[tuple[int, ...], _Pool] = OrderedDict()
        self._word_pools: OrderedDict[tuple[int, ...], tuple[npt.NDArray[np.int64], WordPool]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()
        self._building = threading.Lock()  # one pool made at a time (see the module)
        self.builds = 0  # pools made by this recommender (a list's vectors, its words)

    def ready(self) -> bool:
        """Whether there are paper vectors to rank with."""
        store = self._store()
        return store.meta.dim is not None and store.has_vectors()

    def prepare(self, candidates: Sequence[int]) -> None:
        """Make the pool of these candidates (their vectors and words) unless it is kept and
        current, so that the next ranking of them makes none; cheap when nothing changed."""
        store = self._store()
        if not candidates or store.meta.dim is None or not store.has_vectors():
            return
        if self.weights.words:
            self.terms.refresh()
        pool = self._pool(store.vectors(store.meta.dim), candidates)
        if self.weights.words:
            self._words_of(pool)

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
        liked_ids, liked_rows = vectors.rows(sorted(set(liked)))
        if not len(liked_ids) or not candidates:
            return []
        w = self.weights
        if w.words:
            self.terms.refresh()
        pool = self._pool(vectors, candidates)
        rated = np.fromiter({*liked, *disliked, *exclude}, np.int64)
        rows = np.flatnonzero(~np.isin(pool.ids, rated))
        if not len(rows):
            return []
        likes = np.asarray(liked_rows, np.float32)
        interests = model.centres(likes, w.centres)
        against = model.Centres(np.zeros((0, likes.shape[1]), np.float32), np.zeros(0, np.float32))
        if w.dislikes and disliked:
            _, disliked_rows = vectors.rows(sorted(set(disliked)))
            if len(disliked_rows):
                against = model.centres(np.asarray(disliked_rows, np.float32), w.centres)
        # One pass over the candidates' vectors for both (the pass is what costs), a row per
        # centre: the smooth maxima then reduce whole rows, not 15,000 short ones.
        sims = np.vstack([interests.vectors, against.vectors]) @ pool.columns
        k = len(interests.vectors)
        meaning = model.soft_max_centres(sims[:k], interests.sizes, w.sharpness)
        signals = [(w.meaning, meaning[rows])]
        if w.words:
            signals.append((w.words, self.word_scores(pool, liked_ids.tolist(), rows)))
        if w.categories:
            self.categories.refresh()
            liked_codes = self.categories.primary(np.fromiter(set(liked), np.int64))
            shared = model.shared_categories(
                pool.categories[rows], liked_codes, len(self.categories.codes)
            )
            signals.append((w.categories, shared))
        if len(against.vectors):
            dislikes = model.soft_max_centres(sims[k:], against.sizes, w.sharpness)
            signals.append((-w.dislikes, dislikes[rows]))
        scores = model.blend(signals)
        ids = pool.ids[rows]
        top = _best(scores, ids, limit)
        near = model.nearest(model.similarities(pool.columns[:, rows[top]].T, likes))
        return [
            Recommendation(
                paper_id=int(ids[i]),
                score=float(scores[i]),
                because=int(liked_ids[near.rows[n]]),
                similarity=float(near.similarity[n]),
            )
            for n, i in enumerate(top)
        ]

    def word_scores(
        self, pool: _Pool, liked: Sequence[int], rows: npt.NDArray[np.int64]
    ) -> model.Floats:
        """The words score of the pool's candidates at `rows` for the liked papers."""
        words = self._words_of(pool)
        return words.scores(words.liked_profile(liked, self.terms), rows)

    def _words_of(self, pool: _Pool) -> WordPool:
        """The pool's words, made on first use (one pool at a time: `_building`)."""
        words = pool.words
        if words is None:
            with self._building:
                words = pool.words
                if words is None:
                    words = pool.words = self._word_pool(pool.ids)
        return words

    def _word_pool(self, ids: npt.NDArray[np.int64]) -> WordPool:
        """The words of these candidates, kept apart from their vectors (a vector added
        elsewhere changes the index's version, not the candidates' words); made from the
        latest pool when the two lists share most of their papers (the next minute's list)."""
        version = self.terms.version
        key = (version, len(ids), hash(ids.tobytes()))
        with self._lock:
            found = self._word_pools.get(key)
            if found is not None and np.array_equal(found[0], ids):
                self._word_pools.move_to_end(key)
                return found[1]
            before = next(
                (kept for k, kept in reversed(self._word_pools.items()) if k[0] == version), None
            )
        made = _moved_words(before, ids, self.terms) if before is not None else None
        if made is None:
            made = WordPool.of(self.terms.get(ids.tolist()))
        self.builds += 1
        with self._lock:
            self._word_pools[key] = (ids, made)
            while len(self._word_pools) > POOLS_KEPT:
                self._word_pools.popitem(last=False)
        return made

    def _categories(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
        """The papers' primary categories' codes (none read when they weigh nothing), the
        catalog's changes looked at first (a pool made for a changed paper holds its new one)."""
        if not self.weights.categories:
            return np.full(len(ids), -1, np.int32)
        self.categories.refresh(force=True)
        return self.categories.primary(ids)

    def _pool(self, vectors: VectorIndex, candidates: Sequence[int]) -> _Pool:
        """The kept pool of these candidates, made when the list, a vector (the index's
        version) or a kept paper's words changed."""
        given = np.fromiter(candidates, np.int64, len(candidates))
        lookup = (vectors.version, self.terms.version, len(given), hash(given.tobytes()))
        with self._lock:
            found = self._pools.get(lookup)
            if found is not None and np.array_equal(found.given, given):
                self._pools.move_to_end(lookup)
                return found
        with self._building:  # (made meanwhile by another thread: kept now)
            with self._lock:
                found = self._pools.get(lookup)
                if found is not None and np.array_equal(found.given, given):
                    self._pools.move_to_end(lookup)
                    return found
                before = next(
                    (p for p in reversed(self._pools.values()) if p.version == vectors.version),
                    None,
                )
            _, first = np.unique(given, return_index=True)
            wanted = given[np.sort(first)]
            if before is None:
                ids, rows = vectors.rows(wanted.tolist())
                columns = np.asarray(rows, np.float32).T.copy()
            else:  # the rows of the papers the latest list held, the others from the index
                ids, columns = _reuse(before, wanted, vectors)
            pool = _Pool(vectors.version, given, ids, columns, self._categories(ids))
            self.builds += 1
            with self._lock:
                self._pools[lookup] = pool
                while len(self._pools) > POOLS_KEPT:
                    self._pools.popitem(last=False)
            return pool


def _reuse(
    before: _Pool, wanted: npt.NDArray[np.int64], vectors: VectorIndex
) -> tuple[npt.NDArray[np.int64], model.Floats]:
    """The wanted papers with a vector and their vectors as columns, those `before` held
    copied from it (same version of the index: the same vectors) and the others read from the
    index."""
    where = _positions(before.ids, wanted)
    held = where >= 0
    new_ids, new_rows = vectors.rows(wanted[~held].tolist())
    present = held.copy()
    present[np.flatnonzero(~held)[np.isin(wanted[~held], new_ids)]] = True
    ids = wanted[present]
    columns = np.empty((before.columns.shape[0], len(ids)), np.float32)
    from_before = held[present]
    columns[:, from_before] = before.columns[:, where[held]]
    columns[:, ~from_before] = np.asarray(new_rows, np.float32).T
    return ids, columns


def _moved_words(
    before: tuple[npt.NDArray[np.int64], WordPool], ids: npt.NDArray[np.int64], terms: TermCache
) -> WordPool | None:
    """The words of these candidates made from the pool of `before`'s when the two lists
    share at least half of each (None otherwise, or when most of that pool's columns are terms
    no candidate holds any more: a fresh pool is smaller)."""
    before_ids, pool = before
    if not len(before_ids) or len(pool.columns) > 2 * pool.held + 1000:
        return None
    kept = _positions(before_ids, ids)
    held = kept >= 0
    shared = int(held.sum())
    if 2 * shared < len(ids) or 2 * shared < len(before_ids):
        return None
    return pool.moved(kept, terms.get(ids[~held].tolist()))


def _positions(
    before: npt.NDArray[np.int64], wanted: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Where each wanted paper id is in `before` (ids without repeats), -1 where it is not."""
    if not len(before):
        return np.full(len(wanted), -1, np.int64)
    sorter = np.argsort(before, kind="stable")
    at = np.minimum(np.searchsorted(before, wanted, sorter=sorter), len(before) - 1)
    found: npt.NDArray[np.int64] = np.where(before[sorter[at]] == wanted, sorter[at], -1)
    return found


def _best(scores: model.Floats, ids: npt.NDArray[np.int64], limit: int) -> npt.NDArray[np.int64]:
    """The positions of the `limit` best scores, best first, ties by paper id."""
    if len(scores) > limit:
        threshold = np.partition(scores, len(scores) - limit)[len(scores) - limit]
        within = np.flatnonzero(scores >= threshold)
    else:
        within = np.arange(len(scores))
    order = np.lexsort((ids[within], -scores[within]))[:limit]
    out: npt.NDArray[np.int64] = within[order]
    return out
