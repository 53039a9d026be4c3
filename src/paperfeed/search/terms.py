"""Each paper's terms for the words signal of "For you" (recommend/words.py), made once when
the index takes the paper in and kept beside the index (`terms.sqlite3` in the generation's
directory), so that no ranking analyses text.

A paper's terms: the index terms of its title and abstract (analysed as the word index
analyses them: lower case, English stems) without stopwords, one-letter terms and numbers
(its content words), and each pair of adjacent content words ("dark matter"), with how often
each occurs. A term is kept as a stable 64-bit number: a word's is the first 8 bytes
(little-endian) of the BLAKE2b hash of its UTF-8 text, a pair's the splitmix64 finaliser of
(the first word's number x 0x9E3779B97F4A7C15) xor the second's. Two distinct terms get one
number with a chance of about n² / 2⁶⁵ among n terms (10⁻⁷ for two million).

The store is derived data, like the word and vector indexes: written only by the process that
holds the index's writer lock (`search/follow.py`: the indexer stores a paper's terms when it
indexes the paper), read by any process on the data directory. The indexer commits a paper's
terms only after the word index has committed the paper (`put(..., pending=True)`, then
`commit`), so a paper held here at a catalog time is in the word index at that time: a
process that starts again skips those papers (`Indexer.update_lexical`). SQLite in WAL mode:

- table `terms`: `paper_id`; `modified_us`, the catalog row's `modified_at` the terms were
  made from (microseconds since 1970, UTC); `numbers`, the terms' numbers ascending (uint64,
  little-endian); `counts`, how often each occurs (uint16, in the same order).
- table `meta`: `format` (FORMAT: a store of another format is emptied and filled again) and
  `filled_through`: a directory indexed before the store existed holds papers without
  terms; `Indexer.update_terms` stores theirs in order of id and records here the last id
  done, or `complete`."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from paperfeed.search.lexical import STOP_TERMS, analyze_text

FORMAT = "1"  # what the numbers and counts mean; another value empties a store
FILE = "terms.sqlite3"
_COMPLETE = "complete"
_CHUNK = 500  # ids per query
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)
_NUMBERS, _COUNTS = np.dtype("<u8"), np.dtype("<u2")  # as stored (numpy's own on x86 and ARM)

Numbers = npt.NDArray[np.uint64]
Counts = npt.NDArray[np.uint16]


@dataclass(frozen=True)
class PaperTerms:
    """A paper's terms: their numbers (ascending) and how often each occurs."""

    numbers: Numbers
    counts: Counts


@functools.lru_cache(maxsize=200_000)
def word_number(word: str) -> int:
    """A word's stable 64-bit number."""
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


def pair_numbers(first: Numbers, second: Numbers) -> Numbers:
    """The numbers of the pairs of words (first[i], second[i]) (splitmix64's finaliser)."""
    with np.errstate(over="ignore"):
        z = (first * _GOLDEN) ^ second
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
    out: Numbers = z ^ (z >> np.uint64(31))
    return out


def content_words(tokens: Sequence[str]) -> list[str]:
    """The index terms that count: no stopword, one-letter term or number."""
    return [t for t in tokens if t not in STOP_TERMS and len(t) > 1 and not t.isdigit()]


def paper_terms(title: str, abstract: str) -> PaperTerms:
    """A paper's terms (see the module docstring)."""
    words = content_words(analyze_text(f"{title}\n{abstract}"))
    singles = np.fromiter((word_number(w) for w in words), np.uint64, len(words))
    every = np.concatenate([singles, pair_numbers(singles[:-1], singles[1:])])
    numbers, counts = np.unique(every, return_counts=True)
    return PaperTerms(numbers, np.minimum(counts, 65_535).astype(np.uint16))


