"""Backups of a data directory whose catalog is SQLite, taken while servers run, and their
restore into a fresh data directory (`paperfeed backup DEST`, `paperfeed restore SOURCE`).

A backup is a directory:

    catalog.sqlite3   the catalog, copied with SQLite's online backup API in one step: one
                      read transaction, so the copy is the catalog as of one commit, while
                      writers go on (WAL mode: a reader does not block them)
    home/             the rest of the data directory (the config file, secrets, the mail
                      outbox), but not what is rebuilt from the catalog: the search index
                      (`search/`, rebuilt by `paperfeed index build` from the catalog's rows
                      and its stored embeddings) and the model cache (`models/`)
    config.toml       the config file, when PAPERFEED_CONFIG names one outside the data
                      directory
    settings.env      the PAPERFEED_* environment variables the backup was taken with
    manifest.json     what was copied: version, schema revision, counts, the embedding model

A backup holds password hashes, sessions and API tokens, like the catalog: it is written
readable by its owner only. A PostgreSQL catalog is backed up with pg_dump (README)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from paperfeed import __version__
from paperfeed.config import Settings, config_file, environment_settings

CATALOG = "catalog.sqlite3"
HOME = "home"
CONFIG = "config.toml"
ENVIRONMENT = "settings.env"
MANIFEST = "manifest.json"
# Rebuilt from the catalog (or a cache), so not copied: the index and the model cache; the
# catalog itself is copied by the backup API, never as a file (its WAL and lock files neither).
NOT_COPIED = frozenset({"search", "models", CATALOG, f"{CATALOG}-wal", f"{CATALOG}-shm"})
NOT_COPIED_SUFFIXES = (f"{CATALOG}-journal",)
COUNTED = ("papers", "paper_embeddings", "users", "votes", "comments", "subscriptions")
# Environment variables that name this machine's paths rather than settings to carry over.
NOT_RECORDED = frozenset({"PAPERFEED_HOME", "PAPERFEED_CONFIG"})
BUSY_MS = 30_000


class BackupError(RuntimeError):
    """A backup or restore that cannot be made; the message says why, in one line."""


@dataclass
class Manifest:
    paperfeed: str
    created_at: str
    source_home: str
    schema_revision: str | None
    embedder: str
    counts: dict[str, int]
    files: list[str] = field(default_factory=list)
    config_file: str | None = None

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise BackupError(
                f"{directory} is not a paperfeed backup ({MANIFEST}: {exc})"
            ) from None


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}{'?mode=ro' if readonly else ''}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    return conn


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {
        t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
        for t in COUNTED
        if t in tables
    }


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    return str(row[0]) if row else None


def _home_files(home: Path) -> Iterator[Path]:
    """Files of the data directory a backup copies (relative paths), sorted."""
    for root, dirs, files in os.walk(home):
        here = Path(root)
        if here == home:
            dirs[:] = [d for d in dirs if d not in NOT_COPIED]
        dirs.sort()
        for name in sorted(files):
            if here == home and (name in NOT_COPIED or name.endswith(NOT_COPIED_SUFFIXES)):
                continue
            yield (here / name).relative_to(home)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # (naive: UTC)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def backup(
    settings: Settings,
    dest: Path,
    *,
    environ: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> Manifest:
    """Copies the catalog (consistently, while servers write to it) and the data directory's
    other files to `dest`, a directory outside the data directory that must not exist yet or
    be empty. `now`: the time the manifest records (default: the wall clock)."""
    if not settings.is_sqlite:
        raise BackupError("the catalog is on PostgreSQL: back it up with pg_dump (README, Backups)")
    source = settings.sqlite_path
    if not source.is_file():
        raise BackupError(f"no catalog at {source}")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty directory")
    if dest.resolve().is_relative_to(settings.home.resolve()):
        raise BackupError(f"{dest} is inside the data directory: back up to another place")
    _private_dir(dest)
    partial = dest / f"{CATALOG}.partial"
    with (
        contextlib.closing(_connect(source)) as src,
        contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as out,
    ):
        # pages=-1: every page in one step, within one read transaction of the source.
        src.backup(out, pages=-1)
        counts, revision = _counts(out), _revision(out)
    os.chmod(partial, 0o600)
    os.replace(partial, dest / CATALOG)

    home = settings.home
    files = [str(p) for p in _home_files(home)]
    for relative in files:
        target = dest / HOME / relative
        _private_dir(target.parent)
        shutil.copy2(home / relative, target)
    config_path, copied_config = config_file(), None
    if config_path.is_file() and not config_path.resolve().is_relative_to(home.resolve()):
        shutil.copy2(config_path, dest / CONFIG)
        copied_config = str(config_path)
    environment = environ if environ is not None else environment_settings()
    lines = [
        f"{name}={value}"
        for name, value in sorted(environment.items())
        if name.startswith("PAPERFEED_") and name not in NOT_RECORDED
    ]
    (dest / ENVIRONMENT).write_text("".join(f"{line}\n" for line in lines))
    os.chmod(dest / ENVIRONMENT, 0o600)
    manifest = Manifest(
        paperfeed=__version__,
        created_at=_utc(now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        source_home=str(home),
        schema_revision=revision,
        embedder=settings.embedder,
        counts=counts,
        files=files,
        config_file=copied_config,
    )
    (dest / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def restore(settings: Settings, source: Path) -> Manifest:
    """Puts a backup into the data directory of `settings`, which must hold no catalog yet.
    The search index is not restored: `paperfeed index build` (or a server, which follows
    the catalog by itself) makes it from the catalog."""
    manifest = Manifest.read(source)
    if not settings.is_sqlite:
        raise BackupError(
            "the configured catalog is on PostgreSQL: restore a PostgreSQL catalog with "
            "pg_restore (README, Backups); unset PAPERFEED_DATABASE_URL to restore this backup"
        )
    catalog = source / CATALOG
    if not catalog.is_file():
        raise BackupError(f"{source} has no {CATALOG}")
    target = settings.sqlite_path
    if target.exists():
        raise BackupError(
            f"{settings.home} already holds a catalog: restore into a new data directory "
            "(PAPERFEED_HOME)"
        )
    home = settings.home
    _private_dir(home)
    partial = home / f"{CATALOG}.partial"
    with (
        contextlib.closing(_connect(catalog, readonly=True)) as src,
        contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as out,
    ):
        src.backup(out, pages=-1)
        problems = out.execute("PRAGMA quick_check").fetchall()
        counts = _counts(out)
    if problems != [("ok",)] or counts != manifest.counts:
        partial.unlink()
        raise BackupError(
            f"the backup's catalog is damaged (quick_check: {problems[:3]}, "
            f"counts {counts} where the manifest says {manifest.counts})"
        )
    for relative in manifest.files:
        origin, copy = source / HOME / relative, home / relative
        if not copy.exists():  # (the fresh directory's own files are kept)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, copy)
    os.chmod(partial, 0o600)
    os.replace(partial, target)
    return manifest
