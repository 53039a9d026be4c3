"""`/healthz` and `/readyz` over HTTP on the real app, and how far the index is behind the
catalog (IndexFollower.lag) on a real catalog."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.db.migrate import downgrade, head_revision
from paperfeed.db.schema import papers
from paperfeed.ops.health import readiness
from paperfeed.runtime import Runtime
from tests.support.cli import Cli
from tests.support.server import free_port, live_server


def test_healthz_and_readyz_answer_on_a_served_catalog(lexical_runtime: Runtime) -> None:
    with (
        live_server(lexical_runtime) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        health = client.get("/healthz")
        assert health.status_code == 200 and health.text == "ok\n"
        assert health.headers["cache-control"] == "no-store"
        assert client.head("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["status"] == "ready"
        checks = body["checks"]
        assert checks["catalog"]["ok"] and checks["schema"]["ok"] and checks["index"]["ok"]
        assert checks["schema"]["data"] == {"revision": head_revision(), "needed": head_revision()}
        assert checks["index"]["data"]["behind_papers"] == 0
        # Operational routes are not part of the API document, and shadow no page.
        paths = client.get("/openapi.json").json()["paths"]
        assert not {"/healthz", "/readyz"} & paths.keys()
        assert client.get("/").status_code == 200


def test_readyz_is_503_when_the_schema_is_not_current(lexical_runtime: Runtime) -> None:
    runtime = lexical_runtime
    with live_server(runtime) as server:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        # An older paperfeed's schema under a running server (e.g. a catalog restored from an
        # old backup on PostgreSQL, where servers do not upgrade it).
        downgrade(runtime.engine, "0004")
        ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unready"
    schema = body["checks"]["schema"]
    assert schema["ok"] is False and "paperfeed db upgrade" in schema["detail"]
    assert schema["data"]["revision"] == "0004"
    assert body["checks"]["catalog"]["ok"] is True


def test_readiness_reports_an_unreachable_catalog(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"postgresql+psycopg://paperfeed@127.0.0.1:{port}/paperfeed",
        embedder="none",
    )
    runtime = Runtime(settings)
    try:
        result = readiness(runtime)
    finally:
        runtime.close()
    assert not result.ready
    checks = result.as_dict()["checks"]
    assert checks["catalog"]["ok"] is False and "OperationalError" in checks["catalog"]["detail"]
    assert checks["schema"] == {"ok": False, "detail": "catalog unreachable", "data": {}}


def test_lag_counts_papers_the_index_has_not_applied(
    cli: Cli, data_dir: Path, settings: Settings
) -> None:
    cli(
        "import",
        "snapshot",
        data_dir / "arxiv/kaggle_snapshot_head200.jsonl.gz",
        "--no-progress",
        "--no-index",
    )
    runtime = Runtime(settings.model_copy(update={"embedder": "none"}))
    try:
        lag = runtime.index.lag()
        assert lag.papers == 200 and lag.seconds is None  # nothing indexed yet
        runtime.index.update(embed=False)
        assert runtime.index.lag() == type(lag)(papers=0, seconds=0.0)
        # Two papers changed in the catalog an hour after the index's watermark.
        with runtime.engine.begin() as conn:
            newest = conn.execute(sa.select(sa.func.max(papers.c.modified_at))).scalar_one()
            ids = conn.execute(sa.select(papers.c.id).order_by(papers.c.id).limit(2)).scalars()
            conn.execute(
                papers.update()
                .where(papers.c.id.in_(list(ids)))
                .values(modified_at=newest + dt.timedelta(hours=1))
            )
        assert runtime.index.lag() == type(lag)(papers=2, seconds=3600.0)
        runtime.index.update(embed=False)
        assert runtime.index.lag().papers == 0
    finally:
        runtime.close()
