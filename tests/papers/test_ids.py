import pytest

from paperfeed.papers.ids import InvalidArxivId, parse_arxiv_id, parse_doi


@pytest.mark.parametrize(
    ("text", "canonical", "version"),
    [
        ("2301.01234", "2301.01234", None),
        ("2301.01234v3", "2301.01234", 3),
        ("0704.0001", "0704.0001", None),
        ("arXiv:1706.03762v7", "1706.03762", 7),
        ("https://arxiv.org/abs/1706.03762", "1706.03762", None),
        ("http://arxiv.org/abs/2406.12345v2", "2406.12345", 2),
        ("https://arxiv.org/pdf/1706.03762v5.pdf", "1706.03762", 5),
        ("https://arxiv.org/pdf/1706.03762", "1706.03762", None),
        ("https://www.arxiv.org/abs/hep-th/9901001v1", "hep-th/9901001", 1),
        ("hep-th/9901001", "hep-th/9901001", None),
        ("math.AG/0309136", "math/0309136", None),
        ("oai:arXiv.org:cond-mat/0102536", "cond-mat/0102536", None),
        ("  2301.01234  ", "2301.01234", None),
    ],
)
def test_parses_identifiers_and_urls(text: str, canonical: str, version: int | None) -> None:
    parsed = parse_arxiv_id(text)
    assert parsed.canonical == canonical
    assert parsed.version == version


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "2313.01234",  # month 13
        "0703.1234",  # new style before April 2007
        "1501.1234",  # four digits after 2015 began
        "1412.12345",  # five digits before 2015
        "hep-th/0713001",  # month 13 in an old id
        "2301.01234; DROP TABLE papers",
        "<script>alert(1)</script>",
        "https://example.com/abs/2301.01234",
    ],
)
def test_rejects_what_is_not_an_arxiv_id(text: str) -> None:
    with pytest.raises(InvalidArxivId):
        parse_arxiv_id(text)


def test_dois_are_found_in_urls_and_prefixes() -> None:
    assert parse_doi("10.1103/PhysRevD.76.013009") == "10.1103/physrevd.76.013009"
    assert parse_doi("https://doi.org/10.1000/XYZ.") == "10.1000/xyz"
    assert parse_doi("doi: 10.1000/abc") == "10.1000/abc"
    assert parse_doi("not a doi") is None
