"""Schema migrations: `paperfeed db upgrade`, and initialisation of a new data directory.

A SQLite catalog belongs to one data directory: it is brought to the newest migration when a
process opens it. A PostgreSQL catalog may be shared by several machines started together,
so only `paperfeed db upgrade` changes its schema (under an advisory lock: two upgrades run
one after the other, and the second finds nothing to do); a process that finds an older
schema refuses to start (`SchemaOutdated`)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (with Mako and Pygments, ~0.1 s) is imported only to migrate: every process checks
# the schema when it opens the catalog, with the two functions below, which read the same
# revision numbers without it.
_MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key of schema upgrades (any fixed number; "pfschema" in ASCII).
UPGRADE_LOCK = 0x7066736368656D61


class SchemaOutdated(RuntimeError):
    """The catalog's schema is not the one this paperfeed needs (PostgreSQL)."""


def _config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache  # the scripts do not change while the process runs
def head_revision() -> str | None:
    """The newest migration. Each script in migrations/versions is named after its revision,
    `NNNN_what.py`, and follows the one before (tests/test_migrations.py checks this against
    Alembic's own reading of the scripts)."""
    numbers = sorted(
        path.name.split("_", 1)[0]
        for path in (_MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    )
    return numbers[-1] if numbers else None


def current_revision(engine: sa.Engine) -> str | None:
    """The catalog's migration (Alembic's `alembic_version` table); None for an empty one."""
    with engine.connect() as conn:
        return _revision_of(conn)


def _revision_of(conn: sa.Connection) -> str | None:
    # (one catalog lookup: an inspector's has_table costs several queries on PostgreSQL)
    if conn.dialect.name == "postgresql":
        lookup = "SELECT to_regclass('alembic_version') IS NOT NULL"
    else:
        lookup = "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'alembic_version'"
    if not conn.execute(sa.text(lookup)).scalar():
        return None
    found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return None if found is None else str(found)


def upgrade(engine: sa.Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations up to `revision`, in one transaction; on PostgreSQL under an advisory
    lock, so that upgrades started together run one after the other. The revisions before
    and after, as this upgrade found them under the lock."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
        from alembic import command

        before = _revision_of(conn)
        command.upgrade(_config(conn), revision)
        return before, _revision_of(conn)


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Undo migrations down to `revision` (for tests of older schemas)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
        from alembic import command

        command.downgrade(_config(conn), revision)


def ensure_schema(engine: sa.Engine) -> bool:
    """Bring the schema to head; True when anything was applied."""
    if current_revision(engine) == head_revision():
        return False
    upgrade(engine)
    return True


def check_schema(engine: sa.Engine) -> None:
    """SchemaOutdated, saying what to run, unless the schema is at the newest migration."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutdated(
            f"the catalog schema is at {current or 'nothing (an empty database)'}, this "
            f"paperfeed needs {head}: run `paperfeed db upgrade`"
        )


def prepare_schema(engine: sa.Engine) -> None:
    """What a process does on opening the catalog: SQLite is upgraded in place; PostgreSQL
    is only checked (SchemaOutdated)."""
    if engine.dialect.name == "sqlite":
        ensure_schema(engine)
    else:
        check_schema(engine)
