"""Similar papers: `SearchService.similar` (words and meaning, the paper itself and hidden papers
left out, words alone without vectors), its blend, and `paperfeed eval similar` on real folders."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from paperfeed.runtime import Runtime
from paperfeed.search.service import SearchService, blend_similar
from paperfeed.search.similar_eval import (
    SimilarQuery,
    SimilarSetError,
    load_similar_set,
    query_metrics,
)
from tests.support.cli import Cli


def _paper(runtime: Runtime, arxiv_id: str) -> int:
    row = runtime.catalog.get(arxiv_id)
    assert row is not None
    return int(row["id"])


def _service(runtime: Runtime, **options: Any) -> SearchService:
    options.setdefault("embedder", runtime.embedder)
    return SearchService(runtime.catalog, runtime.search_store, **options)


def test_similar_papers_leave_out_the_paper_and_hidden_papers(indexed: Runtime) -> None:
    paper = _paper(indexed, "0704.0002")
    shown = [hit.paper_id for hit in _service(indexed).similar(paper, limit=10)]
    assert len(shown) == 10 and paper not in shown
    hidden = set(shown[:3])
    service = _service(indexed, hidden=lambda: hidden)
    after = [hit.paper_id for hit in service.similar(paper, limit=10)]
    assert len(after) == 10 and not hidden & set(after) and paper not in after
    # The others stay (scores are normalised over the candidates: their order may shift).
    assert len(set(shown[3:]) & set(after)) >= 6


def test_similar_papers_blend_words_and_meaning(indexed: Runtime) -> None:
    """The pebble-game paper's neighbours: found by both legs mostly, each hit saying which
    found it, best first; a paper on the same graphs holds its informative words."""
    hits = indexed.search.similar(_paper(indexed, "0704.0002"), limit=10)
    assert {hit.matched_by for hit in hits} <= {"words", "meaning", "words+meaning"}
    assert hits[0].matched_by == "words+meaning"
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)


def test_similar_papers_by_words_alone_without_vectors(indexed: Runtime) -> None:
    paper = _paper(indexed, "0704.0002")
    hits = _service(indexed, embedder=None).similar(paper, limit=5)
    assert hits and paper not in [hit.paper_id for hit in hits]
    assert {hit.matched_by for hit in hits} == {"words"}
    terms = indexed.search_store.lexical.informative_terms("pebble games on sparse graphs", 10)
    assert set(terms) == {"game", "spars", "graph"}  # "pebble": no other paper holds it
    words = indexed.search_store.lexical.like(terms, limit=5, exclude=[paper])
    assert words and paper not in [pid for pid, _ in words]


def test_word_candidates_found_by_the_rarer_words_are_scored_by_all(indexed: Runtime) -> None:
    """With `max_share` the papers are found by the words few papers hold, then scored by
    every word: each score is the whole query's (`like_scores`), best first."""
    lexical = indexed.search_store.lexical
    paper = _paper(indexed, "0704.0002")
    row = indexed.catalog.get_many([paper], ("title", "abstract"))[paper]
    terms = lexical.informative_terms(f"{row['title']} {row['abstract']}", 25)
    held, papers = lexical.document_frequencies(list(terms))
    assert any(df > 0.02 * papers for df in held.values())  # some words only score
    assert any(df <= 0.02 * papers for df in held.values())
    found = lexical.like(terms, limit=10, exclude=[paper], max_share=0.02)
    assert len(found) == 10 and paper not in [pid for pid, _ in found]
    exact = lexical.like_scores(terms, [pid for pid, _ in found])
    assert [score for _, score in found] == pytest.approx([exact[pid] for pid, _ in found])
    assert [score for _, score in found] == sorted((score for _, score in found), reverse=True)
    # Every word searching: the best papers of the whole query, the same scores.
    everything = lexical.like(terms, limit=10, exclude=[paper])
    assert [s for _, s in everything] == pytest.approx([exact.get(p, s) for p, s in everything])
    assert everything[0][1] >= found[0][1] - 1e-4


def test_many_excluded_papers_are_left_out_of_the_word_candidates(indexed: Runtime) -> None:
    lexical = indexed.search_store.lexical
    terms = lexical.informative_terms("pebble games on sparse graphs and their rigidity", 10)
    best = [pid for pid, _ in lexical.like(terms, limit=400)]
    excluded = best[:5] + list(range(10**6, 10**6 + 300))  # past the count left out after
    after = lexical.like(terms, limit=20, exclude=excluded)
    assert after and not set(best[:5]) & {pid for pid, _ in after}
    assert [pid for pid, _ in after] == [pid for pid in best if pid not in excluded][:20]


