import random
import re
import string

import pytest

from paperfeed.runtime import Runtime
from paperfeed.search.query import parse_query
from paperfeed.search.service import MEANING_FLOOR, SOME_WORDS_FLOOR, QueryVectors


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
    # No hits and no notice: then nothing matches, and the count says so too.
    assert results.hits or results.notices or (results.total, results.listed) == (0, 0)


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


# -- the relevant set: what a search shows and counts ---------------------------------------------

NONSENSE = ["xqzv blorptang fnord", "qwxj vlorp", "zzkrq", "fnargle blimwop snerk", "xkcdq pflumph"]


def _nonsense(count: int) -> list[str]:
    """Pseudo-words of random letters (seeded), one to four of them."""
    rng = random.Random(7)
    return [
        " ".join(
            "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9)))
            for _ in range(rng.randint(1, 4))
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_a_query_that_matches_nothing_says_so(indexed: Runtime, sort: str) -> None:
    for query in [*NONSENSE, *_nonsense(40)]:
        results = indexed.search.search(query, sort=sort)  # type: ignore[arg-type]
        assert (results.total, results.hits) == (0, []), (query, results.hits[:1])
    # Without the floor (as evaluations rank) the nearest papers by meaning would be listed.
    unfloored = indexed.search.search(NONSENSE[0], floor=False)
    assert unfloored.hits and {h.matched_by for h in unfloored.hits} == {"meaning"}
    assert all(h.score < MEANING_FLOOR for h in unfloored.hits)


def test_real_queries_clear_the_floor_by_meaning(indexed: Runtime) -> None:
    # A paraphrase shares no word with its paper's title and holds no query word in full...
    found = indexed.search.search("pairs of photons produced at hadron colliders", limit=50)
    assert "0704.0001" in [h.arxiv_id for h in found.hits]
    # ... and dense-only mode keeps the papers close in meaning.
    dense = indexed.search.search("pebble games characterise sparse graphs", mode="dense")
    assert dense.hits[0].arxiv_id == "0704.0002" and dense.total >= len(dense.hits) > 0


def test_a_paper_sharing_one_word_is_not_a_match_unless_close_in_meaning(indexed: Runtime) -> None:
    query = "sparsity certifying decompositions"
    unfloored = indexed.search.search(query, floor=False, limit=200)
    shown = indexed.search.search(query, limit=200)
    assert shown.total < unfloored.total  # papers holding only "decompositions", far in meaning
    words = indexed.search_store.lexical
    holding_all = words.holding_every_word(parse_query(query), [h.paper_id for h in shown.hits])
    assert "0704.0002" in [h.arxiv_id for h in shown.hits]
    for hit in shown.hits:
        if hit.paper_id not in holding_all:
            [cosine] = words_cosines(indexed, query, [hit.paper_id])
            by_words = hit.matched_by.startswith("words")  # holds some of the words
            assert cosine >= (SOME_WORDS_FLOOR if by_words else MEANING_FLOOR), hit.title


def words_cosines(runtime: Runtime, query: str, paper_ids: list[int]) -> list[float]:
    embedder = runtime.search.embedder()
    assert embedder is not None
    index = runtime.search_store.vectors(embedder.dim)
    _, scores = index.similarities(embedder.embed_query(query), paper_ids)
    return [float(s) for s in scores]


@pytest.mark.parametrize("query", ["graph", "quantum field", "magnetic field", "neural networks"])
def test_both_orders_list_the_same_set_and_count_it_alike(indexed: Runtime, query: str) -> None:
    by_relevance = indexed.search.search(query, limit=200)
    by_date = indexed.search.search(query, limit=200, sort="date")
    assert by_relevance.total == by_date.total > 0
    assert by_date.listed == by_date.total
    relevant, newest = {h.paper_id for h in by_relevance.hits}, {h.paper_id for h in by_date.hits}
    if by_date.total <= 200:  # the date order lists the whole set: every ranked paper is in it
        assert relevant <= newest
        assert relevant == newest or by_relevance.listed < by_relevance.total
    dates = [h.submitted_at.date() for h in by_date.hits if h.submitted_at]
    assert len(dates) == len(by_date.hits) and dates == sorted(dates, reverse=True)


def test_an_arxiv_id_not_in_the_catalog_lists_nothing(indexed: Runtime) -> None:
    for sort in ("relevance", "date"):
        missing = indexed.search.search("1706.03762", sort=sort)  # type: ignore[arg-type]
        assert missing.missing_ids == ["1706.03762"]
        assert (missing.total, missing.hits) == (0, [])
    present = indexed.search.search("0704.0002 2501.99999")
    assert [h.arxiv_id for h in present.hits] == ["0704.0002"] and present.total == 1
    assert present.missing_ids == ["2501.99999"]


def test_snippets_mark_content_words_not_stopwords(indexed: Runtime) -> None:
    hit = indexed.search.search("pebble games for sparse graphs").hits[0]
    assert hit.snippet is not None
    marked = {m.lower() for m in re.findall(r"<mark>(.*?)</mark>", hit.snippet.html)}
    assert "pebble" in marked and "for" not in marked
    assert indexed.search.snippet_terms(parse_query("to be or not")) == {"to", "be", "or", "not"}


@pytest.mark.parametrize(
    "query", ["quantum graph", "sparse graph decompositions", '"pebble game" -photon cat:math.CO']
)
def test_exact_word_scores_are_what_a_plain_word_search_gives(indexed: Runtime, query: str) -> None:
    """The meaning candidates get their exact BM25 scores: the same as a plain BM25 search gives
    each paper; a paper holding none of the words (or failing a filter) gets none."""
    lexical = indexed.search.store.lexical
    parsed = parse_query(query)
    plain, total = lexical.search(parsed, limit=1000)
    assert plain and total == len(plain)
    everyone = lexical.all_ids()
    rng = random.Random(7)
    subset = rng.sample(sorted(everyone), 40) + [pid for pid, _ in plain[-3:]]
    got = lexical.scores(parsed, subset)
    want = dict(plain)
    assert got == {pid: want[pid] for pid in subset if pid in want}
    assert lexical.scores(parsed, []) == {}
    # The top without a count (as hybrid search takes its word candidates) is the same list.
    for depth in (1, 10, 1000):
        assert lexical.top(parsed, limit=depth) == plain[:depth]


@pytest.mark.parametrize(
    "query",
    ["sparsity certifying decompositions", "quantum field theory", '"dark matter" halo', "graph"],
)
def test_papers_holding_every_word_are_the_same_found_either_way(
    indexed: Runtime, query: str
) -> None:
    """`holding_every_word` reads the papers holding every word whole when they are few, else
    asks for the given papers by id: both ways give the same set."""
    words = indexed.search_store.lexical
    parsed = parse_query(query)
    unfloored = indexed.search.search(query, floor=False, limit=200)
    given = [h.paper_id for h in unfloored.hits]
    assert given
    whole = words.holding_every_word(parsed, given)  # (the tests' catalog: few papers)
    by_id = words.holding_every_word(parsed, given, few=0)
    assert whole == by_id
    assert whole <= set(given)
    every, _ = words.search(parsed, limit=10_000, every_word=True)
    assert whole == {pid for pid, _ in every} & set(given)


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
@pytest.mark.parametrize(
    "query",
    ["pairs of photons produced at hadron colliders", "sparsity certifying decompositions"],
)
def test_the_count_is_what_the_date_order_lists(indexed: Runtime, query: str, mode: str) -> None:
    """The relevant set's count adds the papers holding every word and those in it by meaning
    only (no query for the latter's ids): it must be exactly what the date order lists."""
    found = indexed.search.search(query, mode=mode, limit=5_000)  # type: ignore[arg-type]
    listed = indexed.search.search(query, mode=mode, sort="date", limit=5_000)  # type: ignore[arg-type]
    assert found.total == listed.total == len(listed.hits)
    assert {h.paper_id for h in found.hits} == {h.paper_id for h in listed.hits}
    # With a filter (the papers found by meaning passed it too: counted once, as listed).
    kept = indexed.search.search(query, mode=mode, limit=5_000, categories=["hep-ph"])  # type: ignore[arg-type]
    kept_by_date = indexed.search.search(
        query,
        mode=mode,  # type: ignore[arg-type]
        sort="date",
        limit=5_000,
        categories=["hep-ph"],
    )
    assert kept.total == kept_by_date.total == len(kept_by_date.hits) <= found.total
    if mode == "hybrid":  # some are in it by meaning, not holding every word
        ids = [h.paper_id for h in found.hits]
        holding = indexed.search_store.lexical.holding_every_word(parse_query(query), ids)
        assert len(holding) < len(ids)


@pytest.mark.parametrize(
    ("query", "categories"),
    [
        ("pairs of photons produced at hadron colliders", []),
        ("pairs of photons produced at hadron colliders", ["hep-ph"]),
        ("sparsity certifying decompositions", []),
    ],
)
def test_the_relevant_set_is_the_same_when_too_many_hold_every_word(
    indexed: Runtime, query: str, categories: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hybrid search reads the papers holding every word beside the query's embedding when
    they are few, and counts them as read when there is no filter. When they are too many
    (here: said to be, as at a million papers for common words) the candidates are asked for
    by id and the papers counted by a query: the same set, ranked and counted alike."""
    few = indexed.search.search(query, limit=200, categories=categories)
    lexical = indexed.search_store.lexical
    monkeypatch.setattr(lexical, "every_word_papers", lambda query, *, few: None)
    many = indexed.search.search(query, limit=200, categories=categories)
    assert few.total == many.total > 0
    assert [h.paper_id for h in few.hits] == [h.paper_id for h in many.hits]


def test_a_query_is_embedded_once_for_all_its_pages(
    indexed: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paging, feeds and digests repeat queries: a process embeds each text once (the most
    recently used QUERY_VECTORS of them), and its results are the same every time."""
    embedder = indexed.search.embedder()
    assert embedder is not None
    texts: list[str] = []
    real = type(embedder).embed_query

    def counted(self: object, text: str) -> object:
        texts.append(text)
        return real(self, text)

    monkeypatch.setattr(type(embedder), "embed_query", counted)
    query = "pebble games on sparse graphs, counted"
    first = _ids(indexed, query, limit=3)
    assert _ids(indexed, query, limit=3, offset=3) != first
    assert _ids(indexed, query, limit=3) == first
    assert texts == [parse_query(query).text]
    _ids(indexed, "photons at hadron colliders, counted")
    assert len(texts) == 2


def test_the_query_vectors_kept_are_the_most_recently_used(indexed: Runtime) -> None:
    embedder = indexed.search.embedder()
    assert embedder is not None
    kept = QueryVectors(size=2)
    first = kept.get(embedder, "graph rigidity")
    assert not first.flags.writeable  # (one array shared by every search of the text)
    kept.get(embedder, "hadron colliders")
    assert kept.get(embedder, "graph rigidity") is first  # used again: kept, now the newest
    kept.get(embedder, "protein folding")  # the least recently used goes
    assert kept.get(embedder, "graph rigidity") is first
    assert kept.get(embedder, "hadron colliders") is not None
    assert len(kept._kept) == 2
    off = QueryVectors(size=0)  # (setting search_query_vectors = 0: none kept)
    assert off.get(embedder, "graph rigidity") is not off.get(embedder, "graph rigidity")
