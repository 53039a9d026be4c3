"""PaperRecord: what an importer produces, and what the catalog merges into a paper."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from paperfeed.papers.authors import Author


@dataclass(slots=True)
class DailyEntry:
    """A paper's place on a community daily list (Hugging Face daily papers)."""

    submitted_at: dt.datetime  # paper.submittedOnDailyAt, UTC
    upvotes: int = 0
    submitted_by: str | None = None
    num_comments: int = 0
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    source: str = "hf"


@dataclass(slots=True)
class PaperRecord:
    """One paper as one source describes it. Text fields are already normalised; `*_raw`
    keep the source's original text. `freshness` is when the source's data was last changed
    (newer data wins a merge, older data only fills gaps)."""

    source: str
    arxiv_id: str | None = None
    doi: str | None = None
    title: str = ""
    title_raw: str | None = None
    abstract: str = ""
    abstract_raw: str | None = None
    authors: list[Author] = field(default_factory=list)
    authors_raw: str | None = None
    primary_category: str | None = None
    categories: list[str] = field(default_factory=list)
    versions: list[dict[str, str]] = field(default_factory=list)
    submitted_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    announced_on: dt.date | None = None
    comments: str | None = None
    journal_ref: str | None = None
    report_no: str | None = None
    license: str | None = None
    submitter: str | None = None
    links: list[dict[str, str]] = field(default_factory=list)
    freshness: dt.datetime | None = None
    daily: DailyEntry | None = None

    def key(self) -> str:
        return self.arxiv_id or (f"doi:{self.doi}" if self.doi else f"title:{self.title}")


# Columns of `papers` that a merge carries from a record (in this order).
SCALAR_FIELDS = (
    "doi",
    "title",
    "title_raw",
    "abstract",
    "abstract_raw",
    "authors",
    "authors_raw",
    "primary_category",
    "categories",
    "updated_at",
    "comments",
    "journal_ref",
    "report_no",
    "license",
    "submitter",
)


def record_values(record: PaperRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in SCALAR_FIELDS}
