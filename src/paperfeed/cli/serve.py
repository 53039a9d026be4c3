"""`paperfeed serve`: the web app and API."""

from __future__ import annotations

import logging
import socket
from typing import Any

import click

from paperfeed.cli.context import pass_runtime
from paperfeed.runtime import Runtime


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (each loads the search index and the embedding model); each "
    "listens on its own socket on the port, and the kernel spreads connections over them.",
)
@pass_runtime
def serve(runtime: Runtime, host: str, port: int, workers: int) -> None:
    """Run the web app (daily papers, trending, search, accounts) and the JSON API.

    Pages at http://HOST:PORT/, API docs at /docs. Several processes (--workers, or several
    machines on one PostgreSQL catalog) share everything through the database."""
    import uvicorn

    from paperfeed.http.workers import APP, SERVER_OPTIONS, PortUnavailable, serve_workers

    count = runtime.catalog.count()
    click.echo(
        f"paperfeed: {count:,} papers in {runtime.settings.home}; mail: "
        f"{runtime.mailer.describe()}",
        err=True,
    )
    if count == 0:
        click.echo(
            "paperfeed: the catalog is empty. Import papers, e.g.\n"
            "  paperfeed harvest                      (online: recent arXiv papers)\n"
            "  paperfeed import hf-daily daily_papers.json\n"
            "  paperfeed import snapshot arxiv-metadata-oai-snapshot.json.gz",
            err=True,
        )
    click.echo(f"paperfeed: serving on http://{host}:{port}/ (Ctrl-C stops)", err=True)
    runtime.close()
    options: dict[str, Any] = {"log_level": "info", "access_log": False, **SERVER_OPTIONS}
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):  # (not on Windows)
        uvicorn.run(APP, host=host, port=port, workers=workers, **options)
        return
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    try:
        serve_workers(host, port, workers, options)
    except PortUnavailable as exc:
        raise click.ClickException(str(exc)) from None
