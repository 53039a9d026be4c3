"""How a data directory's search index follows the catalog: the one place that decides.

The catalog (SQLite or PostgreSQL) is the truth; each data directory holds a search index
derived from it (`SearchStore`). Several processes, and on PostgreSQL several machines, each
with its own data directory, write to one catalog. `IndexFollower` brings one data
directory's index up to date:

* after an import or harvest (`after_import`, the CLI): papers are searchable by words at once,
  and embedded too when that takes at most `INLINE_EMBED_SECONDS`;
* after a change made by a serving process, e.g. a submission (`after_catalog_change`): the
  same, off the request path;
* in every serving process (`start`, a background thread): every `POLL_SECONDS` a cheap query
  asks whether the catalog changed beyond what the local index applied (papers by
  `modified_at`, embeddings by `updated_at`), and applies that: documents from the catalog
  rows, vectors from `paper_embeddings`. A serving process never embeds what it did not
  change itself: the node that imported or changed a paper embeds it and writes the vector
  into the catalog, and every other node reads it from there;
* `paperfeed index update/build/check` (`update`, `rebuild`, `check`);
* an index written before papers' terms were stored (search/terms.py) gets them filled in:
  by `paperfeed index update` at once (with progress), by a serving process TERMS_PER_POLL
  papers at each poll;
* after each poll the same thread runs the serving process's other background work given to
  it with `also` (For you's candidates' pool made ahead of the readers: ForYouService.warm),
  so that it follows the index it depends on, and no second scheduler is needed.

One process at a time writes a data directory's index (`IndexWriterLock`, a file lock);
other processes on the same directory only re-read what it wrote (`SearchStore.refreshed`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from paperfeed.clock import Clock, utcnow
from paperfeed.db.schema import paper_embeddings, papers
from paperfeed.papers.predicted_categories import CategoryPredictor
from paperfeed.progress import Progress
from paperfeed.search.embedder import Embedder
from paperfeed.search.indexer import OVERLAP, Indexer, IndexReport, newest_change, recent_count
from paperfeed.search.store import SearchStore

log = logging.getLogger(__name__)

# Embed new papers right after an import or a submission when that takes at most this long
# with the configured model (2,400 papers with MiniLM on 2 cores); a larger backlog is left
# to `paperfeed index update`.
INLINE_EMBED_SECONDS = 20
POLL_SECONDS = 1.0  # how often a serving process asks the catalog for changes
VECTOR_SECONDS = 5.0  # at most this often it reloads vectors (saving the graph is not free)
DELETION_SECONDS = 300.0  # and this often it looks for papers deleted from the catalog
TERMS_PER_POLL = 500  # papers' terms stored per poll while an old index is filled in (~0.2 s)
_LOCK_FILE = "writer.lock"


class IndexWriterLock:
    """One writer of a data directory's index at a time: a file lock between processes
    (released by the kernel when a process dies), a mutex between threads."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / _LOCK_FILE
        self._threads = threading.Lock()

    @contextlib.contextmanager
    def hold(self, *, wait: bool) -> Iterator[bool]:
        """Yields True holding the lock, or False (only when not `wait`) when another
        thread or process holds it."""
        if not self._threads.acquire(blocking=wait):
            yield False
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                except BlockingIOError:
                    yield False
                    return
                try:
                    yield True
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            self._threads.release()


@dataclass
class CatchUp:
    """What `after_import` did: the report, and how many papers are left to embed (and about
    how long that takes with the configured model)."""

    report: IndexReport
    pending: int = 0
    pending_seconds: float = 0.0


@dataclass
class FollowStats:
    """What this process's follower applied (since it started)."""

    polls: int = 0
    lexical: int = 0
    vectors: int = 0
    removed: int = 0
    embedded: int = 0  # by `after_catalog_change` only: the poller never embeds
    terms: int = 0  # papers' terms stored while filling in an index written before them


