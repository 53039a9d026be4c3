"""A throwaway PostgreSQL cluster for the benchmarks (scripts/pg-cluster), one fresh database
per measured run."""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from bench.common import REPO
from paperfeed.db.migrate import upgrade

PG_CLUSTER = REPO / "scripts" / "pg-cluster"


def available() -> bool:
    if os.environ.get("PAPERFEED_BENCH_DATABASE_URL"):
        return True
    return subprocess.run([PG_CLUSTER, "available"], check=False).returncode == 0


class Server:
    """`PAPERFEED_BENCH_DATABASE_URL` (a server URL) when set, else a throwaway cluster with
    PostgreSQL's default durability settings."""

    def __init__(self) -> None:
        self.url = os.environ.get("PAPERFEED_BENCH_DATABASE_URL") or ""
        self.cluster: Path | None = None

    def __enter__(self) -> Server:
        if not self.url:
            parent = os.environ.get("PAPERFEED_PG_TMP") or "/tmp"
            self.cluster = Path(tempfile.mkdtemp(prefix="paperfeed-bench-pg.", dir=parent))
            self.cluster.rmdir()  # pg-cluster wants to create it (empty) itself
            started = subprocess.run(
                [PG_CLUSTER, "start", str(self.cluster)],
                check=True,
                capture_output=True,
                text=True,
            )
            self.url = started.stdout.strip().splitlines()[-1]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.cluster is not None:
            subprocess.run([PG_CLUSTER, "stop", str(self.cluster)], check=False)

    @contextmanager
    def database(self) -> Iterator[tuple[str, sa.Engine]]:
        """A new database with the current schema and no papers: its URL and an admin
        engine (for sizes), dropped afterwards."""
        name = f"pf_bench_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.make_url(self.url).set(database=name).render_as_string(hide_password=False)
        try:
            # Only `paperfeed db upgrade` migrates a PostgreSQL catalog (the same function).
            fresh = sa.create_engine(url)
            upgrade(fresh)
            fresh.dispose()
            yield url, admin
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

    @staticmethod
    def database_size(admin: sa.Engine, url: str) -> int:
        name = sa.make_url(url).database
        with admin.connect() as conn:
            size = conn.execute(sa.text("SELECT pg_database_size(:n)"), {"n": name}).scalar()
        return int(size or 0)
