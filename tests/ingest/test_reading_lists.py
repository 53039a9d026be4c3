"""Reading lists (ids, BibTeX, text copied from a papers page) matched against a catalog
holding the real head of the arXiv snapshot."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from paperfeed.db.schema import papers
from paperfeed.ingest import listing
from paperfeed.ingest.base import FormatError, Rejection
from paperfeed.ingest.formats import FORMATS
from paperfeed.ingest.runner import Importer, ImportSummary
from paperfeed.papers.record import PaperRecord
from paperfeed.runtime import Runtime

SNAPSHOT = "arxiv/kaggle_snapshot_head200.jsonl.gz"


def run_import(
    runtime: Runtime, fmt: str, path: Path, log: io.StringIO | None = None
) -> ImportSummary:
    importer = Importer(runtime.engine, log=log or io.StringIO())
    return importer.import_file(FORMATS[fmt], path)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def snapshot_records(data_dir: Path) -> dict[str, dict[str, Any]]:
    with gzip.open(data_dir / SNAPSHOT) as lines:
        return {r["id"]: r for r in map(orjson.loads, lines)}


def papers_titled(runtime: Runtime, title: str) -> list[dict[str, Any]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(papers).where(papers.c.title == title)).mappings()
        return [dict(r) for r in rows]


def counts(summary: ImportSummary) -> tuple[int, int, int, int]:
    return summary.new, summary.updated, summary.unchanged, summary.rejected


@pytest.fixture
def catalog_with_snapshot(runtime: Runtime, data_dir: Path) -> Runtime:
    assert run_import(runtime, "snapshot", data_dir / SNAPSHOT).new == 200
    return runtime


# -- ids ----------------------------------------------------------------------------------------

ID_LIST = """\
# papers to read
0704.0001
arXiv:0704.0002v2  sparsity paper

