"""The ASGI entry point for uvicorn (`paperfeed serve`, or `uvicorn paperfeed.web.server:app`
behind a process manager): the app built from the environment's settings."""

from __future__ import annotations

from paperfeed.web.app import create_app

app = create_app()
