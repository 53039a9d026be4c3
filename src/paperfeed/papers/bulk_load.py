"""The catalog's bulk load: records made into rows away from the writer (in parse worker
processes), and the insert of those that match nothing in the catalog, without SQLAlchemy's
per-row work. What does match goes through `CatalogWriter.upsert` as usual."""

from __future__ import annotations

import datetime as dt
import marshal
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from paperfeed.db.bulk import insert_tuples, new_ids, row_converter, sqlite_datetime
from paperfeed.db.schema import paper_categories, papers
from paperfeed.papers.merge import CONTENT_FIELDS, new_row
from paperfeed.papers.record import PaperRecord
from paperfeed.papers.sql import existing_values, has_papers_without_arxiv_id, serialise_writers
from paperfeed.papers.text import title_key

# Columns of a prepared row (`PreparedRows.values`); the insert adds the bookkeeping ones.
PREPARED_COLUMNS = (*CONTENT_FIELDS, "content_hash")
_INSERT_COLUMNS = (*PREPARED_COLUMNS, "first_seen_at", "modified_at", "id")
_ARXIV_ID = PREPARED_COLUMNS.index("arxiv_id")
_DOI = PREPARED_COLUMNS.index("doi")
_TITLE_KEY = PREPARED_COLUMNS.index("title_key")
_to_sqlite = row_converter(papers, PREPARED_COLUMNS)


@dataclass(slots=True)
class PreparedRows:
    """Records made ready for insertion as new papers, away from the writer (in a parse worker
    process): the `papers` values in SQLite's storage form (which PostgreSQL's COPY reads as
    text in each column's input format), the categories, and
    where each record came from (the importer's position in its chunk of lines), by which the
    writer finds a record again when it turns out to match a paper already in the catalog (it
    is then parsed again and merged as usual). Columnar, so that a chunk crosses the process
    boundary as a few lists of plain tuples rather than one object per row."""

    values: list[tuple[Any, ...]] = field(default_factory=list)
    categories: list[list[str]] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)

    def add(self, record: PaperRecord, origin: int) -> None:
        """`record`'s text must be normalised, as importers leave it."""
        row = new_row(record, title_key(record.title, normalized=True))
        self.values.append(_to_sqlite(row))
        self.categories.append(row["categories"])
        self.origins.append(origin)

    def __len__(self) -> int:
        return len(self.values)

    def dumps(self) -> bytes:
        """The rows as marshal data (plain str/int/None tuples): a third of pickle's cost to
        write and a little less to read (~2.7 us a row on a snapshot import)."""
        return marshal.dumps((self.values, self.categories, self.origins))

    @classmethod
    def loads(cls, data: bytes | memoryview) -> PreparedRows:
        values, categories, origins = marshal.loads(data)
        return cls(values, categories, origins)

    def __reduce__(self) -> tuple[Any, ...]:
        # Through a pipe, too, as marshal data.
        return PreparedRows.loads, (self.dumps(),)


def insert_prepared(conn: sa.Connection, rows: PreparedRows, *, now: dt.datetime) -> list[int]:
    """Insert, as new papers first seen `now`, the prepared rows that match nothing (no paper
    with their arXiv id, no paper without an arXiv id with their DOI or title, no earlier row
    of `rows` with their arXiv id). Returns the positions of the other rows, in order: the
    caller merges those with `CatalogWriter.upsert` in the same transaction, which sees the
    rows inserted here, so the outcome is that of `upsert` on all rows."""
    serialise_writers(conn)
    # (These cannot collide: arXiv ids have a dot or slash, DOIs a slash, keys neither.)
    known = existing_values(conn, "arxiv_id", (values[_ARXIV_ID] for values in rows.values))
    if has_papers_without_arxiv_id(conn):
        # A title or DOI match with a paper without an arXiv id is a merge (see upsert).
        for column, index in (("doi", _DOI), ("title_key", _TITLE_KEY)):
            wanted = (values[index] for values in rows.values)
            known |= existing_values(conn, column, wanted, "arxiv_id IS NULL")
    fresh: list[int] = []
    rest: list[int] = []
    for position, values in enumerate(rows.values):
        keys = (values[_ARXIV_ID], values[_DOI], values[_TITLE_KEY])
        if not keys[0] or any(k in known for k in keys if k):
            rest.append(position)
        else:
            fresh.append(position)
        known.add(keys[0])  # a later row with this arXiv id merges into this one
    if not fresh:
        return rest
    stamp = sqlite_datetime(now)
    ids = new_ids(conn, papers, len(fresh))
    insert_tuples(
        conn,
        papers,
        _INSERT_COLUMNS,
        [(*rows.values[p], stamp, stamp, i) for p, i in zip(fresh, ids, strict=True)],
    )
    insert_tuples(
        conn,
        paper_categories,
        ("paper_id", "category"),
        [(i, c) for p, i in zip(fresh, ids, strict=True) for c in rows.categories[p]],
    )
    return rest
