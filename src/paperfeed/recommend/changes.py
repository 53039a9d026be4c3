"""Following the catalog's changed papers cheaply, for what the recommender keeps per process
(`words.TermCache`, `categories.CategoryTable`): at most one look every `every` seconds, each
reading only the papers whose `modified_at` is past the newest one seen (an indexed query).
A change committed late with an older stamp, as concurrent writers on PostgreSQL may, is not
seen."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import sqlalchemy as sa

from paperfeed.db.schema import papers
from paperfeed.search.indexer import newest_change

REFRESH_EVERY = 10.0  # seconds between two looks at the catalog's changes


class ChangeMark:
    """The newest change seen and when the catalog was last looked at. Not locked: its owner
    looks from one thread at a time."""

    def __init__(self, every: float = REFRESH_EVERY) -> None:
        self.every = every
        self.mark: dt.datetime | None = None  # the newest change seen
        self._looked: float | None = None

    def due(self, now: float | None = None, *, force: bool = False) -> bool:
        """Whether to look now (`now`: time.monotonic() by default); True counts as a look."""
        now = time.monotonic() if now is None else now
        if not force and self._looked is not None and now - self._looked < self.every:
            return False
        self._looked = now
        return True

    def changed(self, conn: sa.Connection, *columns: Any) -> list[Any] | None:
        """None at the first look (the mark is set to the newest change: what the caller reads
        next in full, a change meanwhile included, is read again later); after that the
        papers changed past the mark (`columns`, then `modified_at`), the mark moved to the
        newest of them."""
        if self.mark is None:
            self.mark = newest_change(conn) or dt.datetime.min
            return None
        rows = list(
            conn.execute(
                sa.select(*columns, papers.c.modified_at).where(papers.c.modified_at > self.mark)
            ).all()
        )
        if rows:
            self.mark = max(self.mark, *(row[-1] for row in rows))
        return rows
