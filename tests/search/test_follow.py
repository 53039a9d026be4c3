"""The index follows the catalog (paperfeed.search.follow): two data directories on one
catalog (on the PostgreSQL leg one PostgreSQL database, as two machines would share it),
the real embedding model, real index files."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.db.schema import paper_embeddings, papers
from paperfeed.ingest.runner import write_batch
from paperfeed.papers.record import PaperRecord
from paperfeed.progress import ProgressEvent
from paperfeed.runtime import Runtime
from paperfeed.search import follow
from paperfeed.search.follow import IndexWriterLock
from paperfeed.search.indexer import OVERLAP, Indexer
from tests.support.index import as_an_older_version_left_it

SURFACE = "2612.00004"


def _paper(n: int, title: str, abstract: str) -> PaperRecord:
    return PaperRecord(
        source="snapshot",
        arxiv_id=f"2612.{n:05d}",
        title=title,
        abstract=abstract,
        categories=["cs.IR"],
        freshness=dt.datetime(2026, 12, 1),
    )


PAPERS = [
    _paper(1, "Dense retrieval for scientific claims", "We embed claims and abstracts."),
    _paper(2, "Sparse lexical retrieval with BM25", "Term weighting for ranking documents."),
    _paper(3, "Protein folding with deep learning", "Predicting structures of proteins."),
]
NEW = _paper(4, "Quantum error correction with surface codes", "Logical qubits from lattices.")
OTHER = _paper(5, "Graph networks for molecules", "Message passing over atoms and bonds.")


@pytest.fixture
def nodes(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, Runtime]]:
    """Node A (the test's settings) and node B: another data directory, the same catalog.
    Both have followed the first three papers. Vectors are reloaded on every poll (not at
    most every VECTOR_SECONDS)."""
    monkeypatch.setattr(follow, "VECTOR_SECONDS", 0.0)
    other = settings.model_copy(
        update={"home": tmp_path / "node-b", "database_url": settings.effective_database_url}
    )
    a, b = Runtime(settings), Runtime(other)
    write_batch(a.engine, a.catalog_writer, PAPERS)
    a.index.after_import()
    b.index.poll()
    try:
        yield a, b
    finally:
        b.close()
        a.close()


def _ids(runtime: Runtime, query: str, mode: str = "lexical") -> list[str | None]:
    hits = runtime.search.search(query, mode=mode).hits  # type: ignore[arg-type]
    return [h.arxiv_id for h in hits]


def _embeddings(runtime: Runtime) -> dict[int, dt.datetime]:
    e = paper_embeddings
    with runtime.engine.connect() as conn:
        return {
            r.paper_id: r.updated_at for r in conn.execute(sa.select(e.c.paper_id, e.c.updated_at))
        }


def test_a_paper_written_through_one_node_is_found_on_the_other(
    nodes: tuple[Runtime, Runtime],
) -> None:
    a, b = nodes
    assert b.search_store.lexical.num_docs() == 3
    assert b.index.stats.vectors == 3 and b.index.stats.embedded == 0
    write_batch(a.engine, a.catalog_writer, [NEW])
    done = a.index.after_import()
    assert (done.report.embedded, done.pending) == (1, 0)
    embedded_by_a = _embeddings(a)

    assert _ids(b, "surface codes") == []
    assert b.index.poll()
    assert _ids(b, "surface codes") == [SURFACE]
    # By meaning too, from the vector node A wrote: node B embedded nothing.
    assert _ids(b, "quantum error correction", mode="dense")[0] == SURFACE
    assert b.index.stats.embedded == 0 and b.index.stats.vectors == 4
    assert _embeddings(b) == embedded_by_a

    # Nothing new: the next poll asks the catalog and applies nothing.
    lexical, vectors = b.index.stats.lexical, b.index.stats.vectors
    assert not b.index.poll()
    assert (b.index.stats.lexical, b.index.stats.vectors) == (lexical, vectors)


def test_a_late_commit_older_than_the_watermark_is_picked_up(
    nodes: tuple[Runtime, Runtime],
) -> None:
    """On PostgreSQL a transaction may commit after a later one, with an older modified_at
    than the watermark a node already reached: the count within the overlap tells."""
    a, b = nodes
    write_batch(a.engine, a.catalog_writer, [NEW])
    watermark = dt.datetime.fromisoformat(b.search_store.meta.lexical_watermark or "")
    with a.engine.begin() as conn:
        conn.execute(
            papers.update()
            .where(papers.c.arxiv_id == SURFACE)
            .values(modified_at=watermark - dt.timedelta(seconds=30))
        )
    assert b.index.poll()
    assert _ids(b, "surface codes") == [SURFACE]


def test_a_commit_that_lands_as_an_update_ends_is_picked_up_at_the_next_poll(
    nodes: tuple[Runtime, Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A late commit (stamped before the watermark) that lands after the update read the
    catalog but before it recorded the count within the overlap: counted after the read, it
    was taken for read, and the paper was never indexed while the catalog stayed quiet."""
    a, b = nodes
    watermark = dt.datetime.fromisoformat(b.search_store.meta.lexical_watermark or "")
    real = Indexer._changed_papers
    landed: list[bool] = []

    def reading(self: Indexer, since: dt.datetime | None) -> Iterator[list[object]]:
        yield from real(self, since)
        if not landed:  # another writer's transaction commits now, stamped earlier
            write_batch(a.engine, a.catalog_writer, [NEW])
            with a.engine.begin() as conn:
                conn.execute(
                    papers.update()
                    .where(papers.c.arxiv_id == SURFACE)
                    .values(modified_at=watermark - dt.timedelta(seconds=30))
                )
            landed.append(True)

    monkeypatch.setattr(Indexer, "_changed_papers", reading)
    write_batch(a.engine, a.catalog_writer, [OTHER])  # what node B's poll comes for
    assert b.index.poll()
    assert landed and _ids(b, "molecules") == [OTHER.arxiv_id]
    assert _ids(b, "surface codes") == []  # (committed after the read)
    assert b.index.poll()
    assert _ids(b, "surface codes") == [SURFACE]
    assert not b.index.poll()  # and then nothing more to read


def test_a_process_that_starts_reads_the_overlap_only_when_the_catalog_changed(
    nodes: tuple[Runtime, Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each serving process of a data directory used to read the whole overlap again at its
    first poll (after a bulk import, every paper of it, in every process). The index records
    the count within the overlap when it last took the catalog's changes: a process that
    finds the same count reads nothing, and a late commit still changes the count."""
    a, b = nodes
    recent = b.search_store.meta.lexical_recent
    assert recent == len(PAPERS)  # (all within the overlap: written just now)
    updates: list[object] = []
    real = Indexer.update_lexical

    def counted(self: Indexer, *args: object, **kwargs: object) -> int:
        updates.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Indexer, "update_lexical", counted)
    again = Runtime(b.settings)  # a second process on node B's data directory
    try:
        again.index.poll()
        assert updates == []
        write_batch(a.engine, a.catalog_writer, [NEW])
        watermark = dt.datetime.fromisoformat(b.search_store.meta.lexical_watermark or "")
        with a.engine.begin() as conn:  # committed late: older than the watermark
            conn.execute(
                papers.update()
                .where(papers.c.arxiv_id == SURFACE)
                .values(modified_at=watermark - dt.timedelta(seconds=30))
            )
        fresh = Runtime(b.settings)  # another process, started after the late commit
        try:
            fresh.index.poll()
            assert len(updates) == 1 and fresh.index.stats.lexical == 1
            assert _ids(fresh, "surface codes") == [SURFACE]
            assert fresh.search_store.meta.lexical_recent == recent + 1
        finally:
            fresh.close()
    finally:
        again.close()


def test_the_overlap_is_no_longer_counted_once_no_late_commit_can_come(
    settings: Settings, tmp_path: Path
) -> None:
    """The count within the overlap reads every paper there (after a bulk import, all of
    them) at every poll; once the watermark is older than twice the overlap no late commit
    can come, and a quiet poll asks for nothing but the newest change."""
    clock = FrozenClock(dt.datetime(2026, 12, 1, 12, 0))
    runtime = Runtime(settings.model_copy(update={"home": tmp_path / "clocked"}), clock=clock)
    try:
        write_batch(runtime.engine, runtime.catalog_writer, PAPERS)
        runtime.index.poll()
        statements: list[str] = []

        def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
            statements.append(statement.lower())

        sa.event.listen(runtime.engine, "before_cursor_execute", seen)
        assert not runtime.index.poll()
        assert any("count(" in s and "modified_at >=" in s for s in statements)
        clock.advance(2 * OVERLAP - dt.timedelta(seconds=1))
        statements.clear()
        assert not runtime.index.poll()
        assert any("count(" in s and "modified_at >=" in s for s in statements)
        clock.advance(dt.timedelta(seconds=2))
        statements.clear()
        assert not runtime.index.poll()
        assert not any("count(" in s and "modified_at >=" in s for s in statements), statements
        write_batch(runtime.engine, runtime.catalog_writer, [NEW])  # (stamped now)
        assert runtime.index.poll()
        assert _ids(runtime, "surface codes") == [SURFACE]
    finally:
        runtime.close()


def test_deleted_papers_leave_the_other_node(
    nodes: tuple[Runtime, Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = nodes
    assert _ids(b, "protein folding") == ["2612.00003"]
    with a.engine.begin() as conn:
        conn.execute(papers.delete().where(papers.c.arxiv_id == "2612.00003"))
    monkeypatch.setattr(follow, "DELETION_SECONDS", 0.0)
    assert b.index.poll()
    assert b.index.stats.removed == 1
    assert _ids(b, "protein folding") == []
    assert b.search_store.lexical.num_docs() == 2


def test_one_process_writes_a_directory_the_others_reread(
    nodes: tuple[Runtime, Runtime], settings: Settings
) -> None:
    """Two server processes on node A's data directory: while one holds the writer lock the
    other writes nothing, and it serves what the writer wrote."""
    a, _b = nodes
    second = Runtime(a.settings)
    try:
        assert _ids(second, "retrieval") != []
        write_batch(a.engine, a.catalog_writer, [NEW])
        with IndexWriterLock(settings.search_dir).hold(wait=False) as held:
            assert held
            assert not second.index.poll()  # busy: left to the holder
            assert _ids(second, "surface codes") == []
        assert a.index.poll()  # the writer
        second.index.refresh()  # what a poll does first (tantivy may also reload by itself)
        assert _ids(second, "surface codes") == [SURFACE]
    finally:
        second.close()


def test_a_rebuild_is_served_at_once_and_followed_by_other_processes(
    nodes: tuple[Runtime, Runtime],
) -> None:
    a, _b = nodes
    second = Runtime(a.settings)
    try:
        old = second.search_store.generation
        store, report = a.index.rebuild()
        assert report.lexical == 3 and report.embedded == 0
        assert a.search_store is store and a.search.store is store
        assert second.index.refresh().generation == store.generation != old
        assert _ids(second, "protein folding") == ["2612.00003"]
    finally:
        second.close()


def test_the_indexer_reports_progress_through_a_callback(runtime: Runtime) -> None:
    write_batch(runtime.engine, runtime.catalog_writer, PAPERS)
    events: list[ProgressEvent] = []
    runtime.indexer(progress=events.append).update()
    calls = [(e.task, e.done, e.total) for e in events]
    assert ("lexical index", 3, 3) in calls
    embedding = [c for c in calls if c[0].startswith("embedding")]
    assert embedding[0][1:] == (0, 3) and embedding[-1][1:] == (3, 3)


def test_the_serving_thread_follows_and_stops(nodes: tuple[Runtime, Runtime]) -> None:
    """The thread a serving process runs (the thing measured is real time: it polls the
    catalog every POLL_SECONDS)."""
    a, b = nodes
    b.index.start()
    b.index.start()  # idempotent: the web app calls it on every request
    thread = b.index._thread
    assert thread is not None and thread.is_alive()
    write_batch(a.engine, a.catalog_writer, [NEW])
    deadline = time.monotonic() + 10
    while _ids(b, "surface codes") != [SURFACE]:
        assert time.monotonic() < deadline, "node B did not follow within 10 s"
        threading.Event().wait(0.05)
    b.index.stop()
    assert not thread.is_alive()


def test_a_serving_process_fills_in_an_old_index_s_terms_a_few_at_each_poll(
    nodes: tuple[Runtime, Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Node B's index as an older version wrote it (no term store) an hour ago: its follower
    stores the papers' terms TERMS_PER_POLL at a time, and a new paper's with its words."""
    _a, b = nodes
    ids = as_an_older_version_left_it(b, age=dt.timedelta(hours=1))
    store = b.search_store
    monkeypatch.setattr(follow, "TERMS_PER_POLL", 2)
    assert b.index.poll()
    assert sorted(store.terms.get(ids)) == ids[:2] and b.index.stats.terms == 2
    assert b.index.poll()
    assert sorted(store.terms.get(ids)) == ids and store.terms.filled_through() is None
    write_batch(b.engine, b.catalog_writer, [NEW])
    b.index.poll()
    new = b.catalog.ids_for_arxiv([SURFACE])[SURFACE]
    assert list(store.terms.get([new])) == [new]
    assert b.index.stats.terms == 3  # (the new paper's came with its words, not the fill-in)


def test_papers_an_older_version_indexed_within_the_overlap_get_their_terms_with_their_words(
    nodes: tuple[Runtime, Runtime],
) -> None:
    """Papers within the overlap before the watermark are left to the word index's re-read
    (one committed late may not be indexed yet): a new process indexes those without terms
    again, and stores their terms as it does."""
    _a, b = nodes
    ids = as_an_older_version_left_it(b, age=dt.timedelta(minutes=1))
    store = b.search_store
    assert b.index.indexer().update_terms() == 0
    before = b.index.stats.lexical
    assert b.index.poll()
    assert b.index.stats.lexical - before == 3 and b.index.stats.terms == 0
    assert sorted(store.terms.get(ids)) == ids
    assert _ids(b, "proteins") == ["2612.00003"]
