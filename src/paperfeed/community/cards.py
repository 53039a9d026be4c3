"""PaperCard: a paper as lists and pages show it, with its community counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from paperfeed.db.schema import comments, daily_papers, paper_moderation, papers, votes

_CHUNK = 500


@dataclass
class PaperCard:
    paper_id: int
    arxiv_id: str | None
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    submitted_at: dt.datetime | None  # arXiv v1
    updated_at: dt.datetime | None
    first_seen_at: dt.datetime
    links: list[dict[str, str]]
    upvotes: int = 0  # imported (Hugging Face) + cast here
    num_comments: int = 0
    hidden: bool = False
    daily_on: dt.date | None = None
    daily_at: dt.datetime | None = None
    submitted_by: str | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    voted: bool = False  # by the user looking at it

    @property
    def public_id(self) -> str:
        """The id in URLs: the arXiv id, or `#<n>` for papers without one."""
        return self.arxiv_id or f"pf-{self.paper_id}"

    def code_links(self) -> list[str]:
        urls = [link["url"] for link in self.links if link.get("kind") in ("github", "gitlab")]
        if self.github_repo and self.github_repo not in urls:
            urls.insert(0, self.github_repo)
        return [u for u in urls if is_web_url(u)]

    def project_links(self) -> list[str]:
        urls = [link["url"] for link in self.links if link.get("kind") not in ("github", "gitlab")]
        if self.project_page and self.project_page not in urls:
            urls.insert(0, self.project_page)
        return [u for u in urls if is_web_url(u)]


def is_web_url(url: str) -> bool:
    """Only http(s) links leave the catalog: imported data may hold `javascript:` URLs."""
    return url.lower().startswith(("https://", "http://"))


_COLUMNS = (
    papers.c.id,
    papers.c.arxiv_id,
    papers.c.title,
    papers.c.abstract,
    papers.c.authors,
    papers.c.categories,
    papers.c.submitted_at,
    papers.c.updated_at,
    papers.c.first_seen_at,
    papers.c.links,
    daily_papers.c.submitted_on,
    daily_papers.c.submitted_at.label("daily_at"),
    daily_papers.c.submitted_by,
    daily_papers.c.upvotes,
    daily_papers.c.num_comments,
    daily_papers.c.github_repo,
    daily_papers.c.github_stars,
    daily_papers.c.project_page,
    daily_papers.c.ai_summary,
    daily_papers.c.ai_keywords,
    paper_moderation.c.hidden_at,
)


def _card(row: Any) -> PaperCard:
    return PaperCard(
        paper_id=row.id,
        arxiv_id=row.arxiv_id,
        title=row.title,
        abstract=row.abstract,
        authors=[a.get("name", "") for a in row.authors or []],
        categories=list(row.categories or []),
        submitted_at=row.submitted_at,
        updated_at=row.updated_at,
        first_seen_at=row.first_seen_at,
        links=list(row.links or []),
        upvotes=row.upvotes or 0,
        num_comments=row.num_comments or 0,
        hidden=row.hidden_at is not None,
        daily_on=row.submitted_on,
        daily_at=row.daily_at,
        submitted_by=row.submitted_by,
        github_repo=row.github_repo,
        github_stars=row.github_stars,
        project_page=row.project_page,
        ai_summary=row.ai_summary,
        ai_keywords=list(row.ai_keywords or []),
    )


def card_query() -> sa.Select[Any]:
    return (
        sa.select(*_COLUMNS)
        .select_from(papers)
        .outerjoin(daily_papers, daily_papers.c.paper_id == papers.c.id)
        .outerjoin(paper_moderation, paper_moderation.c.paper_id == papers.c.id)
    )


def load_cards(
    conn: sa.Connection,
    paper_ids: Sequence[int],
    *,
    viewer_id: int | None = None,
    include_hidden: bool = False,
) -> list[PaperCard]:
    """Cards for these papers in the given order (missing and hidden ones dropped)."""
    cards: dict[int, PaperCard] = {}
    ids = list(dict.fromkeys(paper_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in conn.execute(card_query().where(papers.c.id.in_(chunk))):
            cards[row.id] = _card(row)
    add_counts(conn, list(cards.values()), viewer_id=viewer_id)
    ordered = [cards[pid] for pid in ids if pid in cards]
    return [c for c in ordered if include_hidden or not c.hidden]


def add_counts(
    conn: sa.Connection, cards: Sequence[PaperCard], *, viewer_id: int | None = None
) -> None:
    """Add the upvotes and comments made here to the imported counts."""
    by_id = {c.paper_id: c for c in cards}
    ids = list(by_id)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for pid, n in conn.execute(
            sa.select(votes.c.paper_id, sa.func.count())
            .where(votes.c.paper_id.in_(chunk))
            .group_by(votes.c.paper_id)
        ):
            by_id[pid].upvotes += n
        for pid, n in conn.execute(
            sa.select(comments.c.paper_id, sa.func.count())
            .where(comments.c.paper_id.in_(chunk), comments.c.hidden.is_(False))
            .group_by(comments.c.paper_id)
        ):
            by_id[pid].num_comments += n
        if viewer_id is not None:
            for (pid,) in conn.execute(
                sa.select(votes.c.paper_id).where(
                    votes.c.paper_id.in_(chunk), votes.c.user_id == viewer_id
                )
            ):
                by_id[pid].voted = True
