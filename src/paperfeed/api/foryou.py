"""For you in the native API (`/api/v1/me/for-you`): the reader's recommended papers with
the reason for each, as the page shows them (recommend/foryou.py). Private: it takes an API
token, like the library routes; the papers it answers count as shown (as on the page)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from paperfeed.api.schemas import ErrorResponse, Paper, UtcDatetime
from paperfeed.http.deps import RuntimeDep, TokenUserDep
from paperfeed.recommend.foryou import MAX_LIMIT, PAGE_SIZE, Recommended

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    429: {"model": ErrorResponse},
}
router = APIRouter(prefix="/api/v1", tags=["for you"], responses=ERRORS)


class ReasonOut(BaseModel):
    kind: Literal["liked", "author", "category", "search", "trending"] = Field(
        description="liked: like a paper you upvoted or saved; author, category, search: "
        "something you follow; trending: a new reader's starting point"
    )
    text: str = Field(description="the reason as the page says it")
    label: str = Field(description="the liked paper's title, or what is followed")
    url: str = Field(description="the page of the liked paper, the author or the search")
    paper: str | None = Field(None, description="the liked paper's id (liked)")
    similarity: float | None = Field(None, description="cosine of the two papers (liked)")


class Recommendation(BaseModel):
    paper: Paper
    reason: ReasonOut

    @classmethod
    def of(cls, item: Recommended, base: str) -> Recommendation:
        r = item.reason
        liked = r.href.removeprefix("/papers/") if r.href.startswith("/papers/") else None
        return cls(
            paper=Paper.of(item.card),
            reason=ReasonOut(
                kind=r.kind,
                text=r.text,
                label=r.label,
                url=base + r.href,
                paper=liked,
                similarity=r.similarity,
            ),
        )


class ForYouOut(BaseModel):
    state: Literal["onboarding", "ready"] = Field(
        description="onboarding: nothing upvoted, saved or followed yet (the papers are "
        "trending ones to start from)"
    )
    since: UtcDatetime = Field(description="the first moment of the days ranked")
    papers: list[Recommendation]


@router.get("/me/for-you", response_model=ForYouOut, summary="Your recommended papers")
def for_you(
    request: Request,
    user: TokenUserDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = PAGE_SIZE,
) -> ForYouOut:
    """New papers for you, best first, each with its reason: like a paper you upvoted or
    saved, or from an author, category or search you follow. Papers you saved, read or marked
    not interested are left out, and so are those recommended on an earlier day."""
    unknown = sorted(set(request.query_params) - {"limit"})
    if unknown:
        raise HTTPException(400, f"unknown query parameter {unknown[0][:40]!r} (only limit)")
    found = runtime.for_you.recommend(user, limit=limit)
    base = runtime.settings.base_url.rstrip("/")
    return ForYouOut(
        state=found.state,
        since=found.since,
        papers=[Recommendation.of(item, base) for item in found.items],
    )
