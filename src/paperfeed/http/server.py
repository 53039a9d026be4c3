"""The ASGI entry point for uvicorn (`paperfeed serve`, or `uvicorn paperfeed.http.server:app`
behind a process manager): the app built from the environment's settings."""

from __future__ import annotations

from paperfeed.http.app import create_app

app = create_app()
