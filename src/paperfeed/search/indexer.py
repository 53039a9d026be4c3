"""Keeps the search index following the catalog: incremental updates, full rebuilds into a
new generation, embedding of new or changed papers, each paper's terms for "For you"
(search/terms.py: stored with the paper's words), and a drift check with repair."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from paperfeed.clock import utcnow
from paperfeed.db.schema import paper_embeddings, papers
from paperfeed.progress import Progress, ProgressEvent
from paperfeed.search.embedder import Embedder, document_text
from paperfeed.search.lexical import IndexDocument
from paperfeed.search.store import SearchStore
from paperfeed.search.terms import microseconds, paper_terms

# Re-read this much before a watermark: concurrent writers on PostgreSQL may commit rows whose
# modified_at is slightly older than rows already seen. Re-indexing is idempotent.
OVERLAP = dt.timedelta(minutes=5)
_PAGE = 2000
EMBED_BATCH = 256


@dataclass
class IndexReport:
    lexical: int = 0
    embedded: int = 0
    vectors: int = 0
    removed: int = 0
    terms: int = 0  # papers whose terms were stored by the backfill (update_terms)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        line = (
            f"indexed {self.lexical:,} papers, embedded {self.embedded:,}, "
            f"{self.vectors:,} vectors updated, {self.removed:,} removed"
        )
        if self.terms:
            line += f"; terms of {self.terms:,} papers stored for recommendations"
        return line


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def overlap_start(watermark: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(watermark) - OVERLAP if watermark else None


def newest_change(conn: sa.Connection) -> dt.datetime | None:
    """The catalog's newest `modified_at` (None: no papers; an indexed query)."""
    newest: dt.datetime | None = conn.execute(sa.select(sa.func.max(papers.c.modified_at))).scalar()
    return newest


def count_changed(engine: sa.Engine, since: dt.datetime | None) -> int:
    """How many papers changed since `since` (None: all of them)."""
    query = sa.select(sa.func.count()).select_from(papers)
    if since is not None:
        query = query.where(papers.c.modified_at >= since)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def recent_count(engine: sa.Engine, watermark: str | None) -> int | None:
    """How many papers changed within the overlap before a lexical watermark (None without
    one): a change of it means a late commit (search/follow.py)."""
    since = overlap_start(watermark)
    return None if since is None else count_changed(engine, since)


def _later(watermark: str | None, stamp: str) -> str:
    """The later of a watermark and a row's time (ISO timestamps)."""
    if watermark is None:
        return stamp
    return max(watermark, stamp, key=dt.datetime.fromisoformat)


_DOCUMENT_COLUMNS = (
    papers.c.id,
    papers.c.title,
    papers.c.abstract,
    papers.c.authors,
    papers.c.categories,
    papers.c.submitted_at,
    papers.c.modified_at,
)


def _document(row: Any) -> IndexDocument:
    return IndexDocument(
        paper_id=row.id,
        title=row.title,
        abstract=row.abstract or "",
        authors=[a["name"] for a in row.authors],
        categories=row.categories,
        submitted=row.submitted_at.date() if row.submitted_at else None,
    )


