"""Wires settings to services. The CLI, the server and the tests build one of these."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import cached_property

import sqlalchemy as sa

from paperfeed.accounts.rate_limit import RateLimiter
from paperfeed.accounts.service import AccountService
from paperfeed.clock import Clock, utcnow
from paperfeed.community.cards import CardService
from paperfeed.community.daily import DailyService
from paperfeed.community.discussion import DiscussionService
from paperfeed.community.members import MemberService
from paperfeed.community.moderation import ModerationService
from paperfeed.community.signals import TrendingService
from paperfeed.community.submissions import ArxivFetcher, HttpArxivFetcher, SubmissionService
from paperfeed.config import Settings
from paperfeed.db import deferred_indexes
from paperfeed.db.engine import make_engine
from paperfeed.db.migrate import prepare_schema
from paperfeed.digest.editions import EditionService
from paperfeed.digest.personal import PersonalDigests
from paperfeed.digest.preferences import PreferenceService
from paperfeed.digest.sender import DigestSender
from paperfeed.digest.subscriptions import SubscriptionService
from paperfeed.library.collections import LibraryService
from paperfeed.library.follows import FollowService
from paperfeed.library.transfer import ArxivRecords, CollectionImporter
from paperfeed.mail.messages import Messages
from paperfeed.mail.service import Mailer, make_mailer
from paperfeed.papers.catalog import Catalog
from paperfeed.papers.catalog_writer import CatalogWriter
from paperfeed.papers.lookup import PaperIds
from paperfeed.progress import Progress
from paperfeed.recommend.foryou import ForYouService
from paperfeed.recommend.service import Recommender
from paperfeed.search.embedder import Embedder, load_embedder
from paperfeed.search.follow import IndexFollower
from paperfeed.search.indexer import Indexer
from paperfeed.search.service import SearchResults, SearchService
from paperfeed.search.store import SearchStore
from paperfeed.server_secret import server_secret


class Runtime:
    """Lazily built services over one Settings; a new data directory is initialised on first
    use (the schema is brought to the current migration)."""

    def __init__(self, settings: Settings | None = None, *, clock: Clock = utcnow) -> None:
        self.settings = settings or Settings()
        # The one clock every service reads (tests pass a paperfeed.clock.FrozenClock).
        self.clock = clock
        self._embedder: Embedder | None = None
        self._embedder_loaded = False
        self._embedder_lock = threading.Lock()
        self._search: SearchService | None = None
        self._search_lock = threading.Lock()

    @cached_property
    def engine(self) -> sa.Engine:
        engine = make_engine(self.settings)
        # SQLite: brought to the current migration; PostgreSQL: SchemaOutdated unless it is
        # (only `paperfeed db upgrade` changes a shared catalog's schema).
        try:
            prepare_schema(engine)
        except Exception:
            engine.dispose()
            raise
        restored = deferred_indexes.restore_missing(engine)  # after an interrupted bulk load
        if restored:
            logging.getLogger(__name__).warning("rebuilt catalog indexes: %s", ", ".join(restored))
        return engine

    @cached_property
    def reader(self) -> sa.Engine:
        """The engine for reads. On SQLite a separate pool whose transactions never take the
        write lock (the writer engine begins with BEGIN IMMEDIATE, which would serialise
        every page view behind one lock across all processes)."""
        engine = self.engine  # (first: a new data directory gets its schema before a read)
        if not self.settings.is_sqlite:
            return engine
        return make_engine(self.settings, readonly=True)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.engine, self.reader)

    @cached_property
    def catalog_writer(self) -> CatalogWriter:
        return CatalogWriter(self.clock)

    @cached_property
    def index(self) -> IndexFollower:
        """This data directory's search index, following the catalog (search/follow.py)."""
        return IndexFollower(
            lambda: self.engine,
            self.settings.search_dir,
            self.embedder,
            embedder_configured=self.embedder_configured,
            clock=self.clock,
        )

    @property
    def search_store(self) -> SearchStore:
        """The index generation being served (after `index build`, the new one)."""
        return self.index.store

    @property
    def embedder_configured(self) -> bool:
        return self.settings.embedder != "none"

    def embedder(self) -> Embedder | None:
        """The configured embedding model, loaded on first use (None: lexical only)."""
        if not self._embedder_loaded:
            with self._embedder_lock:  # the follower thread and a request may both ask
                if not self._embedder_loaded:
                    self._embedder = load_embedder(
                        self.settings.embedder, self.settings.home / "models"
                    )
                    self._embedder_loaded = True
        return self._embedder

    @property
    def search(self) -> SearchService:
        """The search service over the generation being served (a new one after a swap)."""
        store = self.search_store
        with self._search_lock:
            if self._search is None or self._search.store is not store:
                self._search = SearchService(
                    self.catalog,
                    store,
                    self.embedder,
                    candidates=self.settings.search_candidates,
                    dense_candidates=self.settings.search_dense_candidates,
                    dense_weight=self.settings.search_dense_weight,
                    concurrency=self.settings.search_concurrency,
                    query_vectors=self.settings.search_query_vectors,
                    hidden=self.cards.hidden_ids,
                    observe=self._search_metrics(),
                )
            return self._search

    @cached_property
    def recommender(self) -> Recommender:
        """ "For you": ranks candidates for a reader from their liked and disliked papers,
        with the paper vectors and words of the generation being served."""
        return Recommender(lambda: self.search_store, self.catalog)

    @cached_property
    def for_you(self) -> ForYouService:
        """Each reader's "For you" list (page, API, CLI and personal digests)."""
        return ForYouService(
            self.engine,
            self.cards,
            self.follows,
            self.recommender,
            self.trending,
            lambda: self.search,
            reader=self.reader,
            clock=self.clock,
            days=self.settings.for_you_days,
        )

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(
            self.engine,
            session_days=self.settings.session_days,
            admin_emails=frozenset(self.settings.admin_emails),
            password_hashing=(
                self.settings.password_hash_time_cost,
                self.settings.password_hash_memory_kib,
            ),
            reader=self.reader,
            clock=self.clock,
        )

    @cached_property
    def cards(self) -> CardService:
        return CardService(self.reader, clock=self.clock, remote_images=self.settings.remote_images)

    @cached_property
    def paper_ids(self) -> PaperIds:
        return PaperIds(self.reader)

    @cached_property
    def daily(self) -> DailyService:
        return DailyService(self.reader, self.cards, clock=self.clock)

    @cached_property
    def trending(self) -> TrendingService:
        return TrendingService(self.reader, self.cards, clock=self.clock)

    @cached_property
    def discussion(self) -> DiscussionService:
        return DiscussionService(self.engine, self.cards, clock=self.clock, reader=self.reader)

    @cached_property
    def members(self) -> MemberService:
        return MemberService(self.engine, self.accounts, reader=self.reader, clock=self.clock)

    @cached_property
    def moderation(self) -> ModerationService:
        return ModerationService(self.engine, clock=self.clock)

    @cached_property
    def arxiv_fetcher(self) -> ArxivFetcher:
        return HttpArxivFetcher(
            self.settings.arxiv_api_endpoint, timeout=self.settings.http_timeout
        )

    @cached_property
    def submissions(self) -> SubmissionService:
        return SubmissionService(
            self.engine,
            self.catalog,
            self.catalog_writer,
            self.cards,
            self.arxiv_fetcher,
            clock=self.clock,
            on_added=self.index_in_background,
        )

    @cached_property
    def library(self) -> LibraryService:
        return LibraryService(self.engine, self.cards, reader=self.reader, clock=self.clock)

    @cached_property
    def follows(self) -> FollowService:
        return FollowService(self.engine, self.cards, reader=self.reader, clock=self.clock)

    @cached_property
    def arxiv_records(self) -> ArxivRecords:
        """arXiv's records by id, many at a time (a collection's import)."""
        return HttpArxivFetcher(
            self.settings.arxiv_api_endpoint, timeout=self.settings.http_timeout
        )

    @cached_property
    def collection_importer(self) -> CollectionImporter:
        return CollectionImporter(
            self.library,
            self.catalog_writer,
            self.arxiv_records,
            on_added=self.index_in_background,
        )

    @cached_property
    def secret(self) -> bytes:
        """The server secret (paperfeed/server_secret.py): signs CSRF tokens."""
        return server_secret(self.settings)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        return RateLimiter(self.engine, self.settings.rate_limit_scale, clock=self.clock)

    @cached_property
    def mailer(self) -> Mailer:
        mailer = make_mailer(self.settings)
        if not self.settings.metrics_enabled:
            return mailer
        from paperfeed.ops.metrics import CountingMailer

        return CountingMailer(mailer)

    def _search_metrics(self) -> Callable[[SearchResults], None] | None:
        if not self.settings.metrics_enabled:
            return None
        from paperfeed.ops.metrics import observe_search

        return observe_search

    @cached_property
    def messages(self) -> Messages:
        return Messages(
            self.mailer, self.settings.mail_from, self.settings.base_url, clock=self.clock
        )

    @cached_property
    def subscriptions(self) -> SubscriptionService:
        return SubscriptionService(self.engine, self.messages, clock=self.clock)

    @cached_property
    def editions(self) -> EditionService:
        return EditionService(
            self.engine,
            self.cards,
            reader=self.reader,
            clock=self.clock,
            daily_days=self.settings.digest_daily_days,
        )

    @cached_property
    def digest_preferences(self) -> PreferenceService:
        return PreferenceService(self.engine, clock=self.clock)

    @cached_property
    def digest_sender(self) -> DigestSender:
        return DigestSender.from_settings(
            self.settings,
            self.engine,
            self.editions,
            self.mailer,
            clock=self.clock,
            personal=PersonalDigests(self.for_you, self.secret),
            make_personal=self._personal_digests_elsewhere,
        )

    def _personal_digests_elsewhere(self) -> PersonalDigests:
        """A digest run's chooser process's own PersonalDigests (digest/sender.py: it uses
        nothing this runtime opened before the fork)."""
        own = Runtime(self.settings, clock=self.clock)
        return PersonalDigests(own.for_you, own.secret)

    def index_in_background(self) -> None:
        """Index what this process changed in the catalog (e.g. a paper fetched for a
        submission) off the request path: IndexFollower.after_catalog_change."""
        self.index.after_catalog_change()

    def indexer(self, *, progress: Progress | None = None, terms: bool = True) -> Indexer:
        return self.index.indexer(progress=progress, terms=terms)

    def close(self) -> None:
        if "index" in self.__dict__:
            self.index.stop()
        if "reader" in self.__dict__ and self.reader is not self.__dict__.get("engine"):
            self.reader.dispose()
        if "engine" in self.__dict__:
            self.engine.dispose()
