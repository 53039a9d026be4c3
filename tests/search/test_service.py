import pytest

from paperfeed.runtime import Runtime
from paperfeed.search.query import parse_query


def _ids(runtime: Runtime, query: str, **options: object) -> list[str | None]:
    results = runtime.search.search(query, **options)  # type: ignore[arg-type]
    return [hit.arxiv_id for hit in results.hits]


def test_own_title_words_find_the_paper_first(indexed: Runtime) -> None:
    assert _ids(indexed, "Sparsity-certifying Graph Decompositions")[0] == "0704.0002"


def test_a_paraphrase_finds_the_paper_by_meaning(indexed: Runtime) -> None:
    found = _ids(indexed, "pairs of photons produced at hadron colliders", limit=5)
    assert "0704.0001" in found


def test_dense_only_mode_also_ranks_by_meaning(indexed: Runtime) -> None:
    results = indexed.search.search("pebble games characterise sparse graphs", mode="dense")
    assert results.hits and results.hits[0].arxiv_id == "0704.0002"
    assert results.hits[0].matched_by == "meaning"


def test_an_arxiv_id_or_url_puts_that_paper_first(indexed: Runtime) -> None:
    assert _ids(indexed, "https://arxiv.org/abs/0704.0001v2 graphs")[0] == "0704.0001"
    missing = indexed.search.search("2501.99999")
    assert any("not in the catalog" in n for n in missing.notices)


def test_filters_restrict_every_result(indexed: Runtime) -> None:
    results = indexed.search.search("neural networks cat:stat.ML", limit=20)
    assert results.hits
    assert all("stat.ML" in hit.categories for hit in results.hits)
    by_author = indexed.search.search("author:Streinu")
    assert [h.arxiv_id for h in by_author.hits] == ["0704.0002"]
    old = indexed.search.search("quantum until:2007-12-31", limit=50)
    assert old.hits
    assert all(h.submitted_at is not None and h.submitted_at.year <= 2007 for h in old.hits)


def test_exclusions_and_phrases_apply_to_meaning_matches_too(indexed: Runtime) -> None:
    with_word = indexed.search.search("graph decompositions", limit=30)
    assert any("pebble" in (h.snippet.text if h.snippet else "") for h in with_word.hits)
    without = indexed.search.search("graph decompositions -pebble", limit=30)
    assert "0704.0002" not in [h.arxiv_id for h in without.hits]
    phrase = indexed.search.search('"pebble game"', limit=30)
    assert [h.arxiv_id for h in phrase.hits] == ["0704.0002"]


def test_snippets_mark_matched_words_and_escape_markup(indexed: Runtime) -> None:
    hit = indexed.search.search("pebble game colors").hits[0]
    assert hit.snippet is not None
    assert "<mark>pebble</mark>" in hit.snippet.html
    assert "<script" not in hit.snippet.html


def test_sort_by_date_orders_newest_first(indexed: Runtime) -> None:
    hits = indexed.search.search("graph", sort="date", limit=20).hits
    dates = [h.submitted_at.date() for h in hits if h.submitted_at]
    assert dates == sorted(dates, reverse=True)


def test_filters_alone_list_newest_papers(indexed: Runtime) -> None:
    hits = indexed.search.search("cat:cs.LG", limit=5).hits
    assert hits and all("cs.LG" in h.categories for h in hits)


def test_pagination_does_not_repeat_results(indexed: Runtime) -> None:
    first = _ids(indexed, "magnetic field", limit=10)
    second = _ids(indexed, "magnetic field", limit=10, offset=10)
    assert first and second and not set(first) & set(second)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        '"',
        "-",
        "author:",
        "(((",
        '"unbalanced phrase',
        "a AND (b OR c",
        "title:foo^2 ~ * ? \\ / [ ] { }",
        "'; DROP TABLE papers; --",
        "🚀🔥 transformers",
        "ünïcödé 量子 коммутатор",
        "x" * 10_000,
        "graph " * 3000,
        "cat:",
        "year:abc",
        "<script>alert(1)</script>",
        "\x00",
    ],
)
def test_hostile_queries_give_results_or_a_clear_notice(indexed: Runtime, raw: str) -> None:
    results = indexed.search.search(raw)
    assert results.hits or results.notices or not parse_query(raw).has_text


def test_empty_query_explains_itself(indexed: Runtime) -> None:
    results = indexed.search.search("")
    assert not results.hits and "empty query" in results.notices[0]


def test_similar_papers_exclude_the_paper_itself(indexed: Runtime) -> None:
    row = indexed.catalog.get("0704.0002")
    assert row is not None
    hits = indexed.search.similar(row["id"], limit=5)
    assert len(hits) == 5
    assert row["id"] not in [h.paper_id for h in hits]
    assert hits[0].score >= hits[-1].score


def test_stopwords_beside_content_words_neither_match_nor_score(indexed: Runtime) -> None:
    plain = indexed.search.search("graph decompositions", mode="lexical", limit=50)
    padded = indexed.search.search("the graph of the decompositions in a", mode="lexical", limit=50)
    assert [(h.arxiv_id, h.score) for h in padded.hits] == [
        (h.arxiv_id, h.score) for h in plain.hits
    ]
    assert padded.total == plain.total < indexed.search_store.lexical.num_docs()


def test_a_query_of_stopwords_only_still_finds_papers(indexed: Runtime) -> None:
    results = indexed.search.search("to be or not to be", mode="lexical")
    assert results.hits and results.total > 0


def test_lexical_mode_counts_every_match_while_fetching_one_page(indexed: Runtime) -> None:
    page = indexed.search.search("quantum", mode="lexical", limit=3)
    more = indexed.search.search("quantum", mode="lexical", limit=40)
    assert len(page.hits) == 3 and page.total == more.total > 3
    assert [h.arxiv_id for h in page.hits] == [h.arxiv_id for h in more.hits[:3]]
