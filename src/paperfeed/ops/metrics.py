"""Prometheus metrics (the `prometheus-client` library), off unless PAPERFEED_METRICS_PORT is
set; then `paperfeed serve` answers `/metrics` on that port (PAPERFEED_METRICS_HOST, default
loopback), never on the public one.

Counted in the server processes: HTTP requests and their latency by route template, search
latency by stage, mail sent and failed. Each process writes its counts to files in a directory
of its own run (prometheus-client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR, set by
`paperfeed serve` before it starts its processes), and the supervising process adds them up at
each scrape. Read from the catalog at each scrape, so that what other processes and machines
did counts too (imports and harvests run as separate commands): papers, how far this data
directory's index is behind the catalog, import checkpoints and harvest progress."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from paperfeed.config import Settings
from paperfeed.db.schema import harvest_state, import_checkpoints, papers
from paperfeed.mail.service import MailConnection, Mailer, Outgoing
from paperfeed.search.follow import catalog_lag
from paperfeed.search.service import SearchResults
from paperfeed.search.store import SearchStore

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


REQUESTS = Counter(
    "paperfeed_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "paperfeed_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SEARCH_SECONDS = Histogram(
    "paperfeed_search_stage_duration_seconds",
    "Time a search spent per stage (queue, lexical, embed, vectors, fusion, fetch; total). "
    "Hybrid search embeds the query and searches the vectors beside the word search, so "
    "stages may overlap.",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
MAIL = Counter(
    "paperfeed_mail_messages", "Mail handed to the mail server (or outbox).", ["outcome"]
)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    REQUEST_SECONDS.labels(route, method).observe(seconds)


def observe_search(results: SearchResults) -> None:
    for stage, seconds in results.stages.items():
        SEARCH_SECONDS.labels(stage).observe(seconds)
    SEARCH_SECONDS.labels("total").observe(results.took_ms / 1000)


class CountingMailer:
    """A mailer that counts what it sent and what failed."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer

    def send(self, message: Outgoing) -> None:
        try:
            self.mailer.send(message)
        except Exception:
            MAIL.labels("failed").inc()
            raise
        MAIL.labels("sent").inc()

    @contextmanager
    def connect(self) -> Iterator[MailConnection]:
        with self.mailer.connect() as connection:
            yield _CountingConnection(connection)

    def describe(self) -> str:
        return self.mailer.describe()


class _CountingConnection:
    def __init__(self, connection: MailConnection) -> None:
        self.connection = connection

    def send(self, message: Outgoing) -> None:
        try:
            self.connection.send(message)
        except Exception:
            MAIL.labels("failed").inc()
            raise
        MAIL.labels("sent").inc()


def _epoch(value: dt.datetime | None) -> float:
    if value is None:
        return 0.0
    return value.replace(tzinfo=value.tzinfo or dt.UTC).timestamp()


class CatalogCollector(Collector):
    """Gauges read from the catalog and the data directory at each scrape."""

    def __init__(self, settings: Settings, engine: sa.Engine) -> None:
        self.settings = settings
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("paperfeed_catalog_up", "1 when the catalog answered the scrape.")
        try:
            found = list(self._catalog())
        except Exception:  # an unreachable catalog is what this gauge reports
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from found

    def _catalog(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
            imports = conn.execute(
                sa.select(
                    import_checkpoints.c.finished,
                    sa.func.count(),
                    sa.func.sum(import_checkpoints.c.records_done),
                    sa.func.max(import_checkpoints.c.updated_at),
                ).group_by(import_checkpoints.c.finished)
            ).all()
            harvests = conn.execute(
                sa.select(
                    harvest_state.c.set_spec,
                    harvest_state.c.pages_done,
                    harvest_state.c.updated_at,
                )
            ).all()
        yield GaugeMetricFamily("paperfeed_catalog_papers", "Papers in the catalog.", value=count)
        meta = SearchStore.current_meta(self.settings.search_dir)
        lag = catalog_lag(self.engine, meta.lexical_watermark if meta else None)
        behind = GaugeMetricFamily(
            "paperfeed_index_behind_papers",
            "Papers changed in the catalog that this data directory's index has not applied.",
            value=lag.papers,
        )
        seconds = GaugeMetricFamily(
            "paperfeed_index_behind_seconds",
            "Catalog's newest change minus the index's (NaN: empty index or catalog).",
            value=float("nan") if lag.seconds is None else lag.seconds,
        )
        yield behind
        yield seconds
        files = GaugeMetricFamily(
            "paperfeed_import_files", "Files imported (checkpoints), by state.", labels=["state"]
        )
        records = GaugeMetricFamily(
            "paperfeed_import_records",
            "Records read by imports (checkpoints), by state.",
            labels=["state"],
        )
        last = GaugeMetricFamily(
            "paperfeed_import_last_timestamp_seconds", "When an import last wrote a checkpoint."
        )
        newest = 0.0
        for finished, number, done, updated in imports:
            state = "finished" if finished else "unfinished"
            files.add_metric([state], number)
            records.add_metric([state], done or 0)
            newest = max(newest, _epoch(updated))
        last.add_metric([], newest)
        yield files
        yield records
        yield last
        pages = GaugeMetricFamily(
            "paperfeed_harvest_pages", "OAI-PMH pages harvested, by set.", labels=["set"]
        )
        harvested = GaugeMetricFamily(
            "paperfeed_harvest_last_timestamp_seconds",
            "When a harvest of the set last made progress.",
            labels=["set"],
        )
        for set_spec, done_pages, updated in harvests:
            pages.add_metric([set_spec or ""], done_pages)
            harvested.add_metric([set_spec or ""], _epoch(updated))
        yield pages
        yield harvested


class MetricsServer:
    """`/metrics` of a `paperfeed serve` run: a fresh multiprocess directory, announced to
    the server processes started after `start` through the environment, and an HTTP server
    in this process adding up their counts."""

    def __init__(self, settings: Settings, engine: sa.Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.directory: Path | None = None
        self._server: object | None = None

    def start(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="paperfeed-metrics-"))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
        registry.register(CatalogCollector(self.settings, self.engine))
        port = self.settings.metrics_port
        assert port is not None
        try:
            server, _thread = start_http_server(
                port, addr=self.settings.metrics_host, registry=registry
            )
        except OSError:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self._server, self.directory = server, directory
        os.environ[MULTIPROC_ENV] = str(directory)  # for the server processes started next

    def stop(self) -> None:
        server = self._server
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
        os.environ.pop(MULTIPROC_ENV, None)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
