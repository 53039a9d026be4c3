import datetime as dt
import json
from pathlib import Path

import pytest
import tantivy

from paperfeed.config import Settings
from paperfeed.db.schema import papers
from paperfeed.ingest.runner import write_batch
from paperfeed.papers.catalog_writer import CatalogWriter
from paperfeed.papers.record import PaperRecord
from paperfeed.progress import ProgressEvent
from paperfeed.runtime import Runtime
from paperfeed.search.indexer import Indexer
from paperfeed.search.store import SearchStore
from paperfeed.search.terms import microseconds, paper_terms
from tests.support.index import as_an_older_version_left_it


def _paper(n: int, title: str, abstract: str) -> PaperRecord:
    return PaperRecord(
        source="snapshot",
        arxiv_id=f"2611.{n:05d}",
        title=title,
        abstract=abstract,
        categories=["cs.IR"],
        freshness=dt.datetime(2026, 11, 1),
    )


PAPERS = [
    _paper(1, "Dense retrieval for scientific claims", "We embed claims and abstracts."),
    _paper(2, "Sparse lexical retrieval with BM25", "Term weighting for ranking documents."),
    _paper(3, "Protein folding with deep learning", "Predicting structures of proteins."),
]


@pytest.fixture
def small(runtime: Runtime) -> Runtime:
    write_batch(runtime.engine, runtime.catalog_writer, PAPERS)
    runtime.indexer().update()
    return runtime


def test_new_papers_are_searchable_after_an_incremental_update(small: Runtime) -> None:
    write_batch(
        small.engine,
        small.catalog_writer,
        [_paper(4, "Quantum error correction codes", "Surface codes and qubits.")],
    )
    report = small.indexer().update(embed=False)
    assert report.lexical >= 1
    assert [h.arxiv_id for h in small.search.search("surface codes").hits][:1] == ["2611.00004"]


def test_only_new_or_changed_papers_are_embedded(small: Runtime) -> None:
    again = small.indexer().update()
    assert again.embedded == 0
    changed = _paper(2, "Sparse lexical retrieval with BM25F", "Field weighting for ranking.")
    changed.freshness = dt.datetime(2026, 11, 2)
    write_batch(small.engine, small.catalog_writer, [changed])
    assert small.indexer().update().embedded == 1


def test_embedding_is_resumable_in_parts(runtime: Runtime) -> None:
    write_batch(runtime.engine, runtime.catalog_writer, PAPERS)
    indexer = runtime.indexer()
    assert indexer.update_embeddings(limit=1) >= 1
    rest = indexer.update_embeddings()
    assert 1 <= rest <= 2
    assert indexer.update_embeddings() == 0


def test_check_finds_and_repairs_drift(small: Runtime) -> None:
    # A crash after the catalog commit, before the index update:
    write_batch(small.engine, small.catalog_writer, [_paper(5, "Orphan paper", "Never indexed.")])
    small.search_store.lexical.delete([1])  # and an index that lost a document
    small.search_store.lexical.commit()
    report = small.indexer().check(repair=True)
    assert any("missing from the lexical index" in p for p in report.problems)
    assert small.indexer().check(repair=False).problems == []
    assert small.search.search("orphan").hits[0].arxiv_id == "2611.00005"


def test_rebuild_swaps_in_a_new_generation(small: Runtime, settings: Settings) -> None:
    old = small.search_store.generation
    store = SearchStore.new_generation(settings.search_dir)
    Indexer(small.engine, store, small.embedder()).update()
    store.activate()
    reopened = SearchStore.open(settings.search_dir)
    assert reopened.generation == store.generation != old
    assert not (settings.search_dir / old).exists()
    assert reopened.lexical.num_docs() == 3


def test_a_model_change_rebuilds_the_vectors(small: Runtime) -> None:
    embedder = small.embedder()
    assert embedder is not None
    small.search_store.meta.model = "some-other-model@1"
    vectors = small.indexer().update_vectors()
    assert vectors == 3
    assert small.search_store.meta.model == embedder.name


def test_index_files_live_in_the_data_directory(small: Runtime, settings: Settings) -> None:
    current = (settings.search_dir / "CURRENT").read_text()
    assert (Path(settings.search_dir) / current / "vectors.usearch").is_file()


def test_reindexing_a_changed_paper_keeps_one_document(small: Runtime) -> None:
    lexical = small.search_store.lexical
    assert lexical.num_docs() == 3
    changed = _paper(2, "Sparse lexical retrieval with BM25, revised", "Term weighting again.")
    changed.freshness = dt.datetime(2026, 11, 20)
    write_batch(small.engine, small.catalog_writer, [changed])
    small.indexer().update()
    assert lexical.num_docs() == 3
    hits = small.search.search("revised", mode="lexical").hits
    assert [h.arxiv_id for h in hits] == ["2611.00002"]


