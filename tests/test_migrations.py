"""The migrations create exactly the schema the code declares (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from paperfeed.config import Settings
from paperfeed.db.engine import make_engine
from paperfeed.db.migrate import (
    SchemaOutdated,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from paperfeed.db.schema import metadata, paper_categories, papers, users
from paperfeed.runtime import Runtime
from tests.support.accounts import PASSWORD
from tests.support.cli import Cli

# The migrations run here from an empty database (other tests start from a copy of a catalog
# the migrations made once per session).
pytestmark = pytest.mark.empty_catalog


@pytest.fixture(autouse=True)
def _upgraded(settings: Settings) -> None:
    """A new PostgreSQL catalog is migrated by `paperfeed db upgrade` (processes refuse to do
    it); a new SQLite catalog is migrated by the first process that opens it."""
    if settings.database_url is not None:
        engine = make_engine(settings)
        try:
            upgrade(engine)
        finally:
            engine.dispose()


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


def _postgresql_only(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL catalogs are only migrated by `paperfeed db upgrade`")


def test_postgresql_refuses_an_older_schema_with_one_line(
    runtime: Runtime, settings: Settings, cli: Cli
) -> None:
    _postgresql_only(runtime)
    downgrade(runtime.engine, "0004")
    runtime.close()
    with pytest.raises(SchemaOutdated, match="run `paperfeed db upgrade`"):
        Runtime(settings).engine  # noqa: B018
    for command in (("search", "anything"), ("serve", "--port", "1")):
        result = cli(*command, ok=False)
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [
            f"Error: the catalog schema is at 0004, this paperfeed needs {head_revision()}: "
            "run `paperfeed db upgrade`"
        ]
    assert current_revision(runtime.engine) == "0004"  # nothing was migrated
    assert "database upgraded: 0004 -> " in cli("db", "upgrade").stdout
    assert "schema is current" in cli("db", "check").stdout
    cli("search", "anything")


def test_upgrades_started_together_take_turns(
    runtime: Runtime, cli_env: dict[str, str | None]
) -> None:
    """`paperfeed db upgrade` on several PostgreSQL nodes at once: one migrates, the others
    wait for its advisory lock and find nothing to do (without the lock they race each
    other's CREATE and ALTER TABLE)."""
    _postgresql_only(runtime)
    downgrade(runtime.engine, "base")
    runtime.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update({k: v for k, v in cli_env.items() if v is not None})
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [node.communicate(timeout=120)[0].decode() for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0, 0], outputs
    upgraded = [out for out in outputs if "database upgraded: empty -> " in out]
    assert len(upgraded) == 1, outputs
    assert sum("database is up to date" in out for out in outputs) == 2, outputs
    assert current_revision(runtime.engine) == head_revision()


def test_sqlite_upgrades_itself_on_start(runtime: Runtime, settings: Settings) -> None:
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("SQLite catalogs keep upgrading themselves")
    downgrade(runtime.engine, "0004")
    runtime.close()
    again = Runtime(settings)
    try:
        assert current_revision(again.engine) == head_revision()
    finally:
        again.close()


def test_accounts_made_before_0006_count_as_confirmed(runtime: Runtime) -> None:
    """Upgrading locks nobody out: an account of the older schema is confirmed (since it was
    made) and keeps its role. Downgrading drops the accounts that were never confirmed (the
    older code would take them for full accounts)."""
    engine = runtime.engine
    downgrade(engine, "0005")
    made = dt.datetime(2026, 5, 1, 12, 0)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (email, username, fullname, password_hash, role, created_at) "
                "VALUES ('ada@example.org', 'ada', '', :hash, 'admin', :made)"
            ),
            {"hash": runtime.accounts.hasher.hash(PASSWORD), "made": made},
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(users.c.email_confirmed_at)).scalar_one() == made
    ada = runtime.accounts.authenticate("ada@example.org", PASSWORD)
    assert ada is not None and ada.confirmed and ada.is_admin

    runtime.accounts.sign_up("bob@example.org", "bob", PASSWORD)
    downgrade(engine, "0005")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT username FROM users")).scalars().all() == ["ada"]
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_predicted_categories_go_with_a_downgrade_below_0012(runtime: Runtime) -> None:
    """The older schema cannot tell predicted categories from arXiv's: a downgrade empties
    them (and their `paper_categories` rows), arXiv's stay."""
    engine = runtime.engine
    now = dt.datetime(2026, 8, 1)
    with engine.begin() as conn:
        for n, (categories, predicted) in enumerate(
            [(["cs.LG", "stat.ML"], False), (["cs.CV"], True)], start=1
        ):
            conn.execute(
                papers.insert().values(
                    id=n, title=f"Paper {n}", title_key=f"paper {n}", authors=[],
                    primary_category=categories[0], categories=categories,
                    categories_predicted=predicted, versions=[], links=[], sources=["test"],
                    content_hash="x", first_seen_at=now, modified_at=now,
                )
            )  # fmt: skip
            conn.execute(
                paper_categories.insert(), [{"paper_id": n, "category": c} for c in categories]
            )
    downgrade(engine, "0006")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, primary_category FROM papers ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "cs.LG"), (2, None)]
        left = conn.execute(sa.text("SELECT paper_id, category FROM paper_categories")).all()
        assert sorted(tuple(r) for r in left) == [(1, "cs.LG"), (1, "stat.ML")]
    upgrade(engine)
    assert current_revision(engine) == head_revision()
