"""The migration scripts as the code reads them without Alembic (`paperfeed.db.migrate`:
every process checks its catalog's revision at start, and imports Alembic only to migrate)."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from paperfeed.db import migrate


def test_the_revisions_read_without_alembic_are_alembics() -> None:
    """`head_revision` reads the file names: each script is named after its revision and
    follows the one before, which is what Alembic finds reading the scripts."""
    scripts = ScriptDirectory.from_config(migrate._config())
    chain = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    assert chain == [f"{n:04d}" for n in range(1, len(chain) + 1)]
    downs = [scripts.get_revision(revision).down_revision for revision in chain]
    assert downs == [None, *chain[:-1]]
    files = sorted(p.name for p in (migrate._MIGRATIONS / "versions").glob("*.py"))
    assert [name.split("_", 1)[0] for name in files if name != "__init__.py"] == chain
    assert migrate.head_revision() == scripts.get_current_head() == chain[-1]
