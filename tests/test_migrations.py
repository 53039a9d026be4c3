"""The migrations create exactly the schema the code declares (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from paperfeed.db.schema import metadata
from paperfeed.runtime import Runtime

# The migrations run here from an empty database (other tests start from a copy of a catalog
# the migrations made once per session).
pytestmark = pytest.mark.empty_catalog


def test_migrated_database_matches_the_declared_schema(runtime: Runtime) -> None:
    with runtime.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_catalog_rows_are_kept_inline_on_postgresql(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL storage parameter")
    with runtime.engine.connect() as conn:
        options = conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE relname = 'papers'"
        ).scalar()
    assert "toast_tuple_target=8160" in (options or [])
