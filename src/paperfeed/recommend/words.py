"""The words signal of "For you" and what it keeps between calls (recommend/service.py).

Each paper is a bag of terms (search/terms.py, stored beside the index when the paper is
indexed): its content words (stemmed) and the pairs of adjacent content words (bigrams:
"neural network", "dark matter"), each counted with a sublinear weight 1 + ln(count). A
term's idf is taken over the papers being ranked (the candidates: `log((1 + n) / (1 + df)) +
1`), so a term counts by how well it tells the candidates apart. A paper's vector is its
weights times idf, of length 1; the reader's profile is the sum of their liked papers'
vectors, each term's sum saturated (to the power PROFILE_POWER: a term in all of twenty liked
papers weighs ~9.5 times one in a single paper, not 20), and a candidate scores the dot
product of its vector times idf once more (rare shared terms count most) with the profile.
Chosen on the dev set of `python -m bench recsys`
(bench/README.md): unigrams and bigrams scored so beat the 64-term BM25 profile of words it
replaces, and the tf-idf SVM of arxiv-sanity-lite, alone.

Kept per process:

- `TermCache`: each paper's terms (their stored 64-bit numbers and weights), up to
  `PAPERS_KEPT` papers (least recently used out), read from the index's term store; a paper
  without stored terms (an index written before the store, not filled in yet) is read from
  the catalog and analysed. A paper changed in the catalog since it was read
  (`papers.modified_at`, an indexed query at most every REFRESH_EVERY seconds) is read again:
  from the store once the index has taken the change in, from the catalog until then.
- `WordPool`: for one list of candidates, their terms as one sparse matrix (CSR arrays) with
  the idf over them, its columns the candidates' distinct terms (`Columns`, a hash table from
  term number to column); `ForYouService` passes the same candidates (the page's, read once
  a minute) for every reader, so it is made once, and the next minute's list is made from it
  (`WordPool.moved`: the papers both hold keep their entries). A reader's profile against it
  is the sum of their liked papers' vectors over its columns (terms no candidate holds fall
  away), made for many papers in a few array operations and kept per pool."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from paperfeed.db.schema import papers
from paperfeed.papers.catalog import Catalog
from paperfeed.recommend.changes import REFRESH_EVERY, ChangeMark
from paperfeed.search.terms import PaperTerms, TermStore, microseconds, paper_terms

PAPERS_KEPT = 100_000  # papers' terms kept per process (~2 KB each)
CHANGES_KEPT = 100_000  # papers seen changed, remembered until the store has their new terms
LIKED_KEPT = 20_000  # liked papers' vectors kept per pool (~1 KB each)
PROFILE_POWER = 0.75  # the profile's saturation (bench/README.md, "For you", seventh round)

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float32]
Numbers = npt.NDArray[np.uint64]
Vector = tuple[npt.NDArray[np.int32], Floats]  # a paper's columns in a pool and their values


@dataclass(frozen=True)
class Terms:
    """A paper's terms: their numbers (search/terms.py; each once) and sublinear weights
    1 + ln(count)."""

    numbers: Numbers
    weights: Floats

    @classmethod
    def of(cls, terms: PaperTerms) -> Terms:
        return cls(terms.numbers, _SUBLINEAR[terms.counts])


# 1 + ln(count) for every count a PaperTerms can hold (a lookup costs less than a logarithm).
_SUBLINEAR = np.concatenate([[0.0], 1.0 + np.log(np.arange(1, 65_536))]).astype(np.float32)


def _weighed(papers: dict[int, PaperTerms]) -> dict[int, Terms]:
    """`Terms.of` each paper, their weights looked up in one pass (views of one array: a
    lookup per paper cost ~5 us, 1.3 ms for a reader's 250 liked papers)."""
    if not papers:
        return {}
    found = list(papers.values())
    weights = _SUBLINEAR[np.concatenate([t.counts for t in found])]
    ends = np.cumsum([len(t.counts) for t in found]).tolist()
    return {
        pid: Terms(t.numbers, weights[a:b])
        for pid, t, a, b in zip(papers, found, [0, *ends], ends, strict=False)
    }


EMPTY = Terms(np.zeros(0, np.uint64), np.zeros(0, np.float32))


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
        # Papers seen changed in the catalog: their modified_at (microseconds) until the
        # store holds terms made from it.
        self._changed: OrderedDict[int, int] = OrderedDict()
        self.changes = ChangeMark(every)
        self._looking = threading.Lock()  # one look at the catalog's changes at a time
        self._lock = threading.Lock()

    def refresh(self, now: float | None = None) -> None:
        """Drop the kept papers changed in the catalog since the last look (at most one look
        every `every` seconds of `now`, time.monotonic() by default; `changes.ChangeMark`)."""
        with self._looking:
            if not self.changes.due(now):
                return
            with self.catalog.reader.connect() as conn:
                changed = self.changes.changed(conn, papers.c.id)
        with self._lock:
            dropped = False
            for pid, at in changed or ():
                dropped |= self._terms.pop(pid, None) is not None
                self._changed[pid] = microseconds(at)
                self._changed.move_to_end(pid)
            while len(self._changed) > CHANGES_KEPT:
                self._changed.popitem(last=False)
            if dropped:
                self.version += 1

    def get(self, paper_ids: Sequence[int]) -> list[Terms]:
        """The papers' terms, in order (EMPTY for a paper not in the catalog)."""
        with self._lock:
            missing = [pid for pid in dict.fromkeys(paper_ids) if pid not in self._terms]
        if missing:
            made = _weighed(self._read(missing))
            with self._lock:
                self._terms.update(made)
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


_FILL = 4  # a Columns table has at least this many slots per column held


class Columns:
    """Columns (0, 1, ...) for term numbers, given as they come: a hash table (open
    addressing, linear probing) in numpy arrays, so that the ~40,000 terms of a reader's 250
    liked papers find their columns in a few array operations. Term numbers are hashes
    already: their low bits choose the slot. At most a quarter of the slots are filled: most
    of a liked paper's terms (its word pairs) are in no candidate, and a term not held is
    looked for until a free slot; each step of the search is a pass of array operations over
    the terms still looked for, so runs of filled slots must stay short (at half full, 250
    liked papers' terms took ~5.6 ms at 1M papers, at a quarter ~1.5 ms)."""

    def __init__(self, capacity: int = 1 << 10) -> None:
        self._slots = np.full(capacity, -1, np.int32)  # the column held in each slot; -1: none
        self._keys = np.zeros(capacity // _FILL, np.uint64)  # the term number of each column
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def copy(self) -> Columns:
        made = Columns.__new__(Columns)
        made._slots, made._keys, made._size = self._slots.copy(), self._keys.copy(), self._size
        return made

    def add(self, keys: Numbers) -> Ints:
        """The columns of these term numbers (repeats allowed), new ones given the next."""
        found = self.find(keys)
        new = found < 0
        if new.any():
            fresh = np.sort(keys[new])
            fresh = fresh[np.concatenate([[True], fresh[1:] != fresh[:-1]])]
            if _FILL * (self._size + len(fresh)) > len(self._slots):
                self._grow(self._size + len(fresh))
            self._place(fresh, np.arange(self._size, self._size + len(fresh)))
            self._keys[self._size : self._size + len(fresh)] = fresh
            self._size += len(fresh)
            found[new] = self.find(keys[new])
        return found

    def find(self, keys: Numbers) -> Ints:
        """The columns of these term numbers (-1: none)."""
        mask = len(self._slots) - 1
        at = (keys & np.uint64(mask)).astype(np.int64)
        out = np.full(len(keys), -1, np.int64)
        todo = np.arange(len(keys))
        while len(todo):
            held = self._slots[at]
            filled = held >= 0
            hit = filled & (self._keys[np.maximum(held, 0)] == keys[todo])
            out[todo[hit]] = held[hit]
            going = filled & ~hit  # another term in the slot: look at the next one
            todo, at = todo[going], (at[going] + 1) & mask
        return out

    def _place(self, keys: Numbers, columns: Ints) -> None:
        """Put term numbers (not held yet, without repeats) in free slots."""
        mask = len(self._slots) - 1
        at = (keys & np.uint64(mask)).astype(np.int64)
        todo = np.arange(len(keys))
        while len(todo):
            free = self._slots[at] < 0
            self._slots[at[free]] = columns[todo[free]]  # (of several for one slot, one wins)
            placed = np.zeros(len(todo), bool)
            placed[free] = self._slots[at[free]] == columns[todo[free]]
            todo, at = todo[~placed], (at[~placed] + 1) & mask

    def _grow(self, size: int) -> None:
        capacity = len(self._slots)
        while _FILL * size > capacity:
            capacity *= 2
        keys = np.zeros(capacity // _FILL, np.uint64)
        keys[: self._size] = self._keys[: self._size]
        self._keys = keys
        self._slots = np.full(capacity, -1, np.int32)
        self._place(keys[: self._size], np.arange(self._size))


@dataclass
class WordPool:
    """One list of candidates' terms as a sparse matrix (see the module docstring)."""

    columns: Columns  # the candidates' terms (and, in a moved pool, its ancestors')
    idf: Floats  # by column (0: no candidate holds the term)
    indptr: Ints  # CSR: candidate i's entries are [indptr[i], indptr[i + 1])
    indices: Ints  # their columns
    weights: Floats  # their sublinear weights
    data: Floats  # their values: the candidate's unit tf-idf vector times idf
    matrix: Any  # the same as a scipy.sparse CSR matrix (scores: one pass in compiled code)
    liked: OrderedDict[int, Vector] = field(default_factory=OrderedDict)  # (liked_profile)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, terms: Sequence[Terms]) -> WordPool:
        columns = Columns()
        n = len(terms)
        numbers = np.concatenate([t.numbers for t in terms]) if n else np.zeros(0, np.uint64)
        weights = np.concatenate([t.weights for t in terms]) if n else np.zeros(0, np.float32)
        lengths = np.fromiter((len(t.numbers) for t in terms), np.int64, n)
        return cls._made(columns, lengths, columns.add(numbers), weights)

    def moved(self, kept: Ints, new: Sequence[Terms]) -> WordPool:
        """The pool of another list: row i is this pool's row `kept[i]`, or where that is -1
        the next of the `new` papers' terms. The papers both lists hold keep their entries
        (copied a run of rows at a time: a list that moved holds long runs of the last one);
        the new ones' terms are added to a copy of the columns (those of papers gone stay,
        held by no candidate: idf 0)."""
        columns = self.columns.copy()
        numbers = np.concatenate([t.numbers for t in new]) if new else np.zeros(0, np.uint64)
        new_indices = columns.add(numbers)
        new_weights = np.concatenate([t.weights for t in new]) if new else np.zeros(0, np.float32)
        new_ptr = np.zeros(len(new) + 1, np.int64)
        np.cumsum([len(t.numbers) for t in new], out=new_ptr[1:])
        old = kept >= 0
        which = np.cumsum(~old) - 1  # of the new papers, for the rows that are new
        going_on = np.zeros(len(kept), bool)  # the row continues the run before it
        going_on[1:] = (old[1:] & old[:-1] & (kept[1:] == kept[:-1] + 1)) | (~old[1:] & ~old[:-1])
        indices: list[Ints] = []
        weights: list[Floats] = []
        firsts = np.flatnonzero(~going_on).tolist()
        for first, end in zip(firsts, [*firsts[1:], len(kept)], strict=True):
            if old[first]:
                a, b = self.indptr[kept[first]], self.indptr[kept[end - 1] + 1]
                indices.append(self.indices[a:b])
                weights.append(self.weights[a:b])
            else:
                a, b = new_ptr[which[first]], new_ptr[which[end - 1] + 1]
                indices.append(new_indices[a:b])
                weights.append(new_weights[a:b])
        lengths = np.zeros(len(kept), np.int64)
        lengths[old] = np.diff(self.indptr)[kept[old]]
        lengths[~old] = np.diff(new_ptr)
        return WordPool._made(
            columns,
            lengths,
            np.concatenate(indices) if indices else np.zeros(0, np.int64),
            np.concatenate(weights) if weights else np.zeros(0, np.float32),
        )

    @property
    def held(self) -> int:
        """How many columns some candidate holds."""
        return int(np.count_nonzero(self.idf))

    @classmethod
    def _made(cls, columns: Columns, lengths: Ints, indices: Ints, weights: Floats) -> WordPool:
        n = len(lengths)
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(lengths, out=indptr[1:])
        df = np.bincount(indices, minlength=len(columns))
        idf = np.where(df > 0, np.log((1.0 + n) / (1.0 + df)) + 1.0, 0.0).astype(np.float32)
        weighted = np.take(idf, indices)
        values = weights * weighted
        norms = np.sqrt(_row_sums(values * values, indptr)).astype(np.float32)
        norms[norms == 0] = 1.0
        data = (values / np.repeat(norms, lengths)).astype(np.float32, copy=False)
        data *= weighted
        return cls(
            columns, idf, indptr, indices, weights, data, _csr(data, indices, indptr, len(idf))
        )

    def vectors(self, liked: Sequence[Terms]) -> list[Vector]:
        """Liked papers' unit tf-idf vectors over the candidates' terms (columns, values; the
        terms no candidate holds are left out), made in one pass over all of them."""
        n = len(liked)
        if not n:
            return []
        found = self.columns.find(np.concatenate([t.numbers for t in liked]))
        weights = np.concatenate([t.weights for t in liked])
        lengths = np.fromiter((len(t.numbers) for t in liked), np.int64, n)
        paper = np.repeat(np.arange(n), lengths)
        inside = found >= 0
        inside[inside] = self.idf[found[inside]] > 0
        cols, paper = found[inside].astype(np.int32), paper[inside]
        values = weights[inside] * self.idf[cols]
        norms = np.sqrt(np.bincount(paper, values * values, minlength=n))
        norms[norms == 0] = 1.0
        units = (values / norms[paper]).astype(np.float32)
        ends = np.cumsum(np.bincount(paper, minlength=n)).tolist()
        return [(cols[a:b], units[a:b]) for a, b in zip([0, *ends], ends, strict=False)]

    def profile(self, vectors: Sequence[Vector]) -> Floats:
        """The sum of (liked papers') vectors, by column, saturated: each sum to the power
        PROFILE_POWER (a term in every liked paper counts less than that many times one)."""
        if not vectors:
            return np.zeros(len(self.idf), np.float32)
        cols = np.concatenate([c for c, _ in vectors])
        values = np.concatenate([v for _, v in vectors])
        out: Floats = np.bincount(cols, values, minlength=len(self.idf)).astype(np.float32)
        out[cols] = out[cols] ** np.float32(PROFILE_POWER)  # (the columns held, not them all)
        return out

    def liked_profile(self, liked: Sequence[int], terms: TermCache) -> Floats:
        """The profile of these liked papers, their vectors kept for the next call (the same
        reader after an action, or another reader who liked the same papers)."""
        with self.lock:
            missing = [pid for pid in dict.fromkeys(liked) if pid not in self.liked]
        made = dict(zip(missing, self.vectors(terms.get(missing)), strict=True))
        with self.lock:
            for pid in liked:
                if pid in self.liked:
                    made.setdefault(pid, self.liked[pid])
                    self.liked.move_to_end(pid)
            self.liked.update(made)
            while len(self.liked) > LIKED_KEPT:
                self.liked.popitem(last=False)
        return self.profile([made[pid] for pid in liked])

    def scores(self, profile: Floats, rows: Ints) -> Floats:
        """The words score of the candidates at `rows` (positions in the pool) for a reader
        whose liked papers' `profile` it is."""
        out: Floats = np.asarray(self.matrix @ profile, np.float32)[rows]
        return out


def _csr(data: Floats, indices: Ints, indptr: Ints, width: int) -> Any:
    """The rows as a scipy.sparse CSR matrix (32-bit positions where they fit). Its product
    with a vector is one pass over the entries; the same in numpy (gather the profile at
    every entry, multiply, sum each row) took three, ~12 against ~4.6 ms for 15,000
    candidates' 2.5M entries. (Imported here: scipy costs every process's start otherwise.)"""
    from scipy.sparse import csr_matrix

    small = len(data) < 2**31 and width < 2**31
    kind = np.int32 if small else np.int64
    return csr_matrix(
        (data, indices.astype(kind), indptr.astype(kind)), shape=(len(indptr) - 1, width)
    )


def _row_sums(values: Floats, indptr: Ints) -> Floats:
    """The sum of each CSR row's values."""
    starts = indptr[:-1]
    if not len(values):
        return np.zeros(len(starts), np.float32)
    totals: Floats = np.add.reduceat(values, np.minimum(starts, len(values) - 1))
    totals[starts == indptr[1:]] = 0.0  # reduceat gives an empty row a value
    return totals
