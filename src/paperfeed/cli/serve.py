"""`paperfeed serve`: the web app and API."""

from __future__ import annotations

import logging.config
import socket
from typing import TYPE_CHECKING, Any

import click

from paperfeed.cli.context import pass_runtime
from paperfeed.runtime import Runtime

if TYPE_CHECKING:
    from paperfeed.digest.schedule import DigestSchedule

log = logging.getLogger("paperfeed.serve")


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

    Pages at http://HOST:PORT/, API docs at /docs, health checks at /healthz and /readyz.
    Several processes (--workers, or several machines on one PostgreSQL catalog) share
    everything through the database. Logs, with one line per request, go to standard error
    (PAPERFEED_LOG_FORMAT=json for log collectors); PAPERFEED_METRICS_PORT serves Prometheus
    metrics on a port of its own. Behind a reverse proxy, PAPERFEED_TRUSTED_PROXIES names it:
    only its X-Forwarded-For and X-Forwarded-Proto are believed. The digests go out at
    PAPERFEED_DIGEST_SEND_TIME in PAPERFEED_DIGEST_TIMEZONE (PAPERFEED_DIGEST_SCHEDULE=false:
    not from here)."""

    from paperfeed.http.workers import SERVER_OPTIONS
    from paperfeed.ops.logs import log_config

    count = runtime.catalog.count()  # (first: an outdated schema stops here, in one line)
    mail = runtime.mailer.describe()
    # One format for everything the server prints (PAPERFEED_LOG_FORMAT); the app writes the
    # access log itself (PAPERFEED_ACCESS_LOG), so uvicorn's is off.
    logging_config = log_config(runtime.settings.log_format)
    logging.config.dictConfig(logging_config)
    log.info("paperfeed: %s papers in %s; mail: %s", f"{count:,}", runtime.settings.home, mail)
    if count == 0:
        log.info(
            "paperfeed: the catalog is empty. Import papers, e.g.\n"
            "  paperfeed harvest                      (online: recent arXiv papers)\n"
            "  paperfeed import hf-daily daily_papers.json\n"
            "  paperfeed import snapshot arxiv-metadata-oai-snapshot.json.gz"
        )
    log.info("paperfeed: serving on http://%s:%s/ (Ctrl-C stops)", host, port)
    runtime.close()
    options: dict[str, Any] = {
        "log_level": "info",
        "access_log": False,
        "log_config": logging_config,
        **SERVER_OPTIONS,  # no forwarded headers unless PAPERFEED_TRUSTED_PROXIES (http/app.py)
    }
    schedule = _digest_schedule(runtime)
    try:
        _serve(runtime, host, port, workers, options)
    finally:
        if schedule is not None:
            schedule.stop()


def _digest_schedule(runtime: Runtime) -> DigestSchedule | None:
    """The digests go out from this process on the schedule (PAPERFEED_DIGEST_SCHEDULE);
    with several processes or nodes the sender lock lets one of them send."""
    settings = runtime.settings
    if not settings.digest_schedule:
        return None
    from paperfeed.digest.schedule import DigestSchedule

    own = Runtime(settings, clock=runtime.clock)  # (the one above is closed: a fresh pool)
    schedule = DigestSchedule(
        own.digest_sender,
        send_time=settings.digest_send_time,
        timezone=settings.digest_timezone,
        clock=runtime.clock,
    )
    schedule.on_stop = own.close
    schedule.start()
    log.info(
        "paperfeed: digests at %s %s (%s)",
        settings.digest_send_time,
        settings.digest_timezone,
        own.mailer.describe(),
    )
    return schedule


def _serve(runtime: Runtime, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    import uvicorn

    from paperfeed.http.workers import APP

    if not runtime.settings.metrics_enabled:
        if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):  # (not on Windows)
            uvicorn.run(APP, host=host, port=port, workers=workers, **options)
            return
        _serve_workers(host, port, workers, options)
        return
    # Metrics: the server processes (started fresh, also for one) count into files of a
    # directory of this run; this process serves /metrics on its own port (ops/metrics.py).
    from paperfeed.ops.metrics import MetricsServer

    metrics = MetricsServer(runtime.settings, runtime.reader)
    try:
        metrics.start()
    except OSError as exc:
        address = f"{runtime.settings.metrics_host}:{runtime.settings.metrics_port}"
        raise click.ClickException(f"cannot serve metrics on {address}: {exc.strerror}") from None
    log.info(
        "paperfeed: metrics on http://%s:%s/metrics",
        runtime.settings.metrics_host,
        runtime.settings.metrics_port,
    )
    try:
        _serve_workers(host, port, workers, options)
    finally:
        metrics.stop()
        runtime.close()


def _serve_workers(host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    from paperfeed.http.workers import PortUnavailable, serve_workers

    try:
        serve_workers(host, port, workers, options)
    except PortUnavailable as exc:
        raise click.ClickException(str(exc)) from None
