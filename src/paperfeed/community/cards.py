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

from paperfeed.clock import Clock, utcnow
from paperfeed.community.errors import NotFound
from paperfeed.db.schema import (
    collection_items,
    collections,
    comments,
    daily_papers,
    paper_marks,
    paper_moderation,
    papers,
    votes,
)
from paperfeed.papers.authors import author_key
from paperfeed.papers.ids import public_id
from paperfeed.search.service import MAX_LIMIT, SearchHit

if TYPE_CHECKING:
    from paperfeed.accounts.service import User
    from paperfeed.search.service import SearchService

# Where the images that pages show from other sites come from (only with
# PAPERFEED_REMOTE_IMAGES; the Content-Security-Policy then allows these and no others).
REMOTE_IMAGE_ORIGINS = ("https://cdn-thumbnails.huggingface.co",)
_CHUNK = 500
AUTHOR_CANDIDATES = 2_000  # papers looked at for one author (newest first)
_NEW = dt.timedelta(hours=24)


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
    num_comments: int = 0  # comments made here (those shown on the paper page)
    hf_comments: int = 0  # the imported count of comments on Hugging Face's discussion
    hidden: bool = False
    daily_on: dt.date | None = None
    daily_at: dt.datetime | None = None
    submitted_by: str | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    organization: str | None = None
    thumbnail: str | None = None  # only with PAPERFEED_REMOTE_IMAGES (CardService)
    new: bool = False  # first on a daily list in the last 24 hours (CardService's clock)
    voted: bool = False  # by the user looking at it
    # The viewer's library (library/): saved in a collection, marked read, "not interested"
    saved: bool = False
    read: bool = False
    dismissed: bool = False
    categories_predicted: bool = False  # voted by neighbours (papers/predicted_categories.py)

    @property
    def public_id(self) -> str:
        """The id in URLs: the arXiv id, or `pf-<n>` for papers without one."""
        return public_id(self.arxiv_id, self.paper_id)

    @property
    def all_comments(self) -> int:
        """Comments here and on Hugging Face together (the Hugging Face-compatible API's
        `numComments`, as Hugging Face counts them plus ours)."""
        return self.num_comments + self.hf_comments

    def hf_discussion_url(self) -> str | None:
        """Hugging Face's page (and discussion) of the paper, where it has comments there."""
        if self.hf_comments and self.arxiv_id:
            return f"https://huggingface.co/papers/{self.arxiv_id}"
        return None

    def is_new(self, now: dt.datetime) -> bool:
        """First appeared on a daily list in the 24 hours before `now`."""
        return self.daily_at is not None and dt.timedelta(0) <= now - self.daily_at <= _NEW

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
    daily_papers.c.organization,
    daily_papers.c.thumbnail,
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
        hf_comments=row.num_comments or 0,
        hidden=row.hidden_at is not None,
        daily_on=row.submitted_on,
        daily_at=row.daily_at,
        submitted_by=row.submitted_by,
        github_repo=row.github_repo,
        github_stars=row.github_stars,
        project_page=row.project_page,
        ai_summary=row.ai_summary,
        ai_keywords=list(row.ai_keywords or []),
        organization=row.organization,
        thumbnail=row.thumbnail if _remote_image(row.thumbnail) else None,
    )


def _remote_image(url: str | None) -> bool:
    return bool(url) and any(str(url).startswith(f"{o}/") for o in REMOTE_IMAGE_ORIGINS)


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
        query = query.add_columns(voted.label("voted"), *_library_marks())
    return query.where(papers.c.id.in_(sa.bindparam("ids", expanding=True)))


def _library_marks() -> list[sa.Label[bool]]:
    """Whether the viewer saved the paper (in any collection), marked it read, or "not
    interested" (library/)."""
    viewer: sa.BindParameter[int] = sa.bindparam("viewer_id")
    saved = sa.exists().where(
        collection_items.c.paper_id == papers.c.id,
        collection_items.c.collection_id == collections.c.id,
        collections.c.user_id == viewer,
    )

    def marked(kind: str) -> sa.Exists:
        return sa.exists().where(
            paper_marks.c.user_id == viewer,
            paper_marks.c.paper_id == papers.c.id,
            paper_marks.c.kind == kind,
        )

    return [
        saved.label("saved"),
        marked("read").label("read"),
        marked("dismissed").label("dismissed"),
    ]


def load_cards(
    conn: sa.Connection,
    paper_ids: Sequence[int],
    *,
    viewer_id: int | None = None,
    include_hidden: bool = False,
) -> list[PaperCard]:
    """Cards for these papers in the given order (missing and hidden ones dropped), with the
    upvotes made here added to the imported ones, and the comments made here (Hugging Face's
    count is apart: `hf_comments`)."""
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
            card.num_comments = row.local_comments
            if viewer_id is not None:
                card.voted, card.saved = bool(row.voted), bool(row.saved)
                card.read, card.dismissed = bool(row.read), bool(row.dismissed)
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
    listed: int = 0  # how many of `total` this order can list (SearchResults.listed)
    missing_ids: list[str] = field(default_factory=list)  # named arXiv ids not in the catalog

    @property
    def cards(self) -> list[PaperCard]:
        return [card for _, card in self.items]


class CardService:
    """Cards for papers, search hits and lists: what every channel shows of a paper."""

    def __init__(
        self, reader: sa.Engine, *, clock: Clock = utcnow, remote_images: bool = False
    ) -> None:
        self.reader = reader
        self.clock = clock
        self.remote_images = remote_images  # thumbnails are images from another site

    def cards(
        self,
        paper_ids: Sequence[int],
        *,
        viewer: User | None = None,
        include_hidden: bool = False,
    ) -> list[PaperCard]:
        """Cards in the given order (unknown and, unless asked for, hidden papers dropped)."""
        with self.reader.connect() as conn:
            found = load_cards(
                conn,
                paper_ids,
                viewer_id=viewer.id if viewer else None,
                include_hidden=include_hidden,
            )
        now = self.clock()
        for card in found:
            card.new = card.is_new(now)
            if not self.remote_images:
                card.thumbnail = None
        return found

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
        return CardResults(
            items, total, results.took_ms, results.notices, results.listed, results.missing_ids
        )

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

    def by_author(
        self,
        search: SearchService,
        name: str,
        *,
        limit: int,
        offset: int = 0,
        viewer: User | None = None,
    ) -> tuple[list[PaperCard], int]:
        """The papers of the author with this name, newest first (at most the newest
        AUTHOR_CANDIDATES the name's words find), and how many there are. A paper is the
        author's when one of its names has the same `author_key` (case, accents and
        punctuation do not count); the word index's author filter finds the candidates."""
        key = author_key(name)
        if not key:
            return [], 0
        query = 'author:"' + name.replace('"', " ") + '"'
        ids: list[int] = []
        for start in range(0, AUTHOR_CANDIDATES, MAX_LIMIT):
            found = search.search(query, limit=MAX_LIMIT, offset=start, sort="date")
            ids += [
                hit.paper_id
                for hit in found.hits
                if any(author_key(author) == key for author in hit.authors)
            ]
            if len(found.hits) < MAX_LIMIT:
                break
        return self.cards(ids[offset : offset + limit], viewer=viewer), len(ids)
