"""The words signal of "For you" and what it keeps between calls (recommend/service.py).

Each paper is a bag of terms (search/terms.py, stored beside the index when the paper is
indexed): its content words (stemmed) and the pairs of adjacent content words (bigrams:
"neural network", "dark matter"), each counted with a sublinear weight 1 + ln(count). A
term's idf is taken over the papers being ranked (the candidates: `log((1 + n) / (1 + df)) +
1`), so a term counts by how well it tells the candidates apart. A paper's vector is its
weights times idf, of length 1; the reader's profile is the sum of their liked papers'
vectors, and a candidate scores the dot product of its vector times idf once more (rare shared
terms count most) with the profile. Chosen on the dev set of `python -m bench recsys`
(bench/README.md): unigrams and bigrams scored so beat the 64-term BM25 profile of words it
replaces, and the tf-idf SVM of arxiv-sanity-lite, alone.

Kept per process:

- `TermCache`: each paper's terms as arrays of term numbers (a process-wide numbering of the
  stored 64-bit ones) and weights, up to `PAPERS_KEPT` papers (least recently used out),
  read from the index's term store; a paper without stored terms (an index written before
  the store, not filled in yet) is read from the catalog and analysed. A paper changed in the
  catalog since it was read (`papers.modified_at`, an indexed query at most every
  REFRESH_EVERY seconds) is read again: from the store once the index has taken the change
  in, from the catalog until then.
- `WordPool`: for one list of candidates, their terms as one sparse matrix (CSR arrays) with
  the idf over them, and the liked papers' vectors against it; `ForYouService` passes the
  same candidates (the page's, read once a minute) for every reader, so it is made once."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from paperfeed.db.schema import papers
from paperfeed.papers.catalog import Catalog
from paperfeed.search.terms import PaperTerms, TermStore, microseconds, paper_terms

PAPERS_KEPT = 100_000  # papers' terms kept per process (~1 KB each)
CHANGES_KEPT = 100_000  # papers seen changed, remembered until the store has their new terms
VOCABULARY_LIMIT = 2_000_000  # distinct terms (~100 bytes each) before the cache starts afresh
LIKED_KEPT = 20_000  # liked papers' vectors kept per pool
REFRESH_EVERY = 10.0  # seconds between two looks at the catalog's changes

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Terms:
    """A paper's terms: term numbers (ascending) and sublinear weights 1 + ln(count)."""

    ids: Ints
    weights: Floats


EMPTY = Terms(np.zeros(0, np.int64), np.zeros(0, np.float32))


class TermCache:
    """Papers' terms by paper id (see the module docstring). `version` grows whenever a kept
    paper is dropped because it changed (what was made from it is stale)."""

    def __init__(
        self,
        catalog: Catalog,
        stored: Callable[[], TermStore | None] = lambda: None,
        *,
        size: int = PAPERS_KEPT,
        every: float = REFRESH_EVERY,
    ) -> None:
        self.catalog = catalog
        self.stored = stored  # the term store of the index being served
        self.size = size
        self.version = 0
        self._terms: OrderedDict[int, Terms] = OrderedDict()
        self._vocabulary: dict[int, int] = {}
        # Papers seen changed in the catalog: their modified_at (microseconds) until the
        # store holds terms made from it.
        self._changed: OrderedDict[int, int] = OrderedDict()
        self.every = every
        self._looked: float | None = None
        self._mark: dt.datetime | None = None  # the newest change seen
        self._lock = threading.Lock()

    def refresh(self, now: float | None = None) -> None:
        """Drop the kept papers changed in the catalog since the last look (at most one look
        every `every` seconds of `now`, time.monotonic() by default): those whose
        `modified_at` is past the newest one seen. (A change committed late with an older
        stamp, as concurrent writers on PostgreSQL may, is not seen: the paper's words stay
        as read until it leaves the cache.)"""
        now = time.monotonic() if now is None else now
        if self._looked is not None and now - self._looked < self.every:
            return
        self._looked = now
        with self.catalog.reader.connect() as conn:
            if self._mark is None:
                newest = conn.execute(sa.select(sa.func.max(papers.c.modified_at))).scalar()
                with self._lock:
                    self._mark = newest or dt.datetime.min
                return
            changed = conn.execute(
                sa.select(papers.c.id, papers.c.modified_at).where(
                    papers.c.modified_at > self._mark
                )
            ).all()
        with self._lock:
            dropped = False
            for pid, at in changed:
                dropped |= self._terms.pop(pid, None) is not None
                self._changed[pid] = microseconds(at)
                self._changed.move_to_end(pid)
                self._mark = max(self._mark, at)
            while len(self._changed) > CHANGES_KEPT:
                self._changed.popitem(last=False)
            if dropped:
                self.version += 1

    def get(self, paper_ids: Sequence[int]) -> list[Terms]:
        """The papers' terms, in order (EMPTY for a paper not in the catalog)."""
        with self._lock:
            missing = [pid for pid in dict.fromkeys(paper_ids) if pid not in self._terms]
        if missing:
            made = self._read(missing)
            with self._lock:
                if len(self._vocabulary) > VOCABULARY_LIMIT:
                    self._vocabulary.clear()
                    self._terms.clear()
                    self.version += 1
                for pid, terms in made.items():
                    self._terms[pid] = self._numbered(terms)
        out: list[Terms] = []
        with self._lock:
            for pid in paper_ids:
                found = self._terms.get(pid)
                if found is None:
                    out.append(EMPTY)
                else:
                    self._terms.move_to_end(pid)
                    out.append(found)
            while len(self._terms) > self.size:
                self._terms.popitem(last=False)
        return out

    def _read(self, paper_ids: list[int]) -> dict[int, PaperTerms]:
        """The papers' terms from the store, or (none stored, or stored from an older text
        than the catalog's) from the catalog, analysed."""
        store = self.stored()
        found = store.get(paper_ids) if store is not None else {}
        made: dict[int, PaperTerms] = {}
        with self._lock:
            for pid, kept in found.items():
                changed = self._changed.get(pid)
                if changed is None or kept.modified_us >= changed:
                    made[pid] = kept.terms
                    if changed is not None:
                        del self._changed[pid]
        rest = [pid for pid in paper_ids if pid not in made]
        if rest:
            rows = self.catalog.get_many(rest, ("title", "abstract"))
            made.update(
                (pid, paper_terms(r["title"], r["abstract"] or "")) for pid, r in rows.items()
            )
        return made

    def _numbered(self, terms: PaperTerms) -> Terms:
        """The paper's terms in the process's numbering (ascending), weighted."""
        vocabulary = self._vocabulary
        keys = terms.numbers.tolist()
        found = [vocabulary.get(k, -1) for k in keys]
        for n, number in enumerate(found):
            if number < 0:
                found[n] = vocabulary.setdefault(keys[n], len(vocabulary))
        ids = np.asarray(found, np.int64)
        order = np.argsort(ids)
        weights = (1.0 + np.log(terms.counts[order].astype(np.float64))).astype(np.float32)
        return Terms(ids[order], weights)


