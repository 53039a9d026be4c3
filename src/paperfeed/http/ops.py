"""Operational routes, outside the API document: `/healthz` (the process answers) and
`/readyz` (catalog, schema and index; paperfeed.ops.health)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from paperfeed.http.deps import RuntimeDep
from paperfeed.ops.health import readiness

router = APIRouter(include_in_schema=False)
_NO_STORE = {"cache-control": "no-store"}


@router.api_route("/healthz", methods=["GET", "HEAD"])  # (async: not behind busy threads)
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok\n", headers=_NO_STORE)


@router.api_route("/readyz", methods=["GET", "HEAD"])
def readyz(runtime: RuntimeDep) -> JSONResponse:
    """200 when ready, 503 (with what failed) when not."""
    result = readiness(runtime)
    return JSONResponse(
        result.as_dict(), status_code=200 if result.ready else 503, headers=_NO_STORE
    )
