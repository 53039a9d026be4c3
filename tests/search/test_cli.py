"""`paperfeed search`, `similar`, `index` and `eval beir` end to end."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest

from paperfeed.search import follow
from tests.support.cli import HEAD200, Cli


def test_search_json_lists_results_best_first(imported: Cli) -> None:
    out = json.loads(imported("search", "diphoton production cross sections", "--json").stdout)
    assert out[0]["id"] == "0704.0001"
    assert {"id", "title", "score"} <= set(out[0])
    scores = [hit["score"] for hit in out]
    assert scores == sorted(scores, reverse=True)


def test_search_prints_notices_for_odd_queries(imported: Cli) -> None:
    result = imported("search", "")
    assert "empty query" in result.stderr
    result = imported("search", 'foo:bar "unclosed', "--limit", "3")
    assert "unknown field" in result.stderr


def test_similar_excludes_the_paper(imported: Cli) -> None:
    out = json.loads(imported("similar", "0704.0002", "--limit", "5", "--json").stdout)
    assert len(out) == 5 and "0704.0002" not in [hit["id"] for hit in out]
    assert imported("similar", "not-an-id", ok=False).exit_code != 0


def test_index_commands(imported: Cli) -> None:
    assert "index matches the catalog" in imported("index", "check").stdout
    assert "built generation" in imported("index", "build", "--no-progress").stdout
    assert "embedded 0" in imported("index", "update", "--no-progress").stdout
    out = json.loads(imported("search", "diphoton", "--json").stdout)
    assert out and out[0]["id"] == "0704.0001"


def test_index_check_without_repair_reports_papers_not_embedded_and_no_vector_index(
    cli: Cli, data_dir: Path
) -> None:
    """Words indexed, nothing embedded, no vector index: drift that the repair fixes, so
    `--no-repair` must name it (it used to say the index matched the catalog)."""
    cli("import", "snapshot", data_dir / HEAD200, "--no-progress", "--no-index")
    cli("index", "update", "--no-embed", "--no-progress")
    found = cli("index", "check", "--no-repair", ok=False)
    assert found.exit_code == 1
    assert "index matches the catalog" not in found.stdout
    assert "found: 200 papers not embedded yet" in found.stdout
    assert "found: no vector index for " in found.stdout
    repaired = cli("index", "check").stdout
    assert "repaired:" in repaired and "embedded 200" in repaired
    assert "index matches the catalog" in cli("index", "check", "--no-repair").stdout


def test_an_import_leaves_a_long_embedding_backlog_to_index_update(
    cli: Cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inline embedding is bounded by the model's time, not a count of papers: 200 papers are
    ~2 s for MiniLM, so with a 1 s budget they wait for `index update`, which is announced
    with an estimate; the fast model embeds them inline."""
    monkeypatch.setattr(follow, "INLINE_EMBED_SECONDS", 1)
    out = cli("import", "snapshot", data_dir / HEAD200, "--no-progress").stderr
    assert "200 papers are not embedded yet" in out and "paperfeed index update" in out
    assert "embedded 200" in cli("index", "update", "--no-progress").stdout

    fast = Cli({**cli.env, "PAPERFEED_EMBEDDER": "wordllama"})
    out = fast("import", "snapshot", data_dir / HEAD200, "--no-progress").stderr
    assert "not embedded yet" not in out and "embedded 200" in out


def _small_beir(data_dir: Path, target: Path, queries: int = 12, docs: int = 200) -> Path:
    scifact = data_dir / "beir" / "scifact"
    lines = (scifact / "qrels" / "test.tsv").read_text().splitlines()
    qrels = [line.split("\t") for line in lines[1:]]
    chosen = sorted({q for q, _, _ in qrels})[:queries]
    relevant = {d for q, d, _ in qrels if q in chosen}
    with gzip.open(scifact / "corpus.jsonl.gz", "rb") as corpus:
        rows = [orjson.loads(line) for line in corpus]
    kept = [r for r in rows if r["_id"] in relevant]
    kept += [r for r in rows if r["_id"] not in relevant][: docs - len(kept)]
    (target / "qrels").mkdir(parents=True)
    (target / "corpus.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in kept))
    with (scifact / "queries.jsonl").open("rb") as source:
        wanted = [line for line in source if orjson.loads(line)["_id"] in chosen]
    (target / "queries.jsonl").write_bytes(b"".join(wanted))
    (target / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n"
        + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels if q in chosen)
    )
    return target


def _catalog_free_cli(tmp_path: Path) -> Cli:
    """`paperfeed eval` reads a folder and builds its own index: no catalog is involved."""
    return Cli({"PAPERFEED_HOME": str(tmp_path / "home"), "PAPERFEED_CONFIG": None})


def test_eval_beir_reports_three_modes(data_dir: Path, tmp_path: Path) -> None:
    folder = _small_beir(data_dir, tmp_path / "beir")
    cli = _catalog_free_cli(tmp_path)
    metrics = json.loads(cli("eval", "beir", folder, "--json", "--no-progress").stdout)
    assert set(metrics) == {"lexical", "dense", "hybrid"}
    for values in metrics.values():
        assert set(values) == {"ndcg@10", "recall@100", "mrr@10"}
        assert all(0.0 <= v <= 1.0 for v in values.values())
    assert metrics["hybrid"]["ndcg@10"] > 0.4


def test_eval_beir_rejects_a_folder_that_is_not_beir(tmp_path: Path) -> None:
    result = _catalog_free_cli(tmp_path)("eval", "beir", tmp_path, ok=False)
    assert result.exit_code != 0 and "qrels" in result.output


def test_head200_constant_is_the_sample(data_dir: Path) -> None:
    assert (data_dir / HEAD200).is_file()
