"""The Hugging Face daily papers importer, on real saved `api/daily_papers` responses."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from paperfeed.ingest import hf_daily
from paperfeed.ingest.base import FormatError
from paperfeed.ingest.formats import FORMATS
from paperfeed.ingest.runner import Importer, ImportSummary
from paperfeed.runtime import Runtime

JUNE = "daily_papers_2026-06-12.json"
JULY = "daily_papers_2026-07-31.json"
AUGUST_PRETTY = "daily_papers_2026-08-03_3-entries_pretty.json"
ATOM_AUGUST = "query_cs.AI-LG-CL_max25_2026-08-02.xml"  # shares 3 papers with JULY


def run_import(
    runtime: Runtime, fmt: str, path: Path, log: io.StringIO | None = None
) -> ImportSummary:
    importer = Importer(runtime.engine, log=log or io.StringIO())
    return importer.import_file(FORMATS[fmt], path)


def hf_file(data_dir: Path, name: str) -> Path:
    return data_dir / "fixtures" / "hf_papers" / name


def load(data_dir: Path, name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = orjson.loads(hf_file(data_dir, name).read_bytes())
    return entries


def write_json(tmp_path: Path, entries: Any, name: str = "daily.json") -> Path:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(entries))
    return path


def test_imports_all_three_real_responses_with_their_daily_entries(
    runtime: Runtime, data_dir: Path
) -> None:
    summaries = [run_import(runtime, "hf-daily", hf_file(data_dir, n)) for n in (JUNE, JULY)]
    summaries.append(run_import(runtime, "hf-daily", hf_file(data_dir, AUGUST_PRETTY)))

    assert [s.new for s in summaries] == [30, 30, 3]
    assert sum(s.rejected for s in summaries) == 0

    paper = runtime.catalog.get("2606.12730")
    assert paper is not None
    assert paper["title"] == (
        "Rethinking Psychometric Evaluation of LLMs: When and Why Self-Reports Predict Behavior"
    )
    assert paper["sources"] == ["hf-daily"]
    assert paper["freshness"] is None
    assert paper["submitted_at"] == dt.datetime(2026, 6, 10)
    assert [a["name"] for a in paper["authors"][:2]] == ["Rafal Kocielnik", "Pengrui Han"]
    daily = paper["daily"]
    assert daily["upvotes"] == 5
    assert daily["submitted_by"] == "RKocielnik"
    assert daily["submitted_on"] == dt.date(2026, 6, 12)
    assert daily["num_comments"] == 3
    assert daily["github_repo"].startswith("https://github.com/psychology-of-AI/")
    assert daily["github_stars"] == 1
    assert daily["ai_summary"].startswith("Psychometric assessments of LLM behavior")
    assert "Theory of Planned Behavior" in daily["ai_keywords"]
    assert {"kind": "github", "url": daily["github_repo"]} in paper["links"]

    # Entries of the newer responses lack the AI summary; the pretty one has a project page.
    pretty = runtime.catalog.get("2607.26654")
    assert pretty is not None
    assert pretty["title"] == "Constitutional Midtraining: Content Presence Drives Alignment Gains"
    assert pretty["daily"]["submitted_by"] == "hunarbatra"
    assert pretty["daily"]["submitted_on"] == dt.date(2026, 8, 3)
    assert pretty["daily"]["project_page"] == "https://www.lesswrong.com/posts/n5htoDGvKKJFAjji2"
    assert pretty["daily"]["github_stars"] == 2
    assert pretty["daily"]["ai_summary"] is None
    assert pretty["daily"]["ai_keywords"] == []
    assert pretty["daily"]["organization"] == "University of Oxford"  # its full name
    assert pretty["daily"]["thumbnail"] == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2607.26654.png"
    )
    assert runtime.catalog.stats()["daily_entries"] == 63


def test_reimporting_a_response_changes_nothing(runtime: Runtime, data_dir: Path) -> None:
    path = hf_file(data_dir, JUNE)
    run_import(runtime, "hf-daily", path)
    again = run_import(runtime, "hf-daily", path)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 30)


def test_hf_text_never_overrides_arxiv_metadata_it_only_fills_gaps(
    runtime: Runtime, data_dir: Path
) -> None:
    run_import(runtime, "arxiv-atom", data_dir / "fixtures" / "arxiv_api" / ATOM_AUGUST)
    before = runtime.catalog.get("2607.28582")
    assert before is not None

    summary = run_import(runtime, "hf-daily", hf_file(data_dir, JULY))

    assert (summary.new, summary.updated) == (27, 3)
    after = runtime.catalog.get("2607.28582")
    assert after is not None
    assert before["title"].startswith("$β$-OPSD: Deriving with Policy Optimization")
    assert after["title"] == before["title"]
    assert after["abstract"] == before["abstract"]
    assert after["submitted_at"] == before["submitted_at"]
    assert after["freshness"] == before["freshness"]
    assert after["sources"] == ["arxiv-api", "hf-daily"]
    assert after["daily"]["upvotes"] == 19
    assert {"kind": "project", "url": "https://umd-huang-lab.github.io/beta-opsd/"} in after[
        "links"
    ]


def test_arxiv_metadata_imported_after_hf_replaces_hf_text(
    runtime: Runtime, data_dir: Path
) -> None:
    run_import(runtime, "hf-daily", hf_file(data_dir, JULY))
    assert runtime.catalog.get("2607.28582")["title"].startswith("β-OPSD")  # type: ignore[index]

    run_import(runtime, "arxiv-atom", data_dir / "fixtures" / "arxiv_api" / ATOM_AUGUST)

    paper = runtime.catalog.get("2607.28582")
    assert paper is not None
    assert paper["title"].startswith("$β$-OPSD")
    assert paper["daily"]["upvotes"] == 19


def test_an_older_response_never_lowers_upvotes_or_comments(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    older = load(data_dir, AUGUST_PRETTY)
    for entry in older:
        entry["paper"]["upvotes"] = 1
        entry["numComments"] = 0
    newer = load(data_dir, AUGUST_PRETTY)
    newer[0]["paper"]["upvotes"] = 40

    run_import(runtime, "hf-daily", hf_file(data_dir, AUGUST_PRETTY))
    run_import(runtime, "hf-daily", write_json(tmp_path, older, "older.json"))
    paper = runtime.catalog.get("2607.26654")
    assert paper is not None
    assert (paper["daily"]["upvotes"], paper["daily"]["num_comments"]) == (3, 1)

    run_import(runtime, "hf-daily", write_json(tmp_path, newer, "newer.json"))
    assert runtime.catalog.get("2607.26654")["daily"]["upvotes"] == 40  # type: ignore[index]


def test_a_malformed_entry_is_rejected_with_its_number_and_the_rest_imported(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    entries: list[Any] = load(data_dir, AUGUST_PRETTY)
    entries[1]["paper"]["id"] = "not-an-id"
    entries[2]["paper"]["upvotes"] = "many"
    entries.append({"title": "no paper object"})
    entries.append("a string")
    log = io.StringIO()
    summary = run_import(runtime, "hf-daily", write_json(tmp_path, entries), log)

    assert (summary.new, summary.rejected) == (1, 4)
    lines = log.getvalue().splitlines()
    assert any("daily.json entry 2: not an arXiv id: 'not-an-id'" in line for line in lines)
    assert any("daily.json entry 3: field 'upvotes' is not a number" in line for line in lines)
    assert any("daily.json entry 4: missing 'paper' object" in line for line in lines)
    assert any("daily.json entry 5: entry is not a JSON object" in line for line in lines)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"error": "Invalid date"}', "expected a JSON array, found dict"),
        (b"[1, 2, 3]", "entries have no 'paper' object"),
        (b'[{"paper": {"id": "2301.0', "not JSON"),
        (b"<feed/>", "not JSON"),
    ],
)
def test_a_file_that_is_not_a_daily_papers_response_fails_fast(
    runtime: Runtime, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "daily.json"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        run_import(runtime, "hf-daily", path)
    assert runtime.catalog.count() == 0


def test_an_empty_response_imports_nothing(runtime: Runtime, tmp_path: Path) -> None:
    summary = run_import(runtime, "hf-daily", write_json(tmp_path, []))
    assert summary.records == 0


def test_resuming_skips_the_entries_already_imported(data_dir: Path) -> None:
    data = hf_file(data_dir, JULY).read_bytes()
    everything = list(hf_daily.parse(io.BytesIO(data), JULY))
    assert list(hf_daily.parse(io.BytesIO(data), JULY, skip=25)) == everything[25:]


def test_markup_latex_and_emoji_in_titles_are_kept_as_text(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    entries = load(data_dir, AUGUST_PRETTY)[:1]
    title = "<script>alert('x')</script> <b>Bold</b> $\\mathcal{O}(n^2)$ \\emph{Attention} 🤖"
    entries[0]["paper"]["title"] = entries[0]["title"] = title
    entries[0]["paper"]["ai_summary"] = "<img src=x onerror=alert(1)>"
    run_import(runtime, "hf-daily", write_json(tmp_path, entries))

    paper = runtime.catalog.get("2607.26654")
    assert paper is not None
    assert paper["title"] == title
    assert paper["daily"]["ai_summary"] == "<img src=x onerror=alert(1)>"