- https://arxiv.org/abs/0704.0003v1
https://arxiv.org/pdf/0704.0004.pdf
Bosonic characters: https://doi.org/10.1103/PhysRevA.75.043613
Attention Is All You Need
2401.00001
"""


def test_an_id_list_matches_papers_by_id_and_doi_and_reports_unknown_ids(
    catalog_with_snapshot: Runtime, tmp_path: Path
) -> None:
    runtime = catalog_with_snapshot
    path = write(tmp_path, "reading.txt", ID_LIST)
    log = io.StringIO()
    summary = run_import(runtime, "ids", path, log)

    assert counts(summary) == (1, 5, 0, 1)
    assert summary.unmatched == ["2401.00001"]
    assert "rejected " + str(path) + ":8: no arXiv id, arXiv URL or DOI" in log.getvalue()
    assert runtime.catalog.count() == 201
    matched = runtime.catalog.get("0704.0006")
    assert matched is not None
    assert matched["sources"] == ["reading-list", "snapshot"]
    assert matched["title"] == "Bosonic characters of atomic Cooper pairs across resonance"

    again = run_import(runtime, "ids", path)
    assert counts(again) == (0, 0, 6, 1)
    assert again.unmatched == []


def test_papers_first_seen_in_an_id_list_are_filled_in_by_a_later_snapshot_import(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    summary = run_import(runtime, "ids", write(tmp_path, "reading.txt", ID_LIST))
    assert summary.new == 6
    assert summary.unmatched == [
        "0704.0001",
        "0704.0002",
        "0704.0003",
        "0704.0004",
        "doi:10.1103/physreva.75.043613",
        "2401.00001",
    ]
    stub = runtime.catalog.get("0704.0002")
    assert stub is not None
    assert (stub["title"], stub["abstract"]) == ("", "")

    snapshot = run_import(runtime, "snapshot", data_dir / SNAPSHOT)

    assert (snapshot.new, snapshot.updated) == (195, 5)
    assert runtime.catalog.count() == 201  # the DOI stub became 0704.0006, not a duplicate
    filled = runtime.catalog.get("0704.0002")
    assert filled is not None
    assert filled["title"] == "Sparsity-certifying Graph Decompositions"
    assert filled["abstract"].startswith("We describe a new algorithm")
    assert filled["sources"] == ["reading-list", "snapshot"]
    by_doi = runtime.catalog.get("0704.0006")
    assert by_doi is not None
    assert by_doi["doi"] == "10.1103/physreva.75.043613"
    assert by_doi["title"] == "Bosonic characters of atomic Cooper pairs across resonance"


def test_a_file_that_is_not_an_id_list_fails_fast(runtime: Runtime, data_dir: Path) -> None:
    with pytest.raises(FormatError, match="not a reading list of arXiv ids or DOIs"):
        run_import(runtime, "ids", data_dir / "beir" / "scifact" / "qrels" / "test.tsv")
    assert runtime.catalog.count() == 0


# -- BibTeX -------------------------------------------------------------------------------------

BIBTEX = r"""% exported from a reference manager
@article{fontes2007diphoton,
  title   = {Calculation of prompt diphoton production cross sections at {Tevatron} and
             {LHC} energies},
  author  = {Bal{\'a}zs, C. and Berger, E. L. and Nadolsky, P. M. and Yuan, C.-P.},
  eprint  = {0704.0001},
  archivePrefix = {arXiv},
  year    = {2007}
}

@article{streinu2007sparsity,
  title={Sparsity-certifying graph decompositions},
  author={Streinu, Ileana and Theran, Louis},
  journal={arXiv preprint arXiv:0704.0002},
  year={2007}
}

@article{DBLP:journals/corr/abs-0704-0003,
  author  = {Hongjun Pan},
  title   = {The evolution of the Earth-Moon system},
  journal = {CoRR},
  volume  = {abs/0704.0003},
  year    = {2007}
}

@article{combescot2007bosonic,
  title={Bosonic characters of atomic {C}ooper pairs across resonance},
  author={Combescot, Roland and Leyronas, Xavier},
  doi={10.1103/PhysRevA.75.043613},
  journal={Physical Review A},
  year={2007}
}

@inproceedings{corichi2007polymer,
  title = {{P}olymer {Q}uantum {M}echanics and its {C}ontinuum {L}imit},
  author = {Corichi, Alejandro and Vukašinović, Tatjana and Zapata, José A.},
}

@misc{broken,
  title = {An entry that never closes
  author = {Someone},

@book{mueller2020,
  title = {Deep Learning f{\"u}r {M}usiker: \emph{Eine} Einf{\"u}hrung},
  author = {M{\"u}ller, J{\"o}rg and van der Berg, Anna and {Google Brain Team} and others},
  year = {2020},
}
"""


def test_bibtex_entries_match_by_arxiv_id_doi_and_title_and_unknown_ones_are_reported(
    catalog_with_snapshot: Runtime, tmp_path: Path
) -> None:
    runtime = catalog_with_snapshot
    path = write(tmp_path, "refs.bib", BIBTEX)
    log = io.StringIO()
    summary = run_import(runtime, "bibtex", path, log)

    assert counts(summary) == (1, 5, 0, 1)
    assert summary.unmatched == ["Deep Learning für Musiker: Eine Einführung"]
    assert f"rejected {path}:39: malformed entry: Unexpected block start" in log.getvalue()
    assert runtime.catalog.count() == 201
    for arxiv_id in ("0704.0001", "0704.0002", "0704.0003", "0704.0006", "0704.0007"):
        paper = runtime.catalog.get(arxiv_id)
        assert paper is not None
        assert "bibtex" in paper["sources"], arxiv_id
    # The snapshot's text stays: the BibTeX title was matched, not copied over it.
    polymer = runtime.catalog.get("0704.0007")
    assert polymer is not None
    assert polymer["title"] == "Polymer Quantum Mechanics and its Continuum Limit"

    again = run_import(runtime, "bibtex", path)
    assert counts(again) == (0, 0, 6, 1)


def test_bibtex_titles_and_names_lose_braces_and_tex_accents(
    runtime: Runtime, tmp_path: Path
) -> None:
    run_import(runtime, "bibtex", write(tmp_path, "refs.bib", BIBTEX))

    (book,) = papers_titled(runtime, "Deep Learning für Musiker: Eine Einführung")
    assert book["arxiv_id"] is None
    assert [a["name"] for a in book["authors"]] == [
        "Jörg Müller",
        "Anna van der Berg",
        "Google Brain Team",
    ]
    assert book["submitted_at"].year == 2020
    diphoton = runtime.catalog.get("0704.0001")
    assert diphoton is not None
    assert diphoton["title"] == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert diphoton["authors"][0]["name"] == "C. Balázs"
    assert diphoton["authors"][3]["name"] == "C.-P. Yuan"


def test_a_file_without_bibtex_entries_fails_fast(runtime: Runtime, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no BibTeX entries found"):
        run_import(runtime, "bibtex", write(tmp_path, "ids.bib", ID_LIST))
    with pytest.raises(FormatError, match=r"no BibTeX entries found; .*:1: "):
        run_import(runtime, "bibtex", write(tmp_path, "one.bib", "@article{x, title={open\n"))


# -- listing ------------------------------------------------------------------------------------


def page_text(known: list[dict[str, Any]], unknown: tuple[str, str]) -> str:
    """A daily-papers page as a browser copies it: chrome around title/abstract blocks, the
    abstracts wrapped as on the arXiv listing."""
    (first, second), (unknown_title, unknown_abstract) = known, unknown
    return "\n".join(
        [
            "Daily Papers",
            "",
            "by AK and the research community",
            "",
            "Jun 12",
            "",
            "Trending",
            "",
            " ".join(first["title"].split()),
            "",
            first["abstract"].strip(),
            "",
            "Submitted by akhaliq",
            "",
            "Upvote",
            "",
            "42",
            "",
            " ".join(second["title"].split()),
            "",
            "Ileana Streinu, Louis Theran, Some One, Other Person",
            "",
            second["abstract"].strip(),
            "",
            unknown_title,
            "",
            unknown_abstract,
            "",
            "Previous",
            "Next",
            "",
        ]
    )


def test_a_copied_listing_matches_known_titles_and_keeps_unknown_papers_title_only(
    catalog_with_snapshot: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    runtime = catalog_with_snapshot
    snapshot = snapshot_records(data_dir)
    hf = orjson.loads((data_dir / "fixtures/hf_papers/daily_papers_2026-06-12.json").read_bytes())
    unknown = (hf[0]["paper"]["title"], hf[0]["paper"]["summary"])
    path = write(
        tmp_path, "page.txt", page_text([snapshot["0704.0001"], snapshot["0704.0002"]], unknown)
    )
    summary = run_import(runtime, "listing", path)

    assert counts(summary) == (1, 2, 0, 0)
    assert summary.unmatched == [unknown[0]]
    assert runtime.catalog.count() == 201
    for arxiv_id in ("0704.0001", "0704.0002"):
        paper = runtime.catalog.get(arxiv_id)
        assert paper is not None
        assert paper["sources"] == ["listing", "snapshot"]
        assert len(papers_titled(runtime, paper["title"])) == 1
    (kept,) = papers_titled(runtime, unknown[0])
    assert kept["arxiv_id"] is None
    assert kept["abstract"] == " ".join(unknown[1].split())
    assert kept["sources"] == ["listing"]

    again = run_import(runtime, "listing", path)
    assert counts(again) == (0, 0, 3, 0)
    assert again.unmatched == []


def test_a_listing_imported_before_the_paper_is_merged_into_it_later(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    record = snapshot_records(data_dir)["0704.0002"]
    title, abstract = " ".join(record["title"].split()), record["abstract"].strip()
    run_import(runtime, "listing", write(tmp_path, "page.txt", f"{title}\n\n{abstract}\n"))

    run_import(runtime, "snapshot", data_dir / SNAPSHOT)

    assert runtime.catalog.count() == 200
    paper = runtime.catalog.get("0704.0002")
    assert paper is not None
    assert paper["sources"] == ["listing", "snapshot"]


def test_page_chrome_is_not_taken_for_titles() -> None:
    for line in [
        "Daily Papers",
        "Trending",
        "Upvote",
        "Submitted by akhaliq",
        "Published on Jun 11",
        "Jun 12",
        "June 12, 2026",
        "2026-06-12",
        "42",
        "NEW SUBMISSIONS",
        "Related papers:",
        "Ileana Streinu, Louis Theran, Some One, Other Person",
        "Mamba",
    ]:
        assert listing.is_chrome(line), line
    for title in [
        "Sparsity-certifying Graph Decompositions",
        "Attention Is All You Need",
        "From dyadic $\\Lambda_{\\alpha}$ to $\\Lambda_{\\alpha}$",
        "Learning to See, Hear, and Act",
    ]:
        assert not listing.is_chrome(title), title


def test_an_abstract_without_a_title_is_rejected_with_its_line(data_dir: Path) -> None:
    record = snapshot_records(data_dir)["0704.0002"]
    abstract = record["abstract"].strip()
    text = f"Daily Papers\n\n{abstract}\n\nA Title Line\n\n{abstract}\n"
    items = list(listing.parse(io.BytesIO(text.encode()), "page.txt"))

    assert isinstance(items[0], Rejection)
    assert items[0].location == "page.txt:3"
    assert items[0].reason.startswith("abstract with no title line before it: We describe")
    assert isinstance(items[1], PaperRecord)
    assert items[1].title == "A Title Line"


def test_an_abstract_split_by_a_blank_line_stays_one_abstract() -> None:
    first = " ".join(["First part of the abstract with enough words to count as prose."] * 3)
    second = " ".join(["Second part continues the same abstract after a blank line."] * 3)
    text = f"A Paper Title\n\n{first}\n\n{second}\n"
    (record,) = listing.parse(io.BytesIO(text.encode()), "page.txt")

    assert isinstance(record, PaperRecord)
    assert record.abstract == f"{first} {second}"


def test_a_page_without_title_and_abstract_blocks_fails_fast(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = write(tmp_path, "page.txt", "Daily Papers\n\nTrending\n\nJun 12\n\nUpvote\n42\n")
    with pytest.raises(FormatError, match="no papers found"):
        run_import(runtime, "listing", path)
    assert runtime.catalog.count() == 0


# -- hostile text -------------------------------------------------------------------------------

HOSTILE_TITLE = '<script>alert("x")</script> <b>Bold</b> $\\mathcal{O}(n^2)$ Nets 🚀'


def test_markup_latex_and_emoji_in_reading_list_titles_are_kept_as_text(
    runtime: Runtime, tmp_path: Path
) -> None:
    abstract = "An abstract with <img src=x onerror=alert(1)> and $x^2$ 🤖" + " word" * 30 + "."
    run_import(runtime, "listing", write(tmp_path, "page.txt", f"{HOSTILE_TITLE}\n\n{abstract}\n"))
    bib = f"@misc{{h, title = {{{{{HOSTILE_TITLE}}}}}, doi = {{10.1000/xyz}}}}\n"
    run_import(runtime, "bibtex", write(tmp_path, "h.bib", bib))

    (paper,) = papers_titled(runtime, HOSTILE_TITLE)
    assert paper["abstract"] == " ".join(abstract.split())
    assert paper["doi"] == "10.1000/xyz"  # the BibTeX entry matched the listing's paper
    assert paper["sources"] == ["bibtex", "listing"]
