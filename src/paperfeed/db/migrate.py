"""Schema migrations: `paperfeed db upgrade`, and initialisation of a new data directory.

A SQLite catalog belongs to one data directory: it is brought to the newest migration when a
process opens it. A PostgreSQL catalog may be shared by several machines started together,
so only `paperfeed db upgrade` changes its schema (under an advisory lock: two upgrades run
one after the other, and the second finds nothing to do); a process that finds an older
schema refuses to start (`SchemaOutdated`)."""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

_MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key of schema upgrades (any fixed number; "pfschema" in ASCII).
UPGRADE_LOCK = 0x7066736368656D61


class SchemaOutdated(RuntimeError):
    """The catalog's schema is not the one this paperfeed needs (PostgreSQL)."""


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache  # the scripts do not change while the process runs (reading them: ~20 ms)
def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations up to `revision`, in one transaction; on PostgreSQL under an advisory
    lock, so that upgrades started together run one after the other. The revisions before
    and after, as this upgrade found them under the lock."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(_config(conn), revision)
        return before, MigrationContext.configure(conn).get_current_revision()


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Undo migrations down to `revision` (for tests of older schemas)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
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