@dataclass(frozen=True)
class IndexLag:
    """How far this process's view of the index is behind the catalog: papers changed in the
    catalog after the index's watermark, and the time between the catalog's newest change and
    the watermark (0 when up to date; None when the catalog or the index is empty)."""

    papers: int
    seconds: float | None


def catalog_lag(engine: sa.Engine, watermark: str | None) -> IndexLag:
    """How far an index whose lexical watermark is `watermark` is behind the catalog (two
    cheap queries on `papers.modified_at`, which is indexed)."""
    since = dt.datetime.fromisoformat(watermark) if watermark else None
    with engine.connect() as conn:
        newest = newest_change(conn)
        if newest is None:
            return IndexLag(papers=0, seconds=None)
        query = sa.select(sa.func.count()).select_from(papers)
        if since is not None:
            query = query.where(papers.c.modified_at > since)
        behind = int(conn.execute(query).scalar_one())
    if since is None:  # nothing indexed yet
        return IndexLag(papers=behind, seconds=None)
    return IndexLag(papers=behind, seconds=max(0.0, (newest - since).total_seconds()))


class IndexFollower:
    """The search index of one data directory, following the catalog (see the module)."""

    def __init__(
        self,
        engine: Callable[[], sa.Engine],
        directory: Path,
        embedder: Callable[[], Embedder | None],
        *,
        embedder_configured: bool = True,
        clock: Clock = utcnow,
    ) -> None:
        self._engine = engine
        self._clock = clock  # (the catalog's writers stamp modified_at by the same clock)
        self.directory = directory
        self._embedder = embedder
        self.embedder_configured = embedder_configured
        self.lock = IndexWriterLock(directory)
        self.stats = FollowStats()
        self._store: SearchStore | None = None
        self._store_lock = threading.Lock()
        # What this process indexed within the watermarks' overlap (see Indexer.update_lexical).
        self._applied_papers: dict[int, dt.datetime] = {}
        self._applied_vectors: dict[int, dt.datetime] = {}
        self._recent: int | None = None  # papers within the overlap when last applied
        self._vectors_at = 0.0
        self._deletions_at = 0.0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._tasks: list[Callable[[], None]] = []  # run after each poll (`also`)
        self._failing_tasks: set[int] = set()

    # -- the local index -------------------------------------------------------------------------

    @property
    def store(self) -> SearchStore:
        """The current generation of this data directory's index (opened on first use)."""
        with self._store_lock:
            if self._store is None:
                self._store = SearchStore.open(self.directory)
            return self._store

    def use(self, store: SearchStore) -> None:
        """Serve from `store` from now on (a rebuild swapped in a new generation)."""
        with self._store_lock:
            self._store = store
        self._applied_papers.clear()
        self._applied_vectors.clear()
        self._recent = None

    def refresh(self) -> SearchStore:
        """This process's view brought up to what other processes wrote to the directory."""
        with self._store_lock:
            store = self._store
        if store is None:
            return self.store
        fresh = store.refreshed()
        if fresh is not store:
            self.use(fresh)
        return fresh

    def indexer(
        self,
        store: SearchStore | None = None,
        *,
        progress: Progress | None = None,
        terms: bool = True,
    ) -> Indexer:
        return Indexer(
            self._engine(), store or self.store, self._embedder(), progress=progress, terms=terms
        )

    # -- commands ------------------------------------------------------------------------------

    def update(self, *, embed: bool = True, progress: Progress | None = None) -> IndexReport:
        """`paperfeed index update`: everything the catalog changed, embedded too (`embed`)."""
        with self.lock.hold(wait=True):
            self.refresh()
            indexer = self.indexer(progress=progress)
            report = indexer.update(embed=embed)
            if embed:
                self._predict_categories(indexer)
            return report

    def rebuild(
        self, *, embed: bool = True, progress: Progress | None = None
    ) -> tuple[SearchStore, IndexReport]:
        """`paperfeed index build`: the whole index into a new generation, swapped in through
        CURRENT (other processes on the directory switch to it when they next refresh)."""
        with self.lock.hold(wait=True):
            store = SearchStore.new_generation(self.directory)
            report = self.indexer(store, progress=progress).update(embed=embed)
            store.activate()
            self.use(store)
            return store, report

    def check(self, *, repair: bool = True, progress: Progress | None = None) -> IndexReport:
        """`paperfeed index check`: drift between the catalog and the index, repaired."""
        with self.lock.hold(wait=True):
            self.refresh()
            return self.indexer(progress=progress).check(repair=repair)

    # -- after a change to the catalog -----------------------------------------------------------

    def after_import(self, *, progress: Progress | None = None) -> CatchUp:
        """Index what an import, harvest or submission changed: searchable by words at once,
        by meaning too when embedding the new papers takes at most INLINE_EMBED_SECONDS."""
        with self.lock.hold(wait=True):
            self.refresh()
            indexer = self.indexer(progress=progress)
            result = CatchUp(IndexReport(lexical=indexer.update_lexical(self._applied_papers)))
            pending = indexer.pending_embeddings() if self.embedder_configured else 0
            embedder = self._embedder() if pending else None
            rate = embedder.documents_per_second if embedder is not None else 1.0
            if 0 < pending <= rate * INLINE_EMBED_SECONDS:
                result.report.embedded = indexer.update_embeddings()
                pending = 0
                self._predict_categories(indexer)
            if self.embedder_configured and self._embedder() is not None:
                result.report.vectors = indexer.update_vectors(self._applied_vectors)
            result.pending, result.pending_seconds = pending, pending / rate
            self.stats.embedded += result.report.embedded
            return result

    def _predict_categories(self, indexer: Indexer) -> None:
        """Papers without categories that have a vector now get their neighbours' categories
        (papers/predicted_categories.py), and the word index learns them."""
        embedder = self._embedder()
        if embedder is None:
            return
        outcome = CategoryPredictor(self._engine()).predict(embedder.name, embedder.dim)
        if outcome.predicted:
            indexer.update_lexical(self._applied_papers)
            indexer.update_embeddings()  # the same texts: only re-stamped

    def after_catalog_change(self) -> None:
        """`after_import` off the request path (e.g. a paper fetched for a submission)."""

        def work() -> None:
            try:
                self.after_import()
            except Exception:
                log.warning("indexing after a catalog change failed", exc_info=True)

        threading.Thread(target=work, name="paperfeed-index", daemon=True).start()

    # -- following the catalog in a serving process ------------------------------------------

    def start(self) -> None:
        """Follow the catalog in a background thread, from now until `stop` (idempotent and
        cheap: the web app calls it on every request)."""
        if self._thread is not None:
            return
        with self._store_lock:
            if self._thread is not None or self._stop.is_set():
                return
            thread = threading.Thread(target=self._run, name="paperfeed-follow", daemon=True)
            self._thread = thread
        thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)

    def also(self, task: Callable[[], None]) -> None:
        """Run `task` in the following thread after each poll (the same task once however
        often given). It must be cheap when there is nothing to do; a failure is logged (once
        until it succeeds again) and does not stop the others."""
        with self._store_lock:
            if task not in self._tasks:
                self._tasks.append(task)

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.poll()
                failing = False
            except Exception:
                if not failing:  # once per outage, not every second
                    log.warning("following the catalog failed; retrying", exc_info=True)
                failing = True
            self.run_tasks()
            self._stop.wait(POLL_SECONDS)

    def run_tasks(self) -> None:
        """The tasks given with `also`, in order (what the following thread does after each
        poll)."""
        with self._store_lock:
            tasks = list(self._tasks)
        for n, task in enumerate(tasks):
            if self._stop.is_set():
                return
            try:
                task()
                self._failing_tasks.discard(n)
            except Exception:
                if n not in self._failing_tasks:
                    log.warning("a background task after following failed", exc_info=True)
                self._failing_tasks.add(n)

    def poll(self) -> bool:
        """Apply what the catalog changed beyond this index, if anything; True when this
        process applied something. Another process writing the directory's index: only
        re-read what it wrote. Papers come first: loading the model (for the vectors) must
        not hold up what is searchable by words."""
        self.stats.polls += 1
        engine = self._engine()
        applied = False
        if self._papers_due(engine, self.refresh()):
            with self.lock.hold(wait=False) as mine:
                if mine:
                    store = self.refresh()
                    indexer = Indexer(engine, store, None)  # words: no need for the model
                    self.stats.lexical += indexer.update_lexical(self._applied_papers)
                    self._recent = store.meta.lexical_recent
                    applied = True
        if self.refresh().terms.filled_through() is not None:
            with self.lock.hold(wait=False) as mine:
                if mine:
                    indexer = Indexer(engine, self.refresh(), None)
                    self.stats.terms += indexer.update_terms(limit=TERMS_PER_POLL)
                    applied = True
        if self._vectors_due(engine, self.refresh()):
            with self.lock.hold(wait=False) as mine:
                if mine:
                    indexer = self.indexer(self.refresh())
                    self.stats.vectors += indexer.update_vectors(self._applied_vectors)
                    self._vectors_at = time.monotonic()
                    applied = True
        if time.monotonic() - self._deletions_at >= DELETION_SECONDS:
            with self.lock.hold(wait=False) as mine:
                if mine:
                    indexer = Indexer(engine, self.refresh(), None)
                    self.stats.removed += indexer.remove_deleted()
                    self._deletions_at = time.monotonic()
                    applied = True
        return applied

    def lag(self) -> IndexLag:
        """How far the index this process serves is behind the catalog (for `/readyz`)."""
        return catalog_lag(self._engine(), self.store.meta.lexical_watermark)

    def _papers_due(self, engine: sa.Engine, store: SearchStore) -> bool:
        watermark = store.meta.lexical_watermark
        with engine.connect() as conn:
            newest = newest_change(conn)
        if newest is None:
            return False
        if watermark is None or newest.isoformat() > watermark:
            return True
        # A transaction that committed late, with an older modified_at than the watermark
        # (PostgreSQL: concurrent writers): the count within the overlap changes. A late
        # commit is stamped at most OVERLAP before it commits, so once the watermark is older
        # than twice that (the writers' clocks given as much again) none can come: the count,
        # which reads every paper within the overlap (17 ms a poll after a million-paper
        # import), is no longer asked.
        if self._recent is not None and (
            self._clock() - dt.datetime.fromisoformat(watermark) > 2 * OVERLAP
        ):
            return False
        recent = recent_count(engine, store.meta.lexical_watermark)
        if self._recent is None and recent == store.meta.lexical_recent:
            # A process that starts: nothing changed since the index last took the catalog's
            # changes (this process or another on the directory), so the overlap is not read.
            self._recent = recent
            return False
        return recent != self._recent

    def _vectors_due(self, engine: sa.Engine, store: SearchStore) -> bool:
        if not self.embedder_configured:
            return False
        if time.monotonic() - self._vectors_at < VECTOR_SECONDS:
            return False
        e = paper_embeddings
        with engine.connect() as conn:  # none at all: no need to load the model to know
            if conn.execute(sa.select(e.c.paper_id).limit(1)).first() is None:
                return False
        embedder = self._embedder()
        if embedder is None:
            return False
        with engine.connect() as conn:
            newest = conn.execute(
                sa.select(sa.func.max(e.c.updated_at)).where(e.c.model == embedder.name)
            ).scalar()
        if newest is None:
            return False
        meta = store.meta
        if meta.model != embedder.name or meta.vector_watermark is None:
            return True
        return bool(newest.isoformat() > meta.vector_watermark)