def test_similar_papers_of_a_paper_not_in_the_catalog(indexed: Runtime) -> None:
    assert indexed.search.similar(10**9) == []


def test_blend_ranks_agreement_first_and_gives_missing_vectors_the_lowest_cosine() -> None:
    words = {1: 9.0, 2: 9.0, 3: 1.0, 4: 0.0}
    cosines = {1: 0.9, 2: 0.3, 3: 0.9, 4: 0.2}
    ranked = blend_similar([4, 3, 2, 1], words, cosines, dense_weight=0.5)
    assert ranked[0][0] == 1 and ranked[-1][0] == 4  # high on both first, on neither last
    without = blend_similar([1, 5], {1: 2.0, 5: 2.0}, {1: 0.8}, dense_weight=0.5)
    assert [pid for pid, _ in without] == [1, 5]  # 5 has no vector: the lowest cosine
    meaning_only = blend_similar([1, 3], words, cosines, dense_weight=1.0)
    assert meaning_only[0][1] == meaning_only[1][1]  # equal cosines: ties, by id


def test_query_metrics_count_related_and_other_papers() -> None:
    query = SimilarQuery("q", frozenset({"a", "b"}), frozenset({"x"}))
    metrics = query_metrics(["a", "x", "c", "b"], query)
    assert metrics["recall@10"] == 1.0
    assert metrics["other@10"] == 2.0 and metrics["unrelated@10"] == 1.0
    assert 0.5 < metrics["ndcg@10"] < 1.0
    assert query_metrics(["a", "b"], query)["ndcg@10"] == 1.0
    assert query_metrics([], query) == {
        "recall@10": 0.0,
        "ndcg@10": 0.0,
        "other@10": 0.0,
        "unrelated@10": 0.0,
    }


# -- paperfeed eval similar ------------------------------------------------------------------------


