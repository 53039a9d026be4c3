import datetime as dt

from paperfeed.ingest.runner import write_batch
from paperfeed.papers.catalog import Outcome
from paperfeed.papers.record import DailyEntry, PaperRecord
from paperfeed.runtime import Runtime


def _paper(arxiv_id: str | None, title: str, **fields: object) -> PaperRecord:
    return PaperRecord(
        source=str(fields.pop("source", "snapshot")), arxiv_id=arxiv_id, title=title, **fields
    )  # type: ignore[arg-type]


def test_upsert_classifies_new_updated_unchanged(runtime: Runtime) -> None:
    catalog = runtime.catalog
    first = _paper(
        "2301.00001", "One", categories=["cs.LG", "stat.ML"], freshness=dt.datetime(2023, 1, 1)
    )
    results = write_batch(runtime.engine, catalog, [first])
    assert [r.outcome for r in results] == [Outcome.NEW]
    assert [r.outcome for r in write_batch(runtime.engine, catalog, [first])] == [Outcome.UNCHANGED]
    newer = _paper(
        "2301.00001", "One, revised", categories=["cs.LG"], freshness=dt.datetime(2023, 2, 1)
    )
    assert [r.outcome for r in write_batch(runtime.engine, catalog, [newer])] == [Outcome.UPDATED]
    assert catalog.count() == 1
    assert [p["arxiv_id"] for p in catalog.list(category="stat.ML")] == []
    assert [p["title"] for p in catalog.list(category="cs.LG")] == ["One, revised"]
    assert [p["title"] for p in catalog.list(category="cs")] == ["One, revised"]


def test_duplicates_within_one_batch_become_one_paper(runtime: Runtime) -> None:
    a = _paper("2301.00002", "Two", freshness=dt.datetime(2023, 1, 1))
    b = _paper("2301.00002", "Two (v2)", freshness=dt.datetime(2023, 3, 1))
    results = write_batch(runtime.engine, runtime.catalog, [a, b])
    assert [r.outcome for r in results] == [Outcome.NEW, Outcome.UPDATED]
    assert runtime.catalog.count() == 1
    assert runtime.catalog.get("2301.00002")["title"] == "Two (v2)"  # type: ignore[index]


def test_title_only_paper_is_matched_later_by_title(runtime: Runtime) -> None:
    write_batch(
        runtime.engine,
        runtime.catalog,
        [_paper(None, "Attention Is All You Need", source="listing")],
    )
    arxiv = _paper("1706.03762", "Attention is all you need", freshness=dt.datetime(2017, 6, 12))
    [result] = write_batch(runtime.engine, runtime.catalog, [arxiv])
    assert result.outcome is Outcome.UPDATED
    paper = runtime.catalog.get("1706.03762")
    assert paper is not None
    assert paper["sources"] == ["listing", "snapshot"]
    assert runtime.catalog.count() == 1


def test_daily_entries_keep_community_signals(runtime: Runtime) -> None:
    when = dt.datetime(2026, 6, 12, 8)
    record = _paper(
        "2606.00001",
        "Daily",
        source="hf-daily",
        daily=DailyEntry(submitted_at=when, upvotes=10, submitted_by="alice", ai_keywords=["llm"]),
    )
    write_batch(runtime.engine, runtime.catalog, [record])
    older = _paper(
        "2606.00001", "Daily", source="hf-daily", daily=DailyEntry(submitted_at=when, upvotes=3)
    )
    [result] = write_batch(runtime.engine, runtime.catalog, [older])
    assert result.outcome is Outcome.UNCHANGED
    paper = runtime.catalog.get("2606.00001")
    assert paper is not None and paper["daily"] is not None
    assert paper["daily"]["upvotes"] == 10
    assert paper["daily"]["submitted_by"] == "alice"
    assert paper["daily"]["submitted_on"] == dt.date(2026, 6, 12)


def test_stats_counts_papers(runtime: Runtime) -> None:
    write_batch(
        runtime.engine,
        runtime.catalog,
        [_paper("2301.00003", "A"), _paper(None, "Untitled reading-list entry")],
    )
    stats = runtime.catalog.stats()
    assert stats["papers"] == 2
    assert stats["without_arxiv_id"] == 1