def test_check_removes_duplicate_documents(small: Runtime) -> None:
    lexical = small.search_store.lexical
    rows = small.search.search("retrieval", mode="lexical").hits
    # A stale second copy, as indexes written before the delete fix hold.
    writer = lexical.index.writer(heap_size=15_000_000, num_threads=1)
    stale = tantivy.Document()
    stale.add_unsigned("paper_id", rows[0].paper_id)
    stale.add_text("text", "stale copy")
    writer.add_document(stale)
    writer.commit()
    writer.wait_merging_threads()
    lexical.index.reload()
    assert lexical.num_docs() == 4

    report = small.indexer().check()
    assert any("duplicate" in p for p in report.problems)
    assert lexical.num_docs() == 3
    assert small.search.search("stale copy", mode="lexical").hits == []
    assert small.indexer().check().problems == []


def test_indexing_a_paper_stores_its_terms(small: Runtime) -> None:
    ids = sorted(small.search_store.lexical.all_ids())
    texts = small.catalog.get_many(ids, ("title", "abstract", "modified_at"))
    stored = small.search_store.terms.get(ids)
    assert sorted(stored) == ids
    for pid in ids:
        expected = paper_terms(texts[pid]["title"], texts[pid]["abstract"])
        assert stored[pid].terms.numbers.tolist() == expected.numbers.tolist()
        assert stored[pid].terms.counts.tolist() == expected.counts.tolist()
        assert stored[pid].modified_us == microseconds(texts[pid]["modified_at"])
    assert small.search_store.terms.filled_through() is None  # every paper's
    changed = _paper(2, "Sparse lexical retrieval, revised", "Term weighting again.")
    changed.freshness = dt.datetime(2026, 11, 20)
    write_batch(small.engine, small.catalog_writer, [changed])
    small.indexer().update(embed=False)
    pid = small.catalog.ids_for_arxiv(["2611.00002"])["2611.00002"]
    again = small.search_store.terms.get([pid])[pid].terms
    assert again.numbers.tolist() == paper_terms(changed.title, changed.abstract).numbers.tolist()
    with small.engine.begin() as conn:  # deleted from the catalog: gone from the store too
        conn.execute(papers.delete().where(papers.c.id == pid))
    small.indexer().remove_deleted()
    assert small.search_store.terms.get([pid]) == {}


def test_an_index_without_terms_stores_none(runtime: Runtime) -> None:
    """`eval beir`'s throwaway index: words and vectors, no term store (nor a fill-in due)."""
    write_batch(runtime.engine, runtime.catalog_writer, PAPERS)
    report = runtime.indexer(terms=False).update()
    assert report.lexical == len(PAPERS) and report.terms == 0
    assert [h.arxiv_id for h in runtime.search.search("protein folding").hits][:1] == ["2611.00003"]
    assert not runtime.search_store.terms.path.exists()


def test_an_index_written_before_the_term_store_gets_it_filled_in(small: Runtime) -> None:
    ids = sorted(small.search_store.lexical.all_ids())
    as_an_older_version_left_it(small, age=dt.timedelta(hours=1))
    assert small.search_store.terms.get(ids) == {}
    assert small.search_store.terms.filled_through() == 0
    problems = small.indexer().check(repair=False).problems
    assert any("terms" in p and "3 papers to look at" in p for p in problems), problems
    events: list[ProgressEvent] = []
    report = small.indexer(progress=events.append).check(repair=True)
    assert report.terms == 3 and "terms of 3 papers stored" in report.line()
    steps = [(e.done, e.total) for e in events if e.task == "terms for recommendations"]
    assert steps[0] == (0, 3) and steps[-1] == (3, 3)
    assert sorted(small.search_store.terms.get(ids)) == ids
    assert small.search_store.terms.filled_through() is None
    assert small.indexer().check(repair=False).problems == []
    assert small.indexer().update(embed=False).terms == 0  # nothing left to do


def test_the_terms_fill_in_resumes_where_it_stopped(small: Runtime) -> None:
    ids = sorted(small.search_store.lexical.all_ids())
    as_an_older_version_left_it(small, age=dt.timedelta(hours=1))
    indexer = small.indexer()
    assert indexer.update_terms(limit=2) == 2
    assert small.search_store.terms.filled_through() == ids[1]
    assert sorted(small.search_store.terms.get(ids)) == ids[:2]
    assert indexer.update_terms(limit=2) == 1
    assert indexer.update_terms() == 0  # (the end reached: complete)
    assert small.search_store.terms.filled_through() is None


