"""PaperRecord: what an importer produces, and what the catalog merges into a paper."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from paperfeed.papers.authors import Author

# Caps on what one record may carry, in characters (lists: in entries), whatever its format;
# README "Imports" lists them. They are far above what arXiv itself allows (abstracts of at
# most 1,920 characters; the largest collaborations list about 5,000 authors), and keep one
# hostile record from making every page and API answer that shows it huge. A record over a
# cap is rejected with its file and line (the importers turn the ValueError into a Rejection).
MAX_TITLE_CHARS = 2_000
MAX_ABSTRACT_CHARS = 20_000
MAX_AUTHORS = 20_000
MAX_AUTHORS_CHARS = 1_000_000  # the raw author list, and all parsed names together
MAX_COMMENTS_CHARS = 10_000
MAX_FIELD_CHARS = 1_000  # doi, journal_ref, report_no, license, submitter, each category...
MAX_CATEGORIES = 100
MAX_VERSIONS = 1_000
MAX_LINKS = 100
MAX_LINK_CHARS = 2_000  # each link's URL, and a daily entry's repository and project page
MAX_AI_SUMMARY_CHARS = 10_000
MAX_KEYWORDS = 100

_TEXT_CAPS = (
    ("title", MAX_TITLE_CHARS),
    ("title_raw", MAX_TITLE_CHARS),
    ("abstract", MAX_ABSTRACT_CHARS),
    ("abstract_raw", MAX_ABSTRACT_CHARS),
    ("authors_raw", MAX_AUTHORS_CHARS),
    ("comments", MAX_COMMENTS_CHARS),
    ("doi", MAX_FIELD_CHARS),
    ("journal_ref", MAX_FIELD_CHARS),
    ("report_no", MAX_FIELD_CHARS),
    ("license", MAX_FIELD_CHARS),
    ("submitter", MAX_FIELD_CHARS),
    ("primary_category", MAX_FIELD_CHARS),
)


def _over(what: str, size: int, cap: int, unit: str = "characters") -> str:
    return f"{what} has {size:,} {unit}, over the cap of {cap:,}"


def _within_text_caps(r: PaperRecord) -> bool:
    """The common case, checked fast (every imported record comes through here)."""
    return (
        len(r.title) <= MAX_TITLE_CHARS
        and len(r.title_raw or "") <= MAX_TITLE_CHARS
        and len(r.abstract) <= MAX_ABSTRACT_CHARS
        and len(r.abstract_raw or "") <= MAX_ABSTRACT_CHARS
        and len(r.authors_raw or "") <= MAX_AUTHORS_CHARS
        and len(r.comments or "") <= MAX_COMMENTS_CHARS
        and len(r.doi or "") <= MAX_FIELD_CHARS
        and len(r.journal_ref or "") <= MAX_FIELD_CHARS
        and len(r.report_no or "") <= MAX_FIELD_CHARS
        and len(r.license or "") <= MAX_FIELD_CHARS
        and len(r.submitter or "") <= MAX_FIELD_CHARS
        and len(r.primary_category or "") <= MAX_FIELD_CHARS
    )


def over_caps(record: PaperRecord) -> str | None:
    """Why `record` exceeds a cap (the first one found), or None."""
    for name, cap in () if _within_text_caps(record) else _TEXT_CAPS:
        value = getattr(record, name)
        if value is not None and len(value) > cap:
            return _over(f"'{name}'", len(value), cap)
    if len(record.authors) > MAX_AUTHORS:
        return _over("the author list", len(record.authors), MAX_AUTHORS, "authors")
    names = sum([len(author["name"]) for author in record.authors])
    if names > MAX_AUTHORS_CHARS:
        return _over("the author list (its names)", names, MAX_AUTHORS_CHARS)
    if len(record.categories) > MAX_CATEGORIES:
        return _over("'categories'", len(record.categories), MAX_CATEGORIES, "entries")
    if record.categories and max(map(len, record.categories)) > MAX_FIELD_CHARS:
        return f"a category is over the cap of {MAX_FIELD_CHARS:,} characters"
    if len(record.versions) > MAX_VERSIONS:
        return _over("'versions'", len(record.versions), MAX_VERSIONS, "entries")
    if len(record.links) > MAX_LINKS:
        return _over("'links'", len(record.links), MAX_LINKS, "entries")
    if record.links and max(len(link.get("url", "")) for link in record.links) > MAX_LINK_CHARS:
        return f"a link is over the cap of {MAX_LINK_CHARS:,} characters"
    return _daily_over_caps(record.daily) if record.daily is not None else None


def _daily_over_caps(daily: DailyEntry) -> str | None:
    for name, value, cap in (
        ("ai_summary", daily.ai_summary, MAX_AI_SUMMARY_CHARS),
        ("github_repo", daily.github_repo, MAX_LINK_CHARS),
        ("project_page", daily.project_page, MAX_LINK_CHARS),
        ("thumbnail", daily.thumbnail, MAX_LINK_CHARS),
        ("organization", daily.organization, MAX_FIELD_CHARS),
        ("submitted_by", daily.submitted_by, MAX_FIELD_CHARS),
    ):
        if value is not None and len(value) > cap:
            return _over(f"'{name}'", len(value), cap)
    if len(daily.ai_keywords) > MAX_KEYWORDS:
        return _over("'ai_keywords'", len(daily.ai_keywords), MAX_KEYWORDS, "entries")
    if any(len(k) > MAX_FIELD_CHARS for k in daily.ai_keywords):
        return f"an AI keyword is over the cap of {MAX_FIELD_CHARS:,} characters"
    return None


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
    organization: str | None = None
    thumbnail: str | None = None
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

    def __post_init__(self) -> None:
        """Every importer makes its records here, so the caps hold for every format."""
        self.check_caps()

    def check_caps(self) -> None:
        """ValueError when a field is over its cap (again after changing the record)."""
        reason = over_caps(self)
        if reason is not None:
            raise ValueError(reason)

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
