"""Every paper's primary arXiv category as a small integer, by paper id, kept per process for
the recommender's categories signal (recommend/service.py).

Why a table of the whole catalog rather than a query per ranking: a reader's liked papers lie
anywhere in the catalog, and reading 250 of them (their primary category, or their rows of
`paper_categories`) from a million-paper SQLite catalog took 5-40 ms at load 7
(bench/README.md, "For you, sixth round"), against a budget of ~2 ms; a lookup in this table
takes microseconds. It is read once (a scan of the primary category's index: 4-7 s at a
million papers at load 8-9, in the thread that makes the candidates' pool,
`Recommender.prepare`) and then follows the catalog's changes: at most every `every` seconds,
the papers whose `modified_at` is past the newest one seen (`changes.ChangeMark`, as
`words.TermCache` does), new papers among them. 4 bytes a paper (4 MB at a million). A paper
without categories, or not in the catalog, has the code -1."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from paperfeed.db.schema import papers
from paperfeed.papers.catalog import Catalog
from paperfeed.recommend.changes import REFRESH_EVERY, ChangeMark

Codes = npt.NDArray[np.int32]


class CategoryTable:
    def __init__(self, catalog: Catalog, *, every: float = REFRESH_EVERY) -> None:
        self.catalog = catalog
        self.codes: dict[str, int] = {}  # category -> code
        self._table: Codes = np.full(0, -1, np.int32)  # paper id -> code
        self.changes = ChangeMark(every)
        self._lock = threading.Lock()

    def refresh(self, now: float | None = None, *, force: bool = False) -> None:
        """Read the table (the first time) or the papers changed since the last look (at most
        one look every `every` seconds of `now`, time.monotonic() by default, unless
        `force`d)."""
        with self._lock:
            if not self.changes.due(now, force=force):
                return
            with self.catalog.reader.connect() as conn:
                changed = self.changes.changed(conn, papers.c.id, papers.c.primary_category)
                if changed is None:  # the first look: the whole table
                    # Through the driver's cursor: a million rows in half the time.
                    query = sa.select(papers.c.id, papers.c.primary_category)
                    cursor = conn.connection.cursor()
                    try:
                        cursor.execute(str(query.compile(conn)))
                        self._set(cursor.fetchall())
                    finally:
                        cursor.close()
                    return
            self._set(changed)

    def _set(self, rows: Iterable[Any]) -> None:
        """Each (paper id, primary category or None) into the table."""
        codes = self.codes
        pairs = [(row[0], codes.setdefault(row[1], len(codes)) if row[1] else -1) for row in rows]
        if not pairs:
            return
        ids = np.fromiter((p for p, _ in pairs), np.int64, len(pairs))
        values = np.fromiter((c for _, c in pairs), np.int32, len(pairs))
        top = int(ids.max()) + 1
        if top > len(self._table):  # grown with room for the next papers
            grown = np.full(max(top, len(self._table) + len(self._table) // 8), -1, np.int32)
            grown[: len(self._table)] = self._table
            self._table = grown
        self._table[ids] = values

    def primary(self, paper_ids: npt.NDArray[np.int64]) -> Codes:
        """The papers' primary category codes (-1: none, or not in the table)."""
        table = self._table
        inside = (paper_ids >= 0) & (paper_ids < len(table))
        out: Codes = np.full(len(paper_ids), -1, np.int32)
        out[inside] = table[paper_ids[inside]]
        return out
