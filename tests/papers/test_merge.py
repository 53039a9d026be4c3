import datetime as dt

from paperfeed.papers.merge import merge_row, new_row
from paperfeed.papers.record import PaperRecord


def _record(**fields: object) -> PaperRecord:
    base: dict[str, object] = {
        "source": "snapshot",
        "arxiv_id": "2301.00001",
        "title": "A title",
        "abstract": "An abstract.",
        "versions": [{"version": "v1", "created": "2023-01-02T10:00:00"}],
        "freshness": dt.datetime(2023, 1, 2, 10),
    }
    base.update(fields)
    return PaperRecord(**base)  # type: ignore[arg-type]


def test_newer_data_replaces_older_values() -> None:
    row = new_row(_record())
    newer = _record(
        source="oai-pmh",
        abstract="A corrected abstract.",
        freshness=dt.datetime(2023, 5, 1),
        versions=[{"version": "v2", "created": "2023-05-01T00:00:00"}],
    )
    merged = merge_row(row, newer)
    assert merged["abstract"] == "A corrected abstract."
    assert [v["version"] for v in merged["versions"]] == ["v1", "v2"]
    assert merged["sources"] == ["oai-pmh", "snapshot"]
    assert merged["submitted_at"] == dt.datetime(2023, 1, 2, 10)


def test_older_data_only_fills_gaps() -> None:
    row = new_row(_record(freshness=dt.datetime(2024, 1, 1), doi=None))
    older = _record(
        source="oai-pmh",
        abstract="Stale abstract.",
        doi="10.1/x",
        freshness=dt.datetime(2023, 1, 1),
    )
    merged = merge_row(row, older)
    assert merged["abstract"] == "An abstract."
    assert merged["doi"] == "10.1/x"


def test_equally_fresh_sources_do_not_overwrite_each_other() -> None:
    first = new_row(_record(title="Title A"))
    merged = merge_row(first, _record(source="other", title="Title B"))
    assert merged["title"] == "Title A"


def test_merging_the_same_record_twice_changes_nothing() -> None:
    record = _record(links=[{"kind": "github", "url": "https://github.com/a/b"}])
    once = merge_row(new_row(record), record)
    twice = merge_row(once, record)
    assert once["content_hash"] == twice["content_hash"] == new_row(record)["content_hash"]


def test_records_without_freshness_never_override() -> None:
    row = new_row(_record())
    merged = merge_row(row, _record(source="hf-daily", abstract="HF text", freshness=None))
    assert merged["abstract"] == "An abstract."


def test_announcement_day_follows_the_arxiv_schedule() -> None:
    # Submitted Friday 2026-11-20 13:00 EST (before the cutoff): announced Sunday evening.
    row = new_row(
        _record(versions=[{"version": "v1", "created": "2026-11-20T18:00:00"}], submitted_at=None)
    )
    assert row["announced_on"] == dt.date(2026, 11, 22)


def test_a_sources_categories_replace_predicted_ones_whatever_its_age() -> None:
    """A Hugging Face paper (no categories, no freshness) got categories from its neighbours;
    arXiv's own categories replace them, even from a record no fresher than the row."""
    row = new_row(_record(source="hf-daily", freshness=None, categories=[]))
    row.update(primary_category="cs.CV", categories=["cs.CV"], categories_predicted=True)
    arxiv = _record(
        source="ids", freshness=None, primary_category="cs.LG", categories=["cs.LG", "stat.ML"]
    )
    merged = merge_row(row, arxiv)
    assert (merged["primary_category"], merged["categories"]) == ("cs.LG", ["cs.LG", "stat.ML"])
    assert merged["categories_predicted"] is False
    # Without categories a record leaves the predicted ones (and the flag) alone.
    again = merge_row(row, _record(source="hf-daily", freshness=None, categories=[]))
    assert again["categories"] == ["cs.CV"] and "categories_predicted" not in again


def test_real_categories_are_kept_as_merged_before() -> None:
    row = new_row(_record(primary_category="cs.LG", categories=["cs.LG"]))
    row["categories_predicted"] = False
    older = _record(categories=["math.OC"], primary_category="math.OC", freshness=None)
    assert merge_row(row, older)["categories"] == ["cs.LG"]
