"""A search index as an older version of paperfeed left it (before the term store)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from paperfeed.db.schema import papers
from paperfeed.runtime import Runtime
from paperfeed.search.terms import TermStore


def forget_terms(terms: TermStore) -> None:
    """No term store beside the index (the last connection's close may remove -wal/-shm)."""
    terms.close()
    for suffix in ("", "-wal", "-shm"):
        terms.path.with_name(terms.path.name + suffix).unlink(missing_ok=True)


def as_an_older_version_left_it(runtime: Runtime, *, age: dt.timedelta) -> list[int]:
    """The runtime's index as an older version wrote it: no term store, its papers changed
    `age` ago (papers within the overlap before the watermark are left to the word index's
    re-read, older ones to the terms' fill-in), no count within the overlap recorded, and a
    new process: nothing applied in memory. The papers' ids."""
    store = runtime.search_store
    ids = sorted(store.lexical.all_ids())
    forget_terms(store.terms)
    with runtime.engine.begin() as conn:
        rows = conn.execute(sa.select(papers.c.id, papers.c.modified_at)).all()
        for row in rows:
            update = papers.update().where(papers.c.id == row.id)
            conn.execute(update.values(modified_at=row.modified_at - age))
    store.meta.lexical_recent = None  # (older versions did not record it)
    store.save_meta()
    runtime.index.use(store)
    return ids
