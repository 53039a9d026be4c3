import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.ingest.runner import write_batch
from paperfeed.papers.ids import (
    ARXIV_REFERENCE_PATTERN,
    InvalidArxivId,
    InvalidPaperId,
    PaperId,
    parse_arxiv_id,
    parse_doi,
    parse_paper_id,
    public_id,
)
from paperfeed.papers.record import PaperRecord
from paperfeed.runtime import Runtime
from tests.support.cli import HEAD200, Cli


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


# -- paper ids: what every page, endpoint and command accepts ------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2606.12730", PaperId(arxiv_id="2606.12730")),
        ("2606.12730v3", PaperId(arxiv_id="2606.12730")),
        ("https://arxiv.org/abs/2606.12730v3", PaperId(arxiv_id="2606.12730")),
        ("https://arxiv.org/pdf/2606.12730.pdf", PaperId(arxiv_id="2606.12730")),
        ("hep-th/9901001v2", PaperId(arxiv_id="hep-th/9901001")),
        ("pf-12", PaperId(row_id=12)),
        (" pf-12 ", PaperId(row_id=12)),
        ("#12", PaperId(row_id=12)),  # the CLI's older spelling
    ],
)
def test_paper_ids_are_arxiv_ids_urls_or_pf_numbers(text: str, expected: PaperId) -> None:
    assert parse_paper_id(text) == expected


@pytest.mark.parametrize(
    "text", ["pf-", "pf-x1", "pf-１２", "pf-" + "9" * 30, "12", "#", "../etc/passwd", ""]
)
def test_anything_else_is_no_paper_id(text: str) -> None:
    with pytest.raises(InvalidPaperId, match="not an arXiv id or URL, nor a paper id"):
        parse_paper_id(text)


def test_public_id_is_the_arxiv_id_or_pf_n() -> None:
    assert public_id("2606.12730", 7) == "2606.12730"
    assert public_id(None, 7) == "pf-7"


def test_the_cli_takes_and_prints_pf_ids(cli: Cli, runtime: Runtime, data_dir: Path) -> None:
    """`paperfeed papers show pf-N` finds what pages and APIs call pf-N; papers without an
    arXiv id are listed and shown as pf-N."""
    cli("import", "snapshot", data_dir / HEAD200, "--no-progress", "--no-index")
    [workshop] = write_batch(
        runtime.engine,
        runtime.catalog_writer,
        [PaperRecord(source="listing", title="A workshop paper without an arXiv id")],
    )
    pf = f"pf-{workshop.paper_id}"

    shown = cli("papers", "show", pf).stdout
    assert shown.startswith("A workshop paper without an arXiv id")
    assert pf in shown
    assert f"pf-{workshop.paper_id}" in cli("papers", "list", "--limit", "300").stdout
    assert cli("papers", "show", f"#{workshop.paper_id}").stdout == shown

    arxiv_row = runtime.paper_ids.resolve("0704.0001")
    by_pf = cli("papers", "show", f"pf-{arxiv_row}").stdout
    assert "arXiv:0704.0001" in by_pf
    assert by_pf == cli("papers", "show", "https://arxiv.org/abs/0704.0001v2").stdout

    missing = cli("papers", "show", "pf-999999", ok=False)
    assert missing.exit_code == 1 and "pf-999999 is not in the catalog" in missing.stderr


@settings(max_examples=300, deadline=None, database=None)
@given(st.from_regex(ARXIV_REFERENCE_PATTERN, fullmatch=True))
def test_every_text_the_documented_pattern_matches_is_an_arxiv_id(text: str) -> None:
    """The API documents this pattern for a paper reference: it promises nothing the parser
    then refuses."""
    parse_arxiv_id(text)


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("2606.13392", True),
        ("2606.13392v2", True),
        ("0704.0001", True),
        ("arXiv:hep-th/9901001v2", True),
        ("math.AG/0309136", True),
        ("https://arxiv.org/abs/2606.13392", True),
        ("https://arxiv.org/pdf/1706.03762v5.pdf", True),
        ("0703.0001", False),  # before new-style ids began
        ("2613.00001", False),  # no month 13
        ("1412.00001", False),  # five digits only from 2015
        ("1501.0001", False),  # four digits only to 2014
        ("hep-th/0801001", False),  # old-style ids ended in 2007
        (" 2606.13392", False),
        ("2606.13392\n", False),
    ],
)
def test_the_documented_pattern(text: str, matches: bool) -> None:
    assert bool(re.fullmatch(ARXIV_REFERENCE_PATTERN, text)) is matches