class Indexer:
    def __init__(
        self,
        engine: sa.Engine,
        store: SearchStore,
        embedder: Embedder | None,
        *,
        progress: Progress | None = None,
        terms: bool = True,
    ) -> None:
        self.engine = engine
        self.store = store
        self.embedder = embedder
        self.progress = progress
        # Each paper's terms for recommendations (off for a throwaway index: `eval beir`).
        self.terms = terms

    def _report(self, stage: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(ProgressEvent(task=stage, done=done, total=total, unit="papers"))

    # -- lexical -----------------------------------------------------------------------------

    def _changed_papers(self, since: dt.datetime | None) -> Iterator[list[Any]]:
        """Pages of (id, modified_at) of the papers changed since `since`, oldest first."""
        last: tuple[dt.datetime, int] | None = None
        while True:  # keyset pagination: bounded memory on any catalog size
            query = (
                sa.select(papers.c.id, papers.c.modified_at)
                .order_by(papers.c.modified_at, papers.c.id)
                .limit(_PAGE)
            )
            if last is not None:
                query = query.where(sa.tuple_(papers.c.modified_at, papers.c.id) > last)
            elif since is not None:
                query = query.where(papers.c.modified_at >= since)
            with self.engine.connect() as conn:
                rows = list(conn.execute(query).all())
            if not rows:
                return
            yield rows
            last = (rows[-1].modified_at, rows[-1].id)

    def _documents(self, paper_ids: Sequence[int]) -> list[Any]:
        """The catalog rows of those papers that exist, with what the word index holds."""
        if not paper_ids:
            return []
        with self.engine.connect() as conn:
            return list(
                conn.execute(sa.select(*_DOCUMENT_COLUMNS).where(papers.c.id.in_(paper_ids)))
            )

    def _not_held(
        self, page: Sequence[Any], applied: dict[int, dt.datetime] | None, *, ask: bool
    ) -> list[Any]:
        """The rows the word index does not hold at their catalog time: neither indexed by
        this process within the overlap (`applied`) nor, when `ask`, committed with their
        terms (the term store commits a paper's terms only after the word index has committed
        it; a first build, with no watermark yet, has committed nothing to ask about)."""
        rows = list(page)
        if applied is not None:
            rows = [r for r in rows if applied.get(r.id) != r.modified_at]
        if rows and ask and self.terms:
            held = self.store.terms.versions([r.id for r in rows])
            rows = [
                r for r in rows if (v := held.get(r.id)) is None or v != microseconds(r.modified_at)
            ]
        return rows

    def update_lexical(self, applied: dict[int, dt.datetime] | None = None) -> int:
        """Index papers changed since the lexical watermark; the number indexed.

        The papers changed in the overlap before the watermark are read again (late commits),
        but only those the index does not hold at their catalog time are indexed: a process
        that starts again after a bulk import does not index its last minutes again.
        `applied` (kept by a process that updates often, see `paperfeed.search.follow`): the
        `modified_at` of each paper this process indexed within the overlap, so that polling
        every second skips them without asking the term store (or with terms off); it is
        pruned to the overlap."""
        meta = self.store.meta
        since = overlap_start(meta.lexical_watermark)
        total = count_changed(self.engine, since) if self.progress is not None else None
        # The count within the overlap is taken before the papers are read, at the watermark
        # they will reach if no paper comes meanwhile: a commit after the count, late or not,
        # then changes it (counted after the read, a late commit between the last page and
        # the count would be counted as read, and never indexed). When papers did come
        # meanwhile, no count is recorded (the next poll reads the overlap again).
        with self.engine.connect() as conn:
            catalog_newest = newest_change(conn)
        expected = (
            meta.lexical_watermark
            if catalog_newest is None
            else _later(meta.lexical_watermark, catalog_newest.isoformat())
        )
        counted = recent_count(self.engine, expected)
        done = indexed = 0
        newest = meta.lexical_watermark
        self._report("lexical index", 0, total)
        try:
            for page in self._changed_papers(since):
                fresh = self._not_held(page, applied, ask=since is not None)
                rows = self._documents([r.id for r in fresh])
                if rows:  # (no writer opened for nothing: it holds tantivy's lock)
                    if applied is not None:
                        applied.update((r.id, r.modified_at) for r in rows)
                    indexed += self.store.lexical.upsert(_document(r) for r in rows)
                    self._store_terms(rows)
                done += len(page)
                # Never back: re-reading the overlap before the watermark (papers indexed
                # before) must not move it there, or a process stopped then would start
                # further back.
                newest = _later(newest, page[-1].modified_at.isoformat())
                self._report("lexical index", done, total)
                if done % (_PAGE * 25) == 0:  # commit now and then: resumable, bounded RAM
                    self._commit_lexical(newest)
            recent = counted if newest == expected else None
            if indexed or newest != meta.lexical_watermark or recent != meta.lexical_recent:
                self._commit_lexical(newest, recent)
        finally:
            self.store.terms.rollback()  # (after a failure: terms of papers not committed)
        if since is None and self.terms:  # the whole catalog: every paper's terms are stored
            self.store.terms.put((), complete=True)
        if applied is not None and newest is not None:
            horizon = overlap_start(newest)
            for paper_id in [p for p, at in applied.items() if horizon and at < horizon]:
                del applied[paper_id]
        return indexed

    def _store_terms(self, rows: Sequence[Any]) -> None:
        """The papers' terms (search/terms.py), stored as their words are indexed and
        committed after the word index (`_commit_lexical`)."""
        if rows and self.terms:
            self.store.terms.put(
                ((r.id, r.modified_at, paper_terms(r.title, r.abstract or "")) for r in rows),
                pending=True,
            )

    def update_terms(self, *, limit: int | None = None) -> int:
        """Store the terms of the papers indexed before the term store existed (an index
        written by an older version), in order of id, resumable; at most `limit` papers
        (None: all). The number stored; 0 once every paper's are.

        Papers changed within the overlap before the lexical watermark are left to the next
        `update_lexical`, which reads them again: one committed late may not be in the word
        index yet, and terms held must mean that the word index holds the paper."""
        start = self.store.terms.filled_through() if self.terms else None
        horizon = overlap_start(self.store.meta.lexical_watermark)
        if start is None or horizon is None:
            return 0
        total = None
        if self.progress is not None:
            with self.engine.connect() as conn:
                total = int(
                    conn.execute(sa.select(sa.func.count()).where(papers.c.id > start)).scalar_one()
                )
        stage = "terms for recommendations"
        stored = seen = 0
        self._report(stage, 0, total)
        while limit is None or seen < limit:
            page = _PAGE if limit is None else min(_PAGE, limit - seen)
            query = (
                sa.select(papers.c.id, papers.c.title, papers.c.abstract, papers.c.modified_at)
                .where(papers.c.id > start)
                .order_by(papers.c.id)
                .limit(page)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                self.store.terms.put((), complete=True)
                break
            held = self.store.terms.versions([r.id for r in rows])
            start = rows[-1].id
            stored += self.store.terms.put(
                (
                    (r.id, r.modified_at, paper_terms(r.title, r.abstract or ""))
                    for r in rows
                    # (indexed since, from the same or a newer text; or left to update_lexical)
                    if r.id not in held and r.modified_at < horizon
                ),
                filled_through=start,
            )
            seen += len(rows)
            self._report(stage, seen, total)
        return stored

    def _commit_lexical(self, watermark: str | None, recent: int | None = None) -> None:
        """Commit the word index, then the terms, then the watermark (and, at the end of an
        update, the count within its overlap; None part-way)."""
        self.store.lexical.commit()
        self.store.terms.commit()  # after the words: terms held mean the words are committed
        self.store.meta.lexical_watermark = watermark
        self.store.meta.lexical_recent = recent
        self.store.save_meta()

    # -- embeddings --------------------------------------------------------------------------

    def _pending_embeddings(self, model: str) -> sa.Select[Any]:
        e = paper_embeddings
        return (
            sa.select(papers.c.id, papers.c.title, papers.c.abstract, e.c.text_hash, e.c.model)
            .outerjoin(e, e.c.paper_id == papers.c.id)
            .where(
                sa.or_(
                    e.c.paper_id.is_(None),
                    e.c.model != model,
                    e.c.updated_at < papers.c.modified_at,
                )
            )
            .order_by(papers.c.id)
        )

    def pending_embeddings(self) -> int:
        if self.embedder is None:
            return 0
        query = self._pending_embeddings(self.embedder.name).subquery()
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(query)).scalar_one())

    def update_embeddings(self, *, limit: int | None = None) -> int:
        """Embed papers with no vector for this model or whose text changed; resumable (each
        batch is committed), and untouched papers are skipped."""
        if self.embedder is None:
            return 0
        model = self.embedder.name
        with self.engine.connect() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(self._pending_embeddings(model).subquery())
            ).scalar_one()
        if limit is not None:
            total = min(total, limit)
        embedded = seen = 0
        last_id = 0
        stage = f"embedding ({model})"
        self._report(stage, 0, total)
        while seen < total:
            query = self._pending_embeddings(model).where(papers.c.id > last_id)
            with self.engine.connect() as conn:
                rows = conn.execute(query.limit(min(EMBED_BATCH, total - seen))).all()
            if not rows:
                break
            last_id = rows[-1].id
            texts = {r.id: document_text(r.title, r.abstract or "") for r in rows}
            hashes = {pid: text_hash(t) for pid, t in texts.items()}
            # Another model's vector is stale even for the same text.
            stale = [
                r.id
                for r in rows
                if r.text_hash is None or r.text_hash != hashes[r.id] or r.model != model
            ]
            stale_ids = set(stale)
            fresh = [r.id for r in rows if r.id not in stale_ids]
            vectors = (
                self.embedder.embed_documents([texts[p] for p in stale])
                if stale
                else np.zeros((0, self.embedder.dim), np.float32)
            )
            now = utcnow()
            with self.engine.begin() as conn:
                if fresh:  # same text and model, newer paper row: just re-stamp
                    conn.execute(
                        paper_embeddings.update()
                        .where(paper_embeddings.c.paper_id.in_(fresh))
                        .where(paper_embeddings.c.model == model)
                        .values(updated_at=now)
                    )
                self._store_vectors(conn, stale, vectors, hashes, model, now)
            embedded += len(stale)
            seen += len(rows)
            self._report(stage, seen, total)
        return embedded

    def _store_vectors(
        self,
        conn: sa.Connection,
        ids: list[int],
        vectors: np.ndarray[Any, Any],
        hashes: dict[int, str],
        model: str,
        now: dt.datetime,
    ) -> None:
        if not ids:
            return
        conn.execute(paper_embeddings.delete().where(paper_embeddings.c.paper_id.in_(ids)))
        conn.execute(
            paper_embeddings.insert(),
            [
                {
                    "paper_id": pid,
                    "model": model,
                    "text_hash": hashes[pid],
                    "vector": vector.astype(np.float16).tobytes(),
                    "updated_at": now,
                }
                for pid, vector in zip(ids, vectors, strict=True)
            ],
        )

    # -- vectors -----------------------------------------------------------------------------

    def update_vectors(self, applied: dict[int, dt.datetime] | None = None) -> int:
        """Load embeddings updated since the vector watermark into the ANN index; the number
        loaded. Those the index holds as they are are not loaded again (the overlap before
        the watermark is read again). `applied`: as for `update_lexical`, the embeddings this
        process loaded within the overlap, skipped without looking."""
        if self.embedder is None:
            return 0
        meta = self.store.meta
        model, dim = self.embedder.name, self.embedder.dim
        if meta.model != model:  # a model change invalidates every vector
            self.store.delete_vectors()
            meta.model, meta.dim, meta.vector_watermark = model, dim, None
            if applied is not None:
                applied.clear()
        index = self.store.vectors(dim)
        e = paper_embeddings
        query = sa.select(e.c.paper_id, e.c.vector, e.c.updated_at).where(e.c.model == model)
        since = overlap_start(meta.vector_watermark)
        if since is not None:
            query = query.where(e.c.updated_at >= since)
        count = 0
        newest = meta.vector_watermark
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=_PAGE).execute(query)
            for chunk in result.partitions(_PAGE):
                newest = _later(newest, max(row.updated_at for row in chunk).isoformat())
                if applied is not None:
                    chunk = [r for r in chunk if applied.get(r.paper_id) != r.updated_at]
                    applied.update((r.paper_id, r.updated_at) for r in chunk)
                if not chunk:
                    continue
                ids = np.fromiter((row.paper_id for row in chunk), np.int64, len(chunk))
                raw = np.frombuffer(b"".join(row.vector for row in chunk), dtype=np.float16)
                matrix = raw.reshape(len(ids), dim)
                # Re-read within the overlap (or re-stamped: the same text) and held as they
                # are: a new process does not load a bulk embedding's last minutes again.
                new = ~index.holding(ids.tolist(), matrix)
                if new.any():
                    index.upsert(ids[new].tolist(), matrix[new].astype(np.float32))
                    count += int(new.sum())
        if count or newest != meta.vector_watermark or not self.store.has_vectors():
            index.save()
            meta.vector_watermark = newest
            self.store.save_meta()
        if applied is not None and newest is not None:
            horizon = overlap_start(newest)
            for paper_id in [p for p, at in applied.items() if horizon and at < horizon]:
                del applied[paper_id]
        return count

    # -- whole index ---------------------------------------------------------------------------

    def update(self, *, embed: bool = True) -> IndexReport:
        report = IndexReport(lexical=self.update_lexical())
        report.terms = self.update_terms()
        if embed and self.embedder is not None:
            report.embedded = self.update_embeddings()
            report.vectors = self.update_vectors()
        return report

    def remove_deleted(self) -> int:
        """Drop papers deleted from the catalog from both indexes; the number dropped. Cheap
        when there are none: the catalog's papers are only listed when the lexical index
        holds more documents than the catalog has papers."""
        with self.engine.connect() as conn:
            count = int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())
        if self.store.lexical.num_docs() <= count:
            return 0
        with self.engine.connect() as conn:
            catalog_ids = {r[0] for r in conn.execute(sa.select(papers.c.id))}
        extra = self.store.lexical.all_ids() - catalog_ids
        if extra:
            self.store.lexical.delete(extra)
            self.store.lexical.commit()
            self.store.terms.delete(extra)
            dim = self.store.meta.dim  # (the model need not be loaded for this)
            if dim is not None and self.store.has_vectors():
                index = self.store.vectors(dim)
                index.remove(extra)
                index.save()
            self.store.save_meta()  # other processes on the directory re-read both
        return len(extra)

    def check(self, *, repair: bool = True) -> IndexReport:
        """Compare the index with the catalog; repair drift (a crash between a catalog commit
        and the index update, papers deleted from the catalog)."""
        report = IndexReport()
        with self.engine.connect() as conn:
            catalog_ids = {r[0] for r in conn.execute(sa.select(papers.c.id))}
        lexical_ids = self.store.lexical.all_ids()
        missing, extra = catalog_ids - lexical_ids, lexical_ids - catalog_ids
        if missing:
            report.problems.append(f"{len(missing):,} papers missing from the lexical index")
        if extra:
            report.problems.append(f"{len(extra):,} deleted papers still in the lexical index")
        duplicates = self.store.lexical.num_docs() - len(lexical_ids)
        if duplicates > 0:
            # Indexes written before the delete-by-query fix hold stale copies of re-indexed
            # papers: drop every copy and index each such paper afresh.
            report.problems.append(f"{duplicates:,} duplicate documents in the lexical index")
            missing |= self.store.lexical.duplicated_ids() & catalog_ids
        if repair and (missing or extra or duplicates > 0):
            self.store.lexical.delete(extra | missing)
            try:
                for start in range(0, len(missing), 500):
                    rows = self._documents(sorted(missing)[start : start + 500])
                    self.store.lexical.upsert(_document(r) for r in rows)
                    self._store_terms(rows)
                self.store.lexical.commit()
                self.store.terms.commit()
            finally:
                self.store.terms.rollback()
            self.store.terms.delete(extra)
            report.lexical, report.removed = len(missing), len(extra)
        through = self.store.terms.filled_through()
        if through is not None and any(pid > through for pid in catalog_ids):
            left = sum(pid > through for pid in catalog_ids)
            report.problems.append(
                f"the terms of papers indexed before they were stored (for recommendations): "
                f"{left:,} papers to look at"
            )
            if repair:
                report.terms = self.update_terms()
        if self.embedder is not None:
            report.problems.extend(self._check_embeddings(catalog_ids, repair, report))
        if repair:
            report.embedded += self.update_embeddings() if self.embedder else 0
            report.vectors += self.update_vectors() if self.embedder else 0
        return report

    def _check_embeddings(
        self, catalog_ids: set[int], repair: bool, report: IndexReport
    ) -> list[str]:
        """What the repair's embedding and vector steps would do: papers to embed (no vector
        for this model, or one of text since changed), and a vector index that is missing, of
        another model, or out of step with the stored embeddings."""
        assert self.embedder is not None
        problems = []
        pending = self.pending_embeddings()
        if pending:
            problems.append(f"{pending:,} papers not embedded yet (or their text changed since)")
        model = self.embedder.name
        if self.store.meta.model not in (None, model):
            problems.append(
                f"the vector index holds vectors of {self.store.meta.model}, not {model}: "
                "every vector is to be loaded again"
            )
        elif self.store.meta.model is None or not self.store.has_vectors():
            if catalog_ids:
                problems.append(f"no vector index for {model} yet")
        else:
            problems.extend(self._check_vectors(repair, report))
        return problems

    def _check_vectors(self, repair: bool, report: IndexReport) -> list[str]:
        assert self.embedder is not None
        index = self.store.vectors(self.embedder.dim)
        with self.engine.connect() as conn:
            embedded = {
                r[0]
                for r in conn.execute(
                    sa.select(paper_embeddings.c.paper_id).where(
                        paper_embeddings.c.model == self.embedder.name
                    )
                )
            }
        vector_ids = index.ids()
        problems = []
        stale, missing = vector_ids - embedded, embedded - vector_ids
        if stale:
            problems.append(f"{len(stale):,} vectors of papers no longer embedded")
        if missing:
            problems.append(f"{len(missing):,} embedded papers missing from the vector index")
        if repair and (stale or missing):
            index.remove(stale)
            report.removed += len(stale)
            self.store.meta.vector_watermark = None  # reload every vector
        return problems
