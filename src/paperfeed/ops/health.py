"""Liveness and readiness, for load balancers and orchestrators (`/healthz`, `/readyz`).

Live: the process answers (nothing is checked). Ready: the catalog answers a query, its schema
is the one this paperfeed needs, and the search index opens; how far the index is behind the
catalog is reported alongside (it never makes a process unready: a node that is catching up
still answers, with slightly older search results)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from paperfeed.db.migrate import current_revision, head_revision
from paperfeed.runtime import Runtime


@dataclass
class Check:
    ok: bool
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Readiness:
    checks: dict[str, Check]
    took_ms: float

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "unready",
            "checks": {name: asdict(check) for name, check in self.checks.items()},
            "took_ms": round(self.took_ms, 1),
        }


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()


def readiness(runtime: Runtime) -> Readiness:
    """Checks the catalog, its schema and the index (each failure is reported, not raised)."""
    started = time.perf_counter()
    checks: dict[str, Check] = {}
    try:
        with runtime.reader.connect() as conn:
            conn.execute(sa.text("SELECT 1")).scalar_one()
        checks["catalog"] = Check(True, runtime.reader.dialect.name)
    except Exception as exc:  # the point is to report it
        checks["catalog"] = Check(False, _error(exc))
    if checks["catalog"].ok:
        try:
            current, head = current_revision(runtime.reader), head_revision()
            checks["schema"] = Check(
                current == head,
                "current" if current == head else "run `paperfeed db upgrade`",
                {"revision": current, "needed": head},
            )
        except Exception as exc:
            checks["schema"] = Check(False, _error(exc))
    else:
        checks["schema"] = Check(False, "catalog unreachable")
    try:
        store = runtime.index.store
        data: dict[str, Any] = {"generation": store.generation}
        if checks["catalog"].ok:
            lag = runtime.index.lag()
            data["behind_papers"] = lag.papers
            data["behind_seconds"] = lag.seconds
        checks["index"] = Check(True, "open", data)
    except Exception as exc:
        checks["index"] = Check(False, _error(exc))
    return Readiness(checks, (time.perf_counter() - started) * 1000)
