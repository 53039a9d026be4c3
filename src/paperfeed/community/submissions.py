"""Submitting a paper to today's daily list: the one path for the submit page and the API.
A paper is taken from the catalog, else fetched from arXiv through the injected fetcher (the
real one: `HttpArxivFetcher`); a paper new to the catalog is then indexed off the request
path by the injected callback (the runtime's `index_in_background`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

import sqlalchemy as sa

from paperfeed.accounts.service import User
from paperfeed.clock import Clock, utcnow
from paperfeed.community.cards import CardService, PaperCard
from paperfeed.community.errors import CommunityError, Duplicate, FetchUnavailable, NotFound
from paperfeed.db.schema import daily_papers, paper_moderation
from paperfeed.papers.catalog import Catalog
from paperfeed.papers.catalog_writer import CatalogWriter
from paperfeed.papers.ids import InvalidArxivId, parse_arxiv_id
from paperfeed.papers.record import PaperRecord


class ArxivFetcher(Protocol):
    def fetch(self, arxiv_id: str) -> PaperRecord | None:
        """The paper with this canonical arXiv id, or None when arXiv does not know it;
        raises FetchUnavailable when arXiv cannot be reached."""
        ...


class HttpArxivFetcher:
    """One paper from the arXiv API (`settings.arxiv_api_endpoint`) over HTTP."""

    def __init__(self, endpoint: str, *, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout

    def fetch(self, arxiv_id: str) -> PaperRecord | None:
        import httpx  # (here: the CLI starts without loading the HTTP client)

        from paperfeed.ingest.atom import fetch_ids
        from paperfeed.ingest.base import FormatError

        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=True) as client:
                found = fetch_ids(client, self.endpoint, [arxiv_id])
        except (httpx.HTTPError, FormatError) as exc:  # FormatError: e.g. an HTML error page
            logging.getLogger(__name__).warning("arXiv API unreachable: %r", exc)
            raise FetchUnavailable(
                f"arXiv:{arxiv_id} is not in the catalog yet, and arXiv could not be reached "
                "to fetch it (this server may be offline, or arXiv busy). Nothing was "
                "submitted: try again later. An administrator can also add the paper to the "
                "catalog by importing it."
            ) from exc
        return found[0] if found else None

    def fetch_many(self, arxiv_ids: Sequence[str]) -> list[PaperRecord]:
        """The papers arXiv knows among these canonical ids, in `id_list` queries of 100
        (a collection's import); FetchUnavailable when arXiv cannot be reached."""
        import httpx

        from paperfeed.ingest.atom import fetch_ids
        from paperfeed.ingest.base import FormatError

        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=True) as client:
                return fetch_ids(client, self.endpoint, arxiv_ids)
        except (httpx.HTTPError, FormatError) as exc:
            logging.getLogger(__name__).warning("arXiv API unreachable: %r", exc)
            raise FetchUnavailable(f"arXiv could not be reached ({type(exc).__name__})") from exc


class SubmissionService:
    def __init__(
        self,
        engine: sa.Engine,
        catalog: Catalog,
        writer: CatalogWriter,
        cards: CardService,
        fetcher: ArxivFetcher | None,
        *,
        clock: Clock = utcnow,
        on_added: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.writer = writer
        self.cards = cards
        self.fetcher = fetcher  # None: papers not in the catalog cannot be submitted
        self.clock = clock
        self.on_added = on_added  # called after a paper new to the catalog was stored

    def submit(self, user: User, text: str) -> tuple[PaperCard, bool]:
        """Put a paper (arXiv id or URL) on today's daily list. Returns its card and whether
        it was new to the catalog."""
        try:
            arxiv_id = parse_arxiv_id(text.strip()[:300]).canonical
        except InvalidArxivId as exc:
            raise CommunityError(str(exc)) from None
        now = self.clock()
        added = False
        paper_id = self.catalog.ids_for_arxiv([arxiv_id]).get(arxiv_id)
        if paper_id is None:
            if self.fetcher is None:
                raise FetchUnavailable(
                    f"arXiv:{arxiv_id} is not in the catalog and fetching from arXiv is off"
                )
            record = self.fetcher.fetch(arxiv_id)
            if record is None:
                raise NotFound(f"arXiv does not know arXiv:{arxiv_id}")
            with self.engine.begin() as conn:
                self.writer.upsert(conn, [record])
            paper_id = self.catalog.ids_for_arxiv([arxiv_id])[arxiv_id]
            added = True
        with self.engine.begin() as conn:
            on_list = conn.execute(
                sa.select(daily_papers.c.submitted_on).where(daily_papers.c.paper_id == paper_id)
            ).scalar()
            if on_list is not None:
                raise Duplicate(
                    f"arXiv:{arxiv_id} is already on the daily list of {on_list.isoformat()}"
                )
            hidden = conn.execute(
                sa.select(paper_moderation.c.paper_id).where(
                    paper_moderation.c.paper_id == paper_id
                )
            ).first()
            if hidden is not None:
                raise CommunityError(f"arXiv:{arxiv_id} was hidden by a moderator")
            try:
                with conn.begin_nested():
                    conn.execute(
                        daily_papers.insert().values(
                            paper_id=paper_id,
                            submitted_on=now.date(),
                            submitted_at=now,
                            submitted_by=user.username,
                            upvotes=0,
                            num_comments=0,
                            ai_keywords=[],
                            source="paperfeed",
                            updated_at=now,
                        )
                    )
            except sa.exc.IntegrityError:
                raise Duplicate(f"arXiv:{arxiv_id} was just submitted by someone else") from None
        if added and self.on_added is not None:
            self.on_added()
        return self.cards.card(paper_id, viewer=user), added
