import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from paperfeed.ingest.runner import write_batch
from paperfeed.papers.catalog_writer import Outcome
from paperfeed.papers.record import DailyEntry, PaperRecord
from paperfeed.runtime import Runtime
from tests.support.waiting import wait_until


def _paper(arxiv_id: str | None, title: str, **fields: object) -> PaperRecord:
    return PaperRecord(
        source=str(fields.pop("source", "snapshot")), arxiv_id=arxiv_id, title=title, **fields
    )  # type: ignore[arg-type]


def test_upsert_classifies_new_updated_unchanged(runtime: Runtime) -> None:
    catalog, writer = runtime.catalog, runtime.catalog_writer
    first = _paper(
        "2301.00001", "One", categories=["cs.LG", "stat.ML"], freshness=dt.datetime(2023, 1, 1)
    )
    results = write_batch(runtime.engine, writer, [first])
    assert [r.outcome for r in results] == [Outcome.NEW]
    assert [r.outcome for r in write_batch(runtime.engine, writer, [first])] == [Outcome.UNCHANGED]
    newer = _paper(
        "2301.00001", "One, revised", categories=["cs.LG"], freshness=dt.datetime(2023, 2, 1)
    )
    assert [r.outcome for r in write_batch(runtime.engine, writer, [newer])] == [Outcome.UPDATED]
    assert catalog.count() == 1
    assert [p["arxiv_id"] for p in catalog.list(category="stat.ML")] == []
    assert [p["title"] for p in catalog.list(category="cs.LG")] == ["One, revised"]
    assert [p["title"] for p in catalog.list(category="cs")] == ["One, revised"]


def test_duplicates_within_one_batch_become_one_paper(runtime: Runtime) -> None:
    a = _paper("2301.00002", "Two", freshness=dt.datetime(2023, 1, 1))
    b = _paper("2301.00002", "Two (v2)", freshness=dt.datetime(2023, 3, 1))
    results = write_batch(runtime.engine, runtime.catalog_writer, [a, b])
    assert [r.outcome for r in results] == [Outcome.NEW, Outcome.UPDATED]
    assert runtime.catalog.count() == 1
    assert runtime.catalog.get("2301.00002")["title"] == "Two (v2)"  # type: ignore[index]


def test_title_only_paper_is_matched_later_by_title(runtime: Runtime) -> None:
    write_batch(
        runtime.engine,
        runtime.catalog_writer,
        [_paper(None, "Attention Is All You Need", source="listing")],
    )
    arxiv = _paper("1706.03762", "Attention is all you need", freshness=dt.datetime(2017, 6, 12))
    [result] = write_batch(runtime.engine, runtime.catalog_writer, [arxiv])
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
    write_batch(runtime.engine, runtime.catalog_writer, [record])
    older = _paper(
        "2606.00001", "Daily", source="hf-daily", daily=DailyEntry(submitted_at=when, upvotes=3)
    )
    [result] = write_batch(runtime.engine, runtime.catalog_writer, [older])
    assert result.outcome is Outcome.UNCHANGED
    paper = runtime.catalog.get("2606.00001")
    assert paper is not None and paper["daily"] is not None
    assert paper["daily"]["upvotes"] == 10
    assert paper["daily"]["submitted_by"] == "alice"
    assert paper["daily"]["submitted_on"] == dt.date(2026, 6, 12)


def test_stats_counts_papers(runtime: Runtime) -> None:
    write_batch(
        runtime.engine,
        runtime.catalog_writer,
        [_paper("2301.00003", "A"), _paper(None, "Untitled reading-list entry")],
    )
    stats = runtime.catalog.stats()
    assert stats["papers"] == 2
    assert stats["without_arxiv_id"] == 1


def test_two_writers_of_the_same_new_paper_on_postgresql_merge_rather_than_collide(
    runtime: Runtime,
) -> None:
    """An import and a web node's submission of the same new paper, at the same moment: the
    second writer waits for the first and then finds its paper (without the catalog's writer
    lock it inserted a duplicate and failed on the unique arXiv id)."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time (BEGIN IMMEDIATE)")
    record = _paper("2301.00042", "Raced", categories=["cs.LG"])
    outcome: list[Outcome] = []
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            results = write_batch(runtime.engine, runtime.catalog_writer, [record])
            outcome.extend(r.outcome for r in results)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    with runtime.engine.connect() as first:
        transaction = first.begin()
        assert [r.outcome for r in runtime.catalog_writer.upsert(first, [record])] == [Outcome.NEW]
        thread = threading.Thread(target=second_writer)
        thread.start()
        # Wait until the second writer's backend is queued on the advisory lock (PostgreSQL
        # says so in pg_locks), not for a guessed time.
        waiting = sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        with runtime.engine.connect() as observer:

            def queued() -> bool:
                found = bool(observer.execute(waiting).scalar_one())
                observer.rollback()
                return found

            wait_until(queued, within=30, every=0.01, what="the second writer never queued")
        assert thread.is_alive(), "the second writer should wait for the first"
        transaction.commit()
    thread.join(timeout=30)
    assert not errors, errors
    assert outcome == [Outcome.UNCHANGED]
    assert runtime.catalog.count() == 1
