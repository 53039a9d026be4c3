"""The one resolver of paper ids (`papers.ids.parse_paper_id`: arXiv ids and URLs, `pf-N`)
to catalog rows, for pages, both APIs and the CLI."""

from __future__ import annotations

import sqlalchemy as sa

from paperfeed.db.schema import papers
from paperfeed.papers.ids import MAX_ROW_ID, parse_paper_id


class PaperNotFound(LookupError):
    """A well-formed id of a paper that is not in the catalog."""


class PaperIds:
    def __init__(self, reader: sa.Engine) -> None:
        self.reader = reader

    def resolve(self, text: str) -> int:
        """The catalog row of the paper `text` names; InvalidPaperId when it names none,
        PaperNotFound when that paper is not in the catalog."""
        ref = parse_paper_id(text)
        query = sa.select(papers.c.id)
        if ref.arxiv_id is not None:
            query = query.where(papers.c.arxiv_id == ref.arxiv_id)
        elif ref.row_id is not None and ref.row_id <= MAX_ROW_ID:
            query = query.where(papers.c.id == ref.row_id)
        else:
            query = query.where(sa.false())
        with self.reader.connect() as conn:
            found = conn.execute(query).scalar()
        if found is None:
            raise PaperNotFound(f"{text.strip()[:80]} is not in the catalog")
        return int(found)