@dataclass
class WordPool:
    """One list of candidates' terms as a sparse matrix (see the module docstring); its
    columns are the process-wide term numbers, so making one is a few array operations."""

    idf: Floats  # by term number (0: no candidate holds the term)
    indptr: Ints  # CSR: candidate i's entries are [indptr[i], indptr[i + 1])
    indices: Ints  # their term numbers
    data: Floats  # their values: the candidate's unit tf-idf vector times idf
    liked: OrderedDict[int, tuple[Ints, Floats]] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, terms: Sequence[Terms]) -> WordPool:
        n = len(terms)
        lengths = np.fromiter((len(t.ids) for t in terms), np.int64, n)
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(lengths, out=indptr[1:])
        every = np.concatenate([t.ids for t in terms]) if n else np.zeros(0, np.int64)
        weights = np.concatenate([t.weights for t in terms]) if n else np.zeros(0, np.float32)
        df = np.bincount(every, minlength=int(every.max(initial=-1)) + 1)
        idf = np.where(df > 0, np.log((1.0 + n) / (1.0 + df)) + 1.0, 0.0).astype(np.float32)
        values = weights * idf[every]
        rows = np.repeat(np.arange(n), lengths)
        norms = np.sqrt(np.bincount(rows, values * values, minlength=n)).astype(np.float32)
        norms[norms == 0] = 1.0
        data = (values / norms[rows] * idf[every]).astype(np.float32)
        return cls(idf, indptr, every, data)

    def vector(self, paper_id: int, terms: Terms) -> tuple[Ints, Floats]:
        """A liked paper's unit tf-idf vector over the candidates' terms (term numbers,
        values); the terms no candidate holds are left out."""
        with self.lock:
            found = self.liked.get(paper_id)
            if found is not None:
                self.liked.move_to_end(paper_id)
                return found
        ids = terms.ids[terms.ids < len(self.idf)]
        weights = terms.weights[: len(ids)]  # (ids ascending: the kept ones come first)
        inside = self.idf[ids] > 0
        cols = ids[inside]
        values = weights[inside] * self.idf[cols]
        norm = float(np.sqrt(np.dot(values, values)))
        made = (cols, (values / norm if norm > 0 else values).astype(np.float32))
        with self.lock:
            self.liked[paper_id] = made
            while len(self.liked) > LIKED_KEPT:
                self.liked.popitem(last=False)
        return made

    def scores(self, liked: Sequence[tuple[Ints, Floats]], rows: Ints) -> Floats:
        """The words score of the candidates at `rows` (positions in the pool) for a reader
        whose liked papers' vectors are `liked`."""
        starts = self.indptr[:-1]
        if not len(self.data):
            return np.zeros(len(rows), np.float32)
        profile = np.zeros(len(self.idf), np.float32)
        for cols, values in liked:
            profile[cols] += values
        products = self.data * profile[self.indices]
        totals = np.add.reduceat(products, np.minimum(starts, len(products) - 1))
        totals[starts == self.indptr[1:]] = 0.0  # reduceat gives an empty row a value
        out: Floats = totals[rows].astype(np.float32, copy=False)
        return out


def liked_vectors(
    pool: WordPool, terms: TermCache, liked: Sequence[int]
) -> list[tuple[Ints, Floats]]:
    """The liked papers' vectors over the pool's terms."""
    with pool.lock:
        missing = [pid for pid in liked if pid not in pool.liked]
    made = dict(zip(missing, terms.get(missing), strict=True)) if missing else {}
    return [pool.vector(pid, made.get(pid, EMPTY)) for pid in liked]
