"""The ASGI entry point for uvicorn (`paperfeed serve`, or `uvicorn paperfeed.http.server:app`
behind a process manager): the app built from the environment's settings."""

from __future__ import annotations

import sys

from paperfeed.db.migrate import SchemaOutdated
from paperfeed.http.app import create_app

try:
    app = create_app()
except SchemaOutdated as exc:  # one line saying what to run, no traceback
    sys.exit(f"paperfeed: {exc}")
