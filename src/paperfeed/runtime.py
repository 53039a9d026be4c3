"""Wires settings to services. The CLI, the server and the tests build one of these."""

from __future__ import annotations

from functools import cached_property

import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.db.engine import make_engine
from paperfeed.db.migrate import ensure_schema
from paperfeed.papers.catalog import Catalog
from paperfeed.search.embedder import Embedder, load_embedder
from paperfeed.search.indexer import Indexer
from paperfeed.search.service import SearchService
from paperfeed.search.store import SearchStore


class Runtime:
    """Lazily built services over one Settings; a new data directory is initialised on first
    use (the schema is brought to the current migration)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._embedder: Embedder | None = None
        self._embedder_loaded = False

    @cached_property
    def engine(self) -> sa.Engine:
        engine = make_engine(self.settings)
        ensure_schema(engine)
        return engine

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.engine)

    @cached_property
    def search_store(self) -> SearchStore:
        return SearchStore.open(self.settings.search_dir)

    @property
    def embedder_configured(self) -> bool:
        return self.settings.embedder != "none"

    def embedder(self) -> Embedder | None:
        """The configured embedding model, loaded on first use (None: lexical only)."""
        if not self._embedder_loaded:
            self._embedder = load_embedder(self.settings.embedder, self.settings.home / "models")
            self._embedder_loaded = True
        return self._embedder

    @cached_property
    def search(self) -> SearchService:
        return SearchService(
            self.catalog,
            self.search_store,
            self.embedder,
            candidates=self.settings.search_candidates,
            dense_candidates=self.settings.search_dense_candidates,
            dense_weight=self.settings.search_dense_weight,
        )

    def indexer(self, *, progress: bool = False) -> Indexer:
        return Indexer(self.engine, self.search_store, self.embedder(), progress=progress)

    def use_search_store(self, store: SearchStore) -> None:
        """Serve from `store` from now on (after a rebuild swapped in a new generation)."""
        self.__dict__["search_store"] = store
        self.__dict__.pop("search", None)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
