"""JSON shapes of the native API (they are also its OpenAPI document)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from paperfeed.community.cards import PaperCard
from paperfeed.papers.ids import ARXIV_REFERENCE_PATTERN


def _as_utc(value: dt.datetime) -> dt.datetime:
    """The catalog keeps naive UTC; the API writes the offset, as RFC 3339 date-time requires."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


UtcDatetime = Annotated[dt.datetime, AfterValidator(_as_utc)]


class Paper(BaseModel):
    id: str = Field(description="arXiv id without version, or `pf-<n>` for papers without one")
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    categories_predicted: bool = Field(
        description="the categories were predicted from the nearest categorised papers "
        "(the paper came without any), not given by arXiv"
    )
    submitted: UtcDatetime | None = Field(description="first arXiv version, UTC")
    updated: UtcDatetime | None
    upvotes: int
    num_comments: int = Field(description="comments made here (listed on the paper page)")
    hf_comments: int = Field(description="comments on the paper's Hugging Face page, imported")
    daily_date: dt.date | None = Field(description="date the paper entered the daily list")
    submitted_by: str | None
    url: str
    arxiv_url: str | None
    pdf_url: str | None
    code_urls: list[str]
    project_urls: list[str]
    ai_summary: str | None
    ai_keywords: list[str]

    @classmethod
    def of(cls, card: PaperCard) -> Paper:
        return cls(**cls.fields_of(card))

    @staticmethod
    def fields_of(card: PaperCard) -> dict[str, Any]:
        """The fields of a card's Paper, for models that extend it (built once, not built,
        dumped and validated again)."""
        arxiv = card.arxiv_id
        return dict(
            id=card.public_id,
            title=card.title,
            abstract=card.abstract,
            authors=card.authors,
            categories=card.categories,
            categories_predicted=card.categories_predicted,
            submitted=card.submitted_at,
            updated=card.updated_at,
            upvotes=card.upvotes,
            num_comments=card.num_comments,
            hf_comments=card.hf_comments,
            daily_date=card.daily_on,
            submitted_by=card.submitted_by,
            url=f"/papers/{card.public_id}",
            arxiv_url=f"https://arxiv.org/abs/{arxiv}" if arxiv else None,
            pdf_url=f"https://arxiv.org/pdf/{arxiv}" if arxiv else None,
            code_urls=card.code_links(),
            project_urls=card.project_links(),
            ai_summary=card.ai_summary,
            ai_keywords=card.ai_keywords,
        )


class SearchResult(Paper):
    score: float
    matched_by: str = Field(description='"id", "words", "meaning" or "words+meaning"')
    snippet: str | None
    snippet_html: str | None = Field(description="HTML-escaped, matched words in <mark>")


class SearchResponse(BaseModel):
    query: str
    total: int = Field(
        description="papers that match (the same in both orders): those holding every "
        "word of the query, and those close enough in meaning"
    )
    listed: int = Field(
        description="how many of them this order can list through `offset` (by relevance: "
        "the best candidates; by date: all, up to offset 10,000)"
    )
    took_ms: float
    notices: list[str]
    results: list[SearchResult]


class DailyResponse(BaseModel):
    start: dt.date
    end: dt.date
    papers: list[Paper]


class AuthorPapersResponse(BaseModel):
    author: str
    total: int = Field(
        description="papers with an author of this name (case, accents and "
        "punctuation do not count)"
    )
    papers: list[Paper] = Field(description="newest first")


class TrendingPaper(Paper):
    trending_score: float


class TrendingResponse(BaseModel):
    taken_at: UtcDatetime = Field(description="the moment the time decay is computed at")
    window_days: int = Field(
        description="days ranked: 7, or wider (doubling) when fewer than 30 papers had activity"
    )
    half_life_hours: float = Field(description="a signal counts half every so many hours")
    papers: list[TrendingPaper]


_ARXIV_REFERENCE = re.compile(ARXIV_REFERENCE_PATTERN)


def _arxiv_reference(value: str) -> str:
    # The documented pattern is what the API accepts, no more and no less (with a message a
    # person can read: pydantic's would be the regular expression).
    if not _ARXIV_REFERENCE.fullmatch(value):
        raise ValueError(
            "not an arXiv id or arxiv.org URL (e.g. 2606.13392, arXiv:hep-th/9901001v2, "
            "https://arxiv.org/abs/2606.13392)"
        )
    return value


class SubmitRequest(BaseModel):
    paper: Annotated[str, AfterValidator(_arxiv_reference)] = Field(
        min_length=1,
        max_length=300,
        description="arXiv id (a month that exists, the number length of its month; any "
        "version), `arXiv:` reference or arxiv.org abs/pdf URL",
        json_schema_extra={"pattern": ARXIV_REFERENCE_PATTERN},
    )


class VoteResponse(BaseModel):
    id: str
    upvotes: int
    voted: bool


class ErrorResponse(BaseModel):
    error: str
