"""PaperCard: a paper as lists and pages show it, with its community counts; CardService: the
one place where search hits and lists become cards (pages, both APIs, feeds, digests), in one
batched catalog read per list, hidden papers neither shown nor counted."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from paperfeed.community.errors import NotFound
from paperfeed.db.schema import comments, daily_papers, paper_moderation, papers, votes
from paperfeed.papers.ids import public_id
from paperfeed.search.service import SearchHit

if TYPE_CHECKING:
    from paperfeed.accounts.service import User
    from paperfeed.search.service import SearchService

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
    categories_predicted: bool = False  # voted by neighbours (papers/predicted_categories.py)

    @property
    def public_id(self) -> str:
        """The id in URLs: the arXiv id, or `pf-<n>` for papers without one."""
        return public_id(self.arxiv_id, self.paper_id)

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
    papers.c.categories_predicted,
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
        categories_predicted=bool(row.categories_predicted),
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


@functools.cache
def _counted_card_query(with_viewer: bool) -> sa.Select[Any]:
    """Cards with the votes and comments made here, for the papers in the expanding `ids`
    parameter: one statement, built once (a page of search results is one query)."""
    local_votes = (
        sa.select(sa.func.count())
        .select_from(votes)
        .where(votes.c.paper_id == papers.c.id)
        .scalar_subquery()
    )
    local_comments = (
        sa.select(sa.func.count())
        .select_from(comments)
        .where(comments.c.paper_id == papers.c.id, comments.c.hidden.is_(False))
        .scalar_subquery()
    )
    query = card_query().add_columns(
        local_votes.label("local_votes"), local_comments.label("local_comments")
    )
    if with_viewer:
        voted = sa.exists().where(
            votes.c.paper_id == papers.c.id, votes.c.user_id == sa.bindparam("viewer_id")
        )
        query = query.add_columns(voted.label("voted"))
    return query.where(papers.c.id.in_(sa.bindparam("ids", expanding=True)))


def load_cards(
    conn: sa.Connection,
    paper_ids: Sequence[int],
    *,
    viewer_id: int | None = None,
    include_hidden: bool = False,
) -> list[PaperCard]:
    """Cards for these papers in the given order (missing and hidden ones dropped), with the
    upvotes and comments made here added to the imported counts."""
    cards: dict[int, PaperCard] = {}
    ids = list(dict.fromkeys(paper_ids))
    query = _counted_card_query(viewer_id is not None)
    for start in range(0, len(ids), _CHUNK):
        params: dict[str, Any] = {"ids": ids[start : start + _CHUNK]}
        if viewer_id is not None:
            params["viewer_id"] = viewer_id
        for row in conn.execute(query, params):
            card = _card(row)
            card.upvotes += row.local_votes
            card.num_comments += row.local_comments
            card.voted = bool(viewer_id is not None and row.voted)
            cards[row.id] = card
    ordered = [cards[pid] for pid in ids if pid in cards]
    return [c for c in ordered if include_hidden or not c.hidden]


@dataclass
class CardResults:
    """A page of search results as cards, with the hit each came from (score, snippet)."""

    items: list[tuple[SearchHit, PaperCard]]
    total: int  # matches, hidden papers not counted
    took_ms: float
    notices: list[str]

    @property
    def cards(self) -> list[PaperCard]:
        return [card for _, card in self.items]


class CardService:
    """Cards for papers, search hits and lists: what every channel shows of a paper."""

    def __init__(self, reader: sa.Engine) -> None:
        self.reader = reader

    def cards(
        self,
        paper_ids: Sequence[int],
        *,
        viewer: User | None = None,
        include_hidden: bool = False,
    ) -> list[PaperCard]:
        """Cards in the given order (unknown and, unless asked for, hidden papers dropped)."""
        with self.reader.connect() as conn:
            return load_cards(
                conn,
                paper_ids,
                viewer_id=viewer.id if viewer else None,
                include_hidden=include_hidden,
            )

    def card(
        self, paper_id: int, *, viewer: User | None = None, include_hidden: bool = False
    ) -> PaperCard:
        found = self.cards([paper_id], viewer=viewer, include_hidden=include_hidden)
        if not found:
            raise NotFound("paper not found")
        return found[0]

    def hidden_ids(self) -> set[int]:
        """Papers a moderator hid (few: the table holds only those)."""
        with self.reader.connect() as conn:
            return set(conn.execute(sa.select(paper_moderation.c.paper_id)).scalars())

    def search(
        self,
        search: SearchService,
        text: str,
        *,
        viewer: User | None = None,
        limit: int = 10,
        offset: int = 0,
        sort: Literal["relevance", "date"] = "relevance",
        mode: Literal["hybrid", "lexical", "dense"] = "hybrid",
        categories: Sequence[str] = (),
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> CardResults:
        """A search whose hits are cards, the papers read once. Hidden papers are neither
        found nor counted: the search excludes them at the source (SearchService.hidden)."""
        results = search.search(
            text,
            limit=limit,
            offset=offset,
            sort=sort,
            mode=mode,
            categories=categories,
            since=since,
            until=until,
            fetch=False,  # the cards are the one read of these papers
        )
        cards = {
            c.paper_id: c for c in self.cards([pid for pid, _, _ in results.ranked], viewer=viewer)
        }
        terms = search.snippet_terms(results.query)
        items: list[tuple[SearchHit, PaperCard]] = []
        for pid, score, matched_by in results.ranked:
            card = cards.get(pid)
            if card is None:  # deleted since it was indexed
                continue
            hit = SearchHit(
                paper_id=pid,
                arxiv_id=card.arxiv_id,
                title=card.title,
                authors=card.authors,
                categories=card.categories,
                submitted_at=card.submitted_at,
                score=score,
                snippet=search.snippet(card.abstract, terms),
                matched_by=matched_by,
            )
            items.append((hit, card))
        total = results.total
        return CardResults(items, total, results.took_ms, results.notices)

    def similar(
        self,
        search: SearchService,
        paper_id: int,
        *,
        limit: int,
        viewer: User | None = None,
        include_hidden: bool = False,
    ) -> list[PaperCard]:
        """Papers like this one (visible ones only); NotFound for an unknown paper and, unless
        asked for, a hidden one, as on every route that names a paper."""
        self.card(paper_id, include_hidden=include_hidden)
        return self.cards(
            [h.paper_id for h in search.similar(paper_id, limit=limit)], viewer=viewer
        )
