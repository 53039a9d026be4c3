"""The web app: server-rendered pages, Atom feeds and the JSON API in one ASGI app."""

from paperfeed.web.app import create_app

__all__ = ["create_app"]
