"""The JSON shapes of the Hugging Face papers API, built from PaperCards.

The contract is what the unmodified `huggingface_hub` client sends and parses (see
docs/hf-papers-api.md). The client reads some fields from one place only, so the shapes here
follow it rather than HF's own nesting:

* datetimes end in `Z` (`+00:00` and bare dates make the client raise);
* list items carry `title`, the AI fields and the repo links at the top level as well as
  inside `paper`, because the client reads them from the top level only;
* `upvotes` is mirrored at the top level too: the client turns a `0` inside `paper` into None;
* a user's name is under `user` (the client's `User.username`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Literal

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from paperfeed.community.cards import PaperCard
from paperfeed.papers.ids import abs_url, pdf_url

AVATAR_URL = "/static/avatar.svg"  # relative, as HF's own default avatars are


def hf_datetime(value: dt.datetime) -> str:
    """`2026-06-12T00:00:00.000Z`: the one datetime form the client parses. Stored times are
    naive UTC; an aware one is converted."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


HfDatetime = Annotated[
    dt.datetime,
    PlainSerializer(hf_datetime, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "example": "2026-06-12T00:00:00.000Z"}
    ),
]


class HfShape(BaseModel):
    """Python names in snake_case; on the wire, camelCase as HF writes it."""

    model_config = ConfigDict(alias_generator=AliasGenerator(serialization_alias=to_camel))


class HfUser(HfShape):
    object_id: str = Field(serialization_alias="_id")
    user: str
    name: str
    fullname: str
    avatar_url: str
    is_pro: bool = False
    type: Literal["user"] = "user"


class HfAuthor(HfShape):
    object_id: str = Field(serialization_alias="_id")
    name: str
    hidden: bool = False


class HfPaper(HfShape):
    """A paper's own fields: inside `paper` in list items, at the top level in paper_info."""

    id: str
    authors: list[HfAuthor]
    published_at: HfDatetime = Field(description="arXiv v1 date (or when it was added here)")
    title: str
    summary: str = Field(description="the abstract")
    upvotes: int
    discussion_id: str
    ai_summary: str | None = Field(None, serialization_alias="ai_summary")
    ai_keywords: list[str] = Field(default_factory=list, serialization_alias="ai_keywords")
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    submitted_on_daily_at: HfDatetime | None = Field(
        None, description="when the paper entered the daily list"
    )
    submitted_on_daily_by: HfUser | None = None


class HfListItem(HfShape):
    """One element of `/api/daily_papers` and `/api/papers/search`."""

    paper: HfPaper
    published_at: HfDatetime | None = Field(
        None, description="when the paper entered the daily list (absent when it never did)"
    )
    title: str
    summary: str
    num_comments: int
    submitted_by: HfUser | None = None
    is_author_participating: bool = False
    # Mirrors of `paper` fields, for the client reads these from the top level only.
    upvotes: int
    ai_summary: str | None = Field(None, serialization_alias="ai_summary")
    ai_keywords: list[str] = Field(default_factory=list, serialization_alias="ai_keywords")
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None


class HfLinkedRepo(HfShape):
    id: str


class HfPaperDetail(HfPaper):
    """`/api/papers/{id}`: the paper's fields at the top level plus its community counts.
    paperfeed links no models, datasets or Spaces, so those lists are always empty."""

    num_comments: int
    is_author_participating: bool = False
    linked_models: list[HfLinkedRepo] = Field(default_factory=list)
    num_total_models: int = 0
    linked_datasets: list[HfLinkedRepo] = Field(default_factory=list)
    num_total_datasets: int = 0
    linked_spaces: list[HfLinkedRepo] = Field(default_factory=list)
    num_total_spaces: int = 0


class HfError(BaseModel):
    error: str


def _object_id(text: str) -> str:
    """A stable 24-hex id shaped like HF's (MongoDB ObjectIds); ours are made up."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def hf_user(username: str) -> HfUser:
    return HfUser(
        object_id=_object_id(f"user:{username}"),
        user=username,
        name=username,
        fullname=username,  # only the username of a daily-list submitter is known
        avatar_url=AVATAR_URL,
    )


def hf_paper(card: PaperCard) -> HfPaper:
    return HfPaper(
        id=card.public_id,
        authors=[
            HfAuthor(object_id=_object_id(f"author:{card.paper_id}:{position}"), name=name)
            for position, name in enumerate(card.authors)
        ],
        published_at=card.submitted_at or card.first_seen_at,
        title=card.title,
        summary=card.abstract,
        upvotes=card.upvotes,
        discussion_id=card.public_id,
        ai_summary=card.ai_summary,
        ai_keywords=card.ai_keywords,
        github_repo=card.github_repo,
        github_stars=card.github_stars,
        project_page=card.project_page,
        submitted_on_daily_at=card.daily_at,
        submitted_on_daily_by=hf_user(card.submitted_by) if card.submitted_by else None,
    )


def hf_list_item(card: PaperCard) -> HfListItem:
    paper = hf_paper(card)
    return HfListItem(
        paper=paper,
        published_at=card.daily_at,
        title=card.title,
        summary=card.abstract,
        num_comments=card.all_comments,
        submitted_by=paper.submitted_on_daily_by,
        upvotes=card.upvotes,
        ai_summary=card.ai_summary,
        ai_keywords=card.ai_keywords,
        github_repo=card.github_repo,
        github_stars=card.github_stars,
        project_page=card.project_page,
    )


def hf_paper_detail(card: PaperCard) -> HfPaperDetail:
    # dict(model) is shallow: the nested authors and user stay validated instances.
    return HfPaperDetail(**dict(hf_paper(card)), num_comments=card.all_comments)


def paper_markdown(card: PaperCard) -> str:
    """The paper page as markdown (what `HfApi.read_paper` returns)."""
    lines = [f"# {card.title}", ""]
    if card.authors:
        lines += [f"**Authors:** {', '.join(card.authors)}", ""]
    facts = []
    if card.arxiv_id:
        facts += [f"- arXiv: {abs_url(card.arxiv_id)}", f"- PDF: {pdf_url(card.arxiv_id)}"]
    if card.submitted_at:
        facts.append(f"- Published: {card.submitted_at.date().isoformat()}")
    if card.daily_on:
        by = f" by {card.submitted_by}" if card.submitted_by else ""
        facts.append(f"- On the daily list of {card.daily_on.isoformat()}{by}")
    facts += [f"- Code: {url}" for url in card.code_links()]
    facts += [f"- Project page: {url}" for url in card.project_links()]
    facts.append(f"- Upvotes: {card.upvotes}, comments: {card.all_comments}")
    lines += [*facts, "", "## Abstract", "", card.abstract or "(no abstract)", ""]
    if card.ai_summary:
        lines += ["## AI summary", "", card.ai_summary, ""]
    if card.ai_keywords:
        lines += [f"**Keywords:** {', '.join(card.ai_keywords)}", ""]
    return "\n".join(lines)
