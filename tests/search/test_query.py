import datetime as dt

import pytest

from paperfeed.search.query import parse_query


def test_free_text_phrases_and_exclusions() -> None:
    q = parse_query('self-supervised "speech recognition" -vision -"image net"')
    assert q.terms == ["self-supervised"]
    assert q.phrases == ["speech recognition"]
    assert q.excluded == ["vision", "image net"]
    assert q.text == "self-supervised speech recognition"


def test_fields_filter_by_author_category_and_dates() -> None:
    q = parse_query('author:Hinton au:"van der Maaten" cat:cs.LG cat:stat.ML year:2019-2021 x')
    assert q.authors == ["Hinton", "van der Maaten"]
    assert q.categories == ["cs.LG", "stat.ML"]
    assert (q.since, q.until) == (dt.date(2019, 1, 1), dt.date(2021, 12, 31))
    assert q.terms == ["x"]


def test_since_and_until_accept_months_and_days() -> None:
    q = parse_query("since:2023-05 until:2024-02")
    assert (q.since, q.until) == (dt.date(2023, 5, 1), dt.date(2024, 2, 29))


def test_arxiv_ids_and_urls_are_recognised() -> None:
    assert parse_query("https://arxiv.org/abs/1706.03762v5").arxiv_ids == ["1706.03762"]
    assert parse_query("hep-th/9901001 strings").arxiv_ids == ["hep-th/9901001"]


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        '"',
        '""',
        "-",
        "--",
        ":",
        "author:",
        "cat:",
        "(((",
        ")))",
        '"unbalanced',
        "a AND (b OR c",
        "title:foo^2 ~ * ? \\ / [ ] { }",
        "'; DROP TABLE papers; --",
        "🚀🔥 transformers",
        "ünïcödé 量子 коммутатор",
        "x" * 10_000,
        "a " * 5000,
        "year:abc since:2023-13 until:2023-02-30",
        "\x00\x01",
    ],
)
def test_hostile_queries_never_raise(raw: str) -> None:
    parsed = parse_query(raw)
    assert len(parsed.text) <= 2000
    assert len(parsed.terms) <= 64


def test_unknown_fields_are_searched_as_text_with_a_notice() -> None:
    q = parse_query("foo:bar")
    assert q.terms == ["foo", "bar"]
    assert any("unknown field" in n for n in q.notices)


def test_bad_dates_are_ignored_with_a_notice() -> None:
    q = parse_query("since:2023-13 topic")
    assert q.since is None and q.notices
