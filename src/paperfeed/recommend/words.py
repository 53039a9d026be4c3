"""The words signal of "For you" and what it keeps between calls (recommend/service.py).

Each paper is a bag of terms: the index terms of its title and abstract (analysed as the word
index analyses them: lower case, English stems) without stopwords, one-letter terms and
numbers, and the pairs of adjacent such terms (bigrams: "neural network", "dark matter"),
each counted with a sublinear weight 1 + ln(count). A term's idf is taken over the papers
being ranked (the candidates: `log((1 + n) / (1 + df)) + 1`), so a term counts by how well it
tells the candidates apart. A paper's vector is its weights times idf, of length 1; the
reader's profile is the sum of their liked papers' vectors, and a candidate scores the dot
product of its vector times idf once more (rare shared terms count most) with the profile.
Chosen on the dev set of `python -m bench recsys` (bench/README.md): unigrams and bigrams
scored so beat the 64-term BM25 profile of words it replaces, and the tf-idf SVM of
arxiv-sanity-lite, alone.

Kept per process:

- `TermCache`: each paper's terms as arrays of term numbers (a process-wide vocabulary) and
  weights, up to `PAPERS_KEPT` papers (least recently used out). A paper changed in the
  catalog since it was read (`papers.modified_at`, an indexed query at most every
  REFRESH_EVERY seconds) is read again.
- `WordPool`: for one list of candidates, their terms as one sparse matrix (CSR arrays) with
  the idf over them, and the liked papers' vectors against it; `ForYouService` passes the
  same candidates (the page's, read once a minute) for every reader, so it is made once."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from paperfeed.db.schema import papers
from paperfeed.papers.catalog import Catalog
from paperfeed.search.lexical import STOP_TERMS, analyze_text

PAPERS_KEPT = 100_000  # papers' terms kept per process (~1 KB each)
VOCABULARY_LIMIT = 2_000_000  # distinct terms (~100 bytes each) before the cache starts afresh
LIKED_KEPT = 20_000  # liked papers' vectors kept per pool
REFRESH_EVERY = 10.0  # seconds between two looks at the catalog's changes

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float32]


def paper_terms(tokens: Sequence[str], stop: frozenset[str]) -> list[str]:
    """A paper's terms, as often as they occur: its content tokens and each adjacent pair of
    them."""
    kept = [t for t in tokens if t not in stop and len(t) > 1 and not t.isdigit()]
    return kept + [f"{a} {b}" for a, b in itertools.pairwise(kept)]


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
        *,
        size: int = PAPERS_KEPT,
        every: float = REFRESH_EVERY,
    ) -> None:
        self.catalog = catalog
        self.size = size
        self.version = 0
        self._terms: OrderedDict[int, Terms] = OrderedDict()
        self._vocabulary: dict[str, int] = {}
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
                self._mark = max(self._mark, at)
            if dropped:
                self.version += 1

    def get(self, paper_ids: Sequence[int]) -> list[Terms]:
        """The papers' terms, in order (EMPTY for a paper not in the catalog)."""
        with self._lock:
            missing = [pid for pid in dict.fromkeys(paper_ids) if pid not in self._terms]
        if missing:
            rows = self.catalog.get_many(missing, ("title", "abstract"))
            made = {
                pid: paper_terms(analyze_text(f"{r['title']}\n{r['abstract'] or ''}"), STOP_TERMS)
                for pid, r in rows.items()
            }
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

    def _numbered(self, terms: list[str]) -> Terms:
        vocabulary = self._vocabulary
        found = [vocabulary.get(t, -1) for t in terms]
        for n, number in enumerate(found):
            if number < 0:
                found[n] = vocabulary.setdefault(terms[n], len(vocabulary))
        ids, counts = np.unique(np.asarray(found, np.int64), return_counts=True)
        return Terms(ids, (1.0 + np.log(counts)).astype(np.float32))


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