def _write(folder: Path, papers: list[dict[str, object]], queries: list[dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "papers.jsonl").write_bytes(b"\n".join(orjson.dumps(p) for p in papers))
    (folder / "queries.jsonl").write_bytes(b"\n".join(orjson.dumps(q) for q in queries))
    return folder


def _scifact_folder(data_dir: Path, folder: Path, claims: int = 10, others: int = 150) -> Path:
    """SciFact abstracts that are evidence for one claim are related to each other: the
    abstracts of the first `claims` claims with several, and `others` other abstracts."""
    scifact = data_dir / "beir" / "scifact"
    evidence: dict[str, set[str]] = {}
    for line in (scifact / "qrels" / "train.tsv").read_text().splitlines()[1:]:
        claim, doc, _ = line.split("\t")
        evidence.setdefault(claim, set()).add(doc)
    groups = [docs for docs in evidence.values() if len(docs) >= 2][:claims]
    wanted = set().union(*groups)
    related = {doc: set().union(*(g for g in groups if doc in g)) - {doc} for doc in wanted}
    with gzip.open(scifact / "corpus.jsonl.gz", "rb") as corpus:
        rows = [orjson.loads(line) for line in corpus]
    kept = [r for r in rows if r["_id"] in wanted]
    kept += [r for r in rows if r["_id"] not in wanted][:others]
    papers = [{"id": r["_id"], "title": r["title"], "abstract": r["text"]} for r in kept]
    queries = [{"paper": doc, "related": sorted(related[doc])} for doc in sorted(wanted)]
    return _write(folder, papers, queries)


def _catalog_free_cli(tmp_path: Path) -> Cli:
    return Cli({"PAPERFEED_HOME": str(tmp_path / "home"), "PAPERFEED_CONFIG": None})


def test_eval_similar_measures_similar_papers_on_a_real_folder(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = _scifact_folder(data_dir, tmp_path / "set")
    queries = len((folder / "queries.jsonl").read_text().splitlines())
    out = _catalog_free_cli(tmp_path)("eval", "similar", folder, "--json", "--no-progress")
    metrics = json.loads(out.stdout)
    assert set(metrics) == {"queries", "recall@10", "ndcg@10", "other@10"}
    assert metrics["queries"] == queries
    # Abstracts that support one claim are found for each other far above chance (a random
    # top 10 of ~170 papers holds one of ~2 related papers 1 time in 9).
    assert metrics["recall@10"] > 0.5 and metrics["ndcg@10"] > 0.4
    assert 9.0 - 2 <= metrics["other@10"] <= 9.5
    text = _catalog_free_cli(tmp_path)("eval", "similar", folder, "--no-progress").stdout
    assert f"recall@10     {metrics['recall@10']:.4f}" in text


def test_eval_similar_reports_judged_unrelated_papers(tmp_path: Path) -> None:
    papers = [
        {"id": "a", "title": "Graph sparsity and pebble games", "abstract": "Pebble games."},
        {"id": "b", "title": "Pebble game algorithms for sparse graphs", "abstract": ""},
        {"id": "c", "title": "Cooking pasta", "abstract": "Boil water, add salt and pasta."},
    ]
    folder = _write(
        tmp_path / "set", papers, [{"paper": "a", "related": ["b"], "unrelated": ["c"]}]
    )
    metrics = json.loads(
        _catalog_free_cli(tmp_path)("eval", "similar", folder, "--json", "--no-progress").stdout
    )
    assert metrics["recall@10"] == 1.0 and metrics["ndcg@10"] == 1.0
    assert metrics["unrelated@10"] == 1.0 and metrics["other@10"] == 1.0


PAPERS = [{"id": "a", "title": "A", "abstract": "x"}, {"id": "b", "title": "B", "abstract": "y"}]


@pytest.mark.parametrize(
    ("papers", "queries", "message"),
    [
        (None, [{"paper": "a", "related": ["b"]}], "no papers.jsonl"),
        (PAPERS, None, "no queries.jsonl"),
        ([], [{"paper": "a", "related": ["b"]}], "holds no papers"),
        ([*PAPERS, {"id": "a", "title": "again"}], [], "appears twice"),
        ([{"title": "no id"}], [], 'no paper id ("id")'),
        ([{"id": "a", "title": " ", "abstract": ""}], [], "neither title nor abstract"),
        ([{"id": "a", "title": ["A"]}], [], "must be text"),
        (PAPERS, [], "holds no queries"),
        (PAPERS, [{"paper": "z", "related": ["b"]}], "'z' is not in papers.jsonl"),
        (PAPERS, [{"paper": "a", "related": ["z"]}], "not in papers.jsonl: ['z']"),
        (PAPERS, [{"paper": "a", "related": "b"}], "must be a list of paper ids"),
        (PAPERS, [{"paper": "a", "related": []}], "has no related papers"),
        (PAPERS, [{"paper": "a", "related": ["a", "b"]}], "related to itself"),
        (PAPERS, [{"paper": "a", "related": ["b"], "unrelated": ["b"]}], "both related"),
        (PAPERS, [{"related": ["b"]}], 'no query paper ("paper")'),
        (PAPERS, [{"paper": "a", "related": ["b"]}] * 2, "asked twice"),
    ],
)
def test_a_bad_folder_says_what_is_wrong(
    tmp_path: Path,
    papers: list[dict[str, object]] | None,
    queries: list[dict[str, object]] | None,
    message: str,
) -> None:
    folder = _write(tmp_path / "set", papers or [], queries or [])
    if papers is None:
        (folder / "papers.jsonl").unlink()
    if queries is None:
        (folder / "queries.jsonl").unlink()
    with pytest.raises(SimilarSetError) as error:
        load_similar_set(folder)
    assert message in str(error.value)


def test_eval_similar_rejects_malformed_lines_with_their_place(tmp_path: Path) -> None:
    folder = _write(tmp_path / "set", PAPERS, [{"paper": "a", "related": ["b"]}])
    with (folder / "queries.jsonl").open("a") as out:
        out.write('\n{"paper": "b", "related": ["a"]\n')
    result = _catalog_free_cli(tmp_path)("eval", "similar", folder, ok=False)
    assert result.exit_code == 1 and "queries.jsonl:2" in result.output
    (folder / "queries.jsonl").write_text('["a", "b"]\n')
    result = _catalog_free_cli(tmp_path)("eval", "similar", folder, ok=False)
    assert result.exit_code == 1 and "queries.jsonl:1: not a JSON object" in result.output
