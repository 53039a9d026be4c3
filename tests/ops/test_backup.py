"""`paperfeed backup` while the catalog is being written, and `paperfeed restore` into a fresh
data directory: the same papers, votes and accounts, the data directory's other files, and a
search index rebuilt from the catalog."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.db.schema import papers, users, votes
from paperfeed.runtime import Runtime
from tests.support.accounts import confirmed_user
from tests.support.cli import HEAD200, Cli

PASSWORD = "correct horse battery staple"
BEFORE, AFTER = 30, 30  # votes the writer casts before the backup starts, and after it ends


def _rows(engine: sa.Engine, table: sa.Table) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = sa.select(table).order_by(*table.primary_key.columns)
        return [dict(row._mapping) for row in conn.execute(query)]


class Writer(threading.Thread):
    """Casts upvotes in a fixed order (user i % 3 on paper i // 3), one transaction each,
    until told to stop; `cast` is how many committed."""

    def __init__(self, runtime: Runtime, voters: list[Any], paper_ids: list[int]) -> None:
        super().__init__(daemon=True)
        self.runtime, self.voters, self.paper_ids = runtime, voters, paper_ids
        self.cast = 0
        self.stop = threading.Event()
        self.reached = {BEFORE: threading.Event()}
        self.error: BaseException | None = None

    def sequence(self, count: int) -> list[tuple[int, int]]:
        return [(self.voters[i % 3].id, self.paper_ids[i // 3]) for i in range(count)]

    def run(self) -> None:
        try:
            while not self.stop.is_set() and self.cast < 3 * len(self.paper_ids):
                user_id, paper_id = self.sequence(self.cast + 1)[-1]
                voter = next(v for v in self.voters if v.id == user_id)
                self.runtime.discussion.upvote(voter, paper_id)
                self.cast += 1
                for mark, event in list(self.reached.items()):
                    if self.cast >= mark:
                        event.set()
        except BaseException as exc:
            self.error = exc
            for event in list(self.reached.values()):
                event.set()


@pytest.fixture
def writer(runtime: Runtime, cli: Cli, data_dir: Path) -> Iterator[Writer]:
    """200 real papers (indexed by words), three accounts, and a writer of votes."""
    lexical = Cli({**cli.env, "PAPERFEED_EMBEDDER": "none"})
    lexical("import", "snapshot", data_dir / HEAD200, "--no-progress")
    voters = [confirmed_user(runtime.accounts, f"v{i}@example.org", f"v{i}") for i in range(3)]
    with runtime.engine.connect() as conn:
        paper_ids = list(conn.execute(sa.select(papers.c.id).order_by(papers.c.id)).scalars())
    thread = Writer(runtime, voters, paper_ids)
    yield thread
    thread.stop.set()
    if thread.is_alive():
        thread.join(timeout=30)


def test_backup_under_writes_restores_the_same_catalog(
    runtime: Runtime, writer: Writer, cli: Cli, settings: Settings, tmp_path: Path
) -> None:
    if not settings.is_sqlite:
        pytest.skip("PostgreSQL catalogs are backed up with pg_dump")
    home = settings.home
    (home / "paperfeed.toml").write_text('categories = ["cs.CL"]\n')
    (home / "secrets").mkdir()
    (home / "secrets" / "server.key").write_text("not-a-real-secret\n")
    assert (home / "search").is_dir()  # the index the import built: not copied

    writer.start()
    assert writer.reached[BEFORE].wait(timeout=60) and writer.error is None
    dest = tmp_path / "backup"
    result = cli("backup", dest)
    after_backup = writer.cast
    writer.reached[after_backup + AFTER] = threading.Event()
    assert writer.reached[after_backup + AFTER].wait(timeout=60) and writer.error is None
    writer.stop.set()
    writer.join(timeout=30)
    assert "200 papers" in result.stdout

    manifest = json.loads((dest / "manifest.json").read_text())
    in_backup = manifest["counts"]["votes"]
    assert BEFORE <= in_backup <= after_backup < writer.cast
    assert manifest["counts"]["papers"] == 200 and manifest["counts"]["users"] == 3
    assert sorted(manifest["files"]) == ["paperfeed.toml", "secrets/server.key"]
    assert not (dest / "home" / "search").exists()
    assert stat.S_IMODE((dest / "catalog.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700

    fresh = tmp_path / "restored"
    restore_env = {**cli.env, "PAPERFEED_HOME": str(fresh), "PAPERFEED_EMBEDDER": "none"}
    restored_cli = Cli(restore_env)
    out = restored_cli("restore", dest).stdout
    assert "paperfeed index build" in out
    assert (fresh / "secrets" / "server.key").read_text() == "not-a-real-secret\n"
    assert (fresh / "paperfeed.toml").read_text() == 'categories = ["cs.CL"]\n'

    restored = Runtime(Settings(home=fresh, database_url=None, embedder="none"))
    try:
        # The votes are exactly the first ones the writer committed: one consistent moment.
        expected = sorted(writer.sequence(in_backup))
        assert [(v["user_id"], v["paper_id"]) for v in _rows(restored.engine, votes)] == expected
        by_vote = {(v["user_id"], v["paper_id"]): v for v in _rows(runtime.engine, votes)}
        assert _rows(restored.engine, votes) == [by_vote[key] for key in expected]
        assert _rows(restored.engine, papers) == _rows(runtime.engine, papers)
        assert _rows(restored.engine, users) == _rows(runtime.engine, users)
        assert restored.accounts.authenticate("v1@example.org", PASSWORD) is not None

        # The index is rebuilt from the catalog; search finds what it found before.
        restored_cli("index", "build", "--no-embed", "--no-progress")
        title = _rows(runtime.engine, papers)[0]["title"]
        hits = restored.search.search(title, limit=5, mode="lexical").hits
        assert _rows(runtime.engine, papers)[0]["id"] in [h.paper_id for h in hits]
    finally:
        restored.close()

    # A second restore over a catalog is refused; a backup into a used directory too.
    again = restored_cli("restore", dest, ok=False)
    assert again.exit_code != 0 and "already holds a catalog" in again.output
    used = cli("backup", dest, ok=False)
    assert used.exit_code != 0 and "not an empty directory" in used.output
    inside = cli("backup", home / "backups" / "today", ok=False)
    assert inside.exit_code != 0 and "inside the data directory" in inside.output
    assert manifest["created_at"].endswith("+00:00")


def test_backup_of_a_postgresql_catalog_says_to_use_pg_dump(
    cli: Cli, settings: Settings, tmp_path: Path
) -> None:
    if settings.is_sqlite:
        pytest.skip("the PostgreSQL leg's test")
    result = cli("backup", tmp_path / "backup", ok=False)
    assert result.exit_code != 0 and "pg_dump" in result.output
    assert not (tmp_path / "backup").exists()
