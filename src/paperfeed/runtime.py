"""Wires settings to services. The CLI, the server and the tests build one of these."""

from __future__ import annotations

from functools import cached_property

import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.db.engine import make_engine
from paperfeed.db.migrate import ensure_schema
from paperfeed.papers.catalog import Catalog


class Runtime:
    """Lazily built services over one Settings; a new data directory is initialised on first
    use (the schema is brought to the current migration)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    @cached_property
    def engine(self) -> sa.Engine:
        engine = make_engine(self.settings)
        ensure_schema(engine)
        return engine

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.engine)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