def microseconds(at: dt.datetime) -> int:
    """A catalog time (naive UTC, or aware) in microseconds since 1970."""
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return (at - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class StoredTerms:
    terms: PaperTerms
    modified_us: int  # the catalog row's modified_at they were made from


class TermStore:
    """The papers' terms of one index generation (see the module docstring). Reading never
    creates the file; the first write does. Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._complete = False  # known complete (it never goes back but by a new format)

    # -- reading -----------------------------------------------------------------------------

    def _read(self) -> sqlite3.Connection | None:
        if self._reader is None:
            if not self.path.exists():
                return None
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            if _meta(conn, "format") != FORMAT:  # not filled yet, or of another format
                conn.close()
                return None
            self._reader = conn
        return self._reader

    def get(self, paper_ids: Sequence[int]) -> dict[int, StoredTerms]:
        """The stored terms of those papers that have them."""
        out: dict[int, StoredTerms] = {}
        with self._lock:
            conn = self._read()
            if conn is None:
                return out
            for start in range(0, len(paper_ids), _CHUNK):
                chunk = paper_ids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for pid, modified, numbers, counts in conn.execute(
                    "SELECT paper_id, modified_us, numbers, counts FROM terms"
                    f" WHERE paper_id IN ({marks})",
                    list(chunk),
                ):
                    out[pid] = StoredTerms(
                        PaperTerms(
                            np.frombuffer(numbers, _NUMBERS), np.frombuffer(counts, _COUNTS)
                        ),
                        modified,
                    )
        return out

    def count(self) -> int:
        with self._lock:
            conn = self._read()
            if conn is None:
                return 0
            return int(conn.execute("SELECT count(*) FROM terms").fetchone()[0])

    def filled_through(self) -> int | None:
        """The backfill's progress: papers with ids up to this one are stored (None: all)."""
        if self._complete:
            return None
        with self._lock:
            conn = self._read()
            value = _meta(conn, "filled_through") if conn is not None else "0"
        if value == _COMPLETE:
            self._complete = True
            return None
        return int(value or 0)

    # -- writing (the index's writer only) -------------------------------------------------------

    def _write(self) -> sqlite3.Connection:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS terms (paper_id INTEGER PRIMARY KEY,"
                " modified_us INTEGER NOT NULL, numbers BLOB NOT NULL, counts BLOB NOT NULL)"
            )
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            if _meta(conn, "format") != FORMAT:  # new, or another format: filled again
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM terms")
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('format', ?), ('filled_through', '0')",
                    (FORMAT,),
                )
                conn.execute("COMMIT")
                self._complete = False
            self._writer = conn
        return self._writer

    def put(
        self,
        rows: Iterable[tuple[int, dt.datetime, PaperTerms]],
        *,
        filled_through: int | None = None,
        complete: bool = False,
        pending: bool = False,
    ) -> int:
        """Store (or replace) papers' terms, made from catalog rows modified at the given
        times, in one transaction; with it, the backfill's progress. The number stored.
        `pending`: the transaction stays open, to be ended by `commit` (or `rollback`) once
        the word index has committed the same papers."""
        values = [
            (
                pid,
                microseconds(at),
                t.numbers.astype(_NUMBERS).tobytes(),
                t.counts.astype(_COUNTS).tobytes(),
            )
            for pid, at, t in rows
        ]
        with self._lock:
            conn = self._write()
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR REPLACE INTO terms VALUES (?, ?, ?, ?)", values)
                if complete or filled_through is not None:
                    mark = _COMPLETE if complete else str(filled_through)
                    conn.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('filled_through', ?)", (mark,)
                    )
                if not pending:
                    conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return len(values)

    def commit(self) -> None:
        """End the transaction that `put(..., pending=True)` left open, keeping its terms."""
        self._end("COMMIT")

    def rollback(self) -> None:
        """End the transaction that `put(..., pending=True)` left open, dropping its terms."""
        self._end("ROLLBACK")

    def _end(self, statement: str) -> None:
        with self._lock:
            if self._writer is not None and self._writer.in_transaction:
                self._writer.execute(statement)

    def versions(self, paper_ids: Sequence[int]) -> dict[int, int]:
        """For those of the papers that have terms here, the catalog time (microseconds since
        1970) of the text they were made from."""
        out: dict[int, int] = {}
        if not paper_ids or not self.path.exists():
            return out
        with self._lock:
            conn = self._write()
            for start in range(0, len(paper_ids), _CHUNK):
                chunk = list(paper_ids[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                out.update(
                    conn.execute(
                        f"SELECT paper_id, modified_us FROM terms WHERE paper_id IN ({marks})",
                        chunk,
                    ).fetchall()
                )
        return out

    def delete(self, paper_ids: Iterable[int]) -> None:
        ids = list(paper_ids)
        if not ids or not self.path.exists():
            return
        with self._lock:
            conn = self._write()
            conn.execute("BEGIN IMMEDIATE")
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                conn.execute(
                    f"DELETE FROM terms WHERE paper_id IN ({','.join('?' * len(chunk))})", chunk
                )
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connections (the next call opens the file afresh)."""
        with self._lock:
            self._complete = False
            for conn in (self._reader, self._writer):
                if conn is not None:
                    conn.close()
            self._reader = self._writer = None


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:  # no such table (yet)
        return None
    return None if row is None else str(row[0])