def test_the_watermark_never_moves_back_while_the_overlap_is_read_again(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update reads again the papers changed shortly before the watermark (concurrent
    writers may commit them late). Committing part-way through that re-read must not move the
    watermark back to them: a process stopped then would start further back every time (after
    a bulk import, a fresh server re-read the whole catalog)."""
    start = dt.datetime(2026, 11, 1, 12, 0)
    for n in range(1, 61):  # a bulk import: 60 papers a second apart, within the overlap
        writer = CatalogWriter(lambda n=n: start + dt.timedelta(seconds=n))
        write_batch(runtime.engine, writer, [_paper(n, f"Paper {n} on retrieval", f"Text {n}.")])
    runtime.indexer().update(embed=False)
    store = runtime.search_store
    full = store.meta.lexical_watermark
    assert full is not None
    monkeypatch.setattr("paperfeed.search.indexer._PAGE", 1)  # a commit every 25 papers
    seen: list[str | None] = []
    indexer = runtime.indexer(progress=lambda event: seen.append(store.meta.lexical_watermark))
    indexer.update_lexical()  # every paper is within the overlap: all read again
    assert len(seen) > 25 and set(seen) == {full}
    assert store.meta.lexical_watermark == full


def _bulk(runtime: Runtime, count: int) -> dt.datetime:
    """`count` papers written a second apart (as a bulk import does: all within the overlap
    before the watermark); the time of the last."""
    start = dt.datetime(2026, 11, 1, 12, 0)
    for n in range(1, count + 1):
        writer = CatalogWriter(lambda n=n: start + dt.timedelta(seconds=n))
        write_batch(runtime.engine, writer, [_paper(n, f"Paper {n} on retrieval", f"Text {n}.")])
    return start + dt.timedelta(seconds=count)


def test_a_new_process_does_not_index_again_what_the_index_holds(runtime: Runtime) -> None:
    """After a bulk import every paper is within the overlap before the watermark, which each
    update reads again. A new process (nothing applied in memory) skips the papers the index
    holds at their catalog time: it indexed the whole import again at every start."""
    last = _bulk(runtime, 40)
    assert runtime.indexer().update(embed=False).lexical == 40
    store = runtime.search_store
    watermark, documents = store.meta.lexical_watermark, store.lexical.num_docs()
    assert runtime.indexer().update_lexical() == 0  # a new process
    assert store.meta.lexical_watermark == watermark and store.lexical.num_docs() == documents
    changed = _paper(7, "Paper 7 on retrieval, revised", "A new abstract on ranking.")
    changed.freshness = dt.datetime(2026, 11, 20)
    writer = CatalogWriter(lambda: last - dt.timedelta(seconds=1))  # committed late
    write_batch(runtime.engine, writer, [changed])
    assert runtime.indexer().update_lexical() == 1
    assert [h.arxiv_id for h in runtime.search.search("new abstract on ranking").hits] == [
        "2611.00007"
    ]
    assert store.lexical.num_docs() == documents
    # Without a term store (a throwaway index) there is nothing to ask: all read again.
    assert runtime.indexer(terms=False).update_lexical() == 40


def test_terms_are_committed_only_after_the_words(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paper's terms held mean the word index holds it: when the word index's commit fails
    (a process killed there), the terms of the papers it did not commit are dropped too, and
    the next update indexes them."""
    _bulk(runtime, 5)
    store = runtime.search_store
    real_commit = type(store.lexical).commit

    def failing(self: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(type(store.lexical), "commit", failing)
    with pytest.raises(OSError, match="disk full"):
        runtime.indexer().update(embed=False)
    with runtime.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(papers.select().with_only_columns(papers.c.id))]
    assert store.terms.versions(ids) == {}
    monkeypatch.setattr(type(store.lexical), "commit", real_commit)
    assert runtime.indexer().update_lexical() == 5
    assert sorted(store.terms.versions(ids)) == sorted(ids)
    assert len(runtime.search.search("retrieval").hits) == 5


def test_a_new_process_does_not_load_again_the_vectors_the_index_holds(small: Runtime) -> None:
    """The vectors' overlap is read again too: a new process loads only the embeddings that
    differ from what the vector index holds (not a re-stamped one of the same text)."""
    store = small.search_store
    assert small.indexer().update_vectors() == 0  # a new process, everything within the overlap
    pid = small.catalog.ids_for_arxiv(["2611.00002"])["2611.00002"]
    with small.engine.begin() as conn:  # the same text, a newer row: the vector is re-stamped
        conn.execute(
            papers.update().where(papers.c.id == pid).values(modified_at=dt.datetime(2026, 12, 1))
        )
    indexer = small.indexer()
    assert indexer.update_embeddings() == 0 and indexer.update_vectors() == 0
    changed = _paper(2, "Sparse lexical retrieval, revised", "Field weighting for ranking.")
    changed.freshness = dt.datetime(2026, 11, 20)
    write_batch(small.engine, small.catalog_writer, [changed])
    indexer = small.indexer()
    assert indexer.update_embeddings() == 1 and indexer.update_vectors() == 1
    before = store.vectors(384).get(pid)
    assert before is not None and small.indexer().update_vectors() == 0


def test_an_index_meta_with_keys_of_a_newer_version_still_opens(small: Runtime) -> None:
    """A newer version records more in meta.json (as this one added `lexical_recent`): an
    older one sharing or inheriting the directory keeps serving the same generation."""
    store = small.search_store
    path = store.directory / "meta.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "a_later_field": [1, 2]}))
    again = SearchStore.open(store.root)
    assert again.generation == store.generation
    assert again.meta.lexical_watermark == store.meta.lexical_watermark
