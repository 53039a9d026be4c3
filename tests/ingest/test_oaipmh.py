"""The OAI-PMH parser on real saved responses (oai_dc, arXiv), a schema-built arXivRaw
document, and broken input; and `paperfeed import oai-pmh` on the real 2017Q1 quarter."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.config import Settings
from paperfeed.db.schema import import_checkpoints, papers
from paperfeed.ingest.base import FormatError, Item, Rejection
from paperfeed.ingest.formats import FORMATS
from paperfeed.ingest.oaipmh import OAIError, parse, parse_response
from paperfeed.ingest.runner import Importer
from paperfeed.papers.categories import CATEGORY_NAMES, code_for_name
from paperfeed.papers.record import PaperRecord
from paperfeed.runtime import Runtime
from tests.support.cli import Cli
from tests.support.oai_server import page_body, page_ids
from tests.support.waiting import ended, wait_until

ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    "<responseDate>2024-05-02T10:00:00Z</responseDate>"
    '<request verb="ListRecords" metadataPrefix="arXivRaw">http://export.arxiv.org/oai2</request>'
    "<ListRecords>{records}</ListRecords></OAI-PMH>"
)


def _oai_dir(data_dir: Path) -> Path:
    return data_dir / "fixtures" / "arxiv_oai"


def _quarter(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "arxiv" / "oaipmh_oai_dc_2017Q1").glob("*.xml.gz"))


def _items(body: bytes | str, name: str = "test.xml", skip: int = 0) -> list[Item]:
    data = body.encode() if isinstance(body, str) else body
    return list(parse(io.BytesIO(data), name, skip))


def _papers(items: list[Item]) -> dict[str, PaperRecord]:
    return {i.arxiv_id or "": i for i in items if isinstance(i, PaperRecord)}


def _header(identifier: str, *, status: str = "", set_spec: str = "cs") -> str:
    attr = f' status="{status}"' if status else ""
    return (
        f"<header{attr}><identifier>oai:arXiv.org:{identifier}</identifier>"
        f"<datestamp>2024-05-01</datestamp><setSpec>{set_spec}</setSpec></header>"
    )


def _raw_record(identifier: str, title: str = "Sparse Transformers at Scale") -> str:
    """An arXivRaw record written from the format's schema (http://arxiv.org/OAI/arXivRaw/)."""
    return (
        f"<record>{_header(identifier)}<metadata>"
        '<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">'
        f"<id>{identifier}</id><submitter>Ada Lovelace</submitter>"
        '<version version="v1"><date>Mon, 2 Apr 2007 19:18:42 GMT</date><size>41kb</size>'
        "<source_type>D</source_type></version>"
        '<version version="v2"><date>Tue, 24 Jul 2007 20:10:27 GMT</date><size>43kb</size>'
        "<source_type>D</source_type></version>"
        f"<title>{title}</title>"
        "<authors>Ada Lovelace, Charles Babbage (Cambridge) and Mary Somerville</authors>"
        "<categories>cs.LG stat.ML</categories>"
        "<comments>12 pages; code at https://github.com/example/sparse</comments>"
        "<proxy>ccsd hal-00012345</proxy><report-no>REP-7</report-no>"
        "<journal-ref>J. Mach. Learn. Res. 8 (2007) 1-12</journal-ref>"
        "<doi>10.1000/XYZ.123</doi>"
        "<license>http://creativecommons.org/licenses/by/4.0/</license>"
        "<abstract>  We study sparse\n attention by Bal\\'azs' method.\n</abstract>"
        "</arXivRaw></metadata></record>"
    )


# -- the arXiv format --------------------------------------------------------------------------


def test_arxiv_format_records_carry_authors_categories_doi_license_and_dates(
    data_dir: Path,
) -> None:
    path = _oai_dir(data_dir) / "ListRecords_arXiv_set-cs_2015-01-16_2015-01-18.xml"
    with path.open("rb") as stream:
        items = list(parse(stream, path.name))

    assert len(items) == 46
    assert all(isinstance(i, PaperRecord) for i in items)
    paper = _papers(items)["1101.4388"]
    assert paper.source == "oai-pmh"
    assert [a["name"] for a in paper.authors] == [
        "Guohui Song",
        "Haizhang Zhang",
        "Fred J. Hickernell",
    ]
    assert paper.authors[2] == {
        "name": "Fred J. Hickernell",
        "last": "Hickernell",
        "first": "Fred J.",
        "suffix": "",
    }
    assert paper.categories == ["stat.ML", "cs.LG", "math.FA"]
    assert paper.primary_category == "stat.ML"
    assert paper.doi == "10.1016/j.acha.2012.03.009"
    assert paper.journal_ref == "Appl. Comput. Harmon. Anal., 34:96-116, 2013"
    assert paper.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert paper.comments == "28 pages, an extra section was added"
    assert paper.submitted_at == dt.datetime(2011, 1, 23)
    assert paper.updated_at == dt.datetime(2012, 3, 28)
    assert paper.freshness == dt.datetime(2015, 1, 16)  # the header datestamp
    assert paper.title == "Reproducing Kernel Banach Spaces with the l1 Norm"
    assert paper.abstract.startswith("Targeting at sparse learning, we construct Banach spaces B")
    assert paper.abstract_raw is not None and "\n" in paper.abstract_raw
    # Character references in the XML arrive as letters.
    assert _papers(items)["1111.1546"].authors[1]["last"] == "Röglin"


def test_arxiv_format_keeps_multi_word_surnames_and_affiliations_out_of_names(
    data_dir: Path,
) -> None:
    with (_oai_dir(data_dir) / "GetRecord_arXiv_1507.03011.xml").open("rb") as stream:
        (paper,) = list(parse(stream, "GetRecord"))

    assert isinstance(paper, PaperRecord)
    assert paper.arxiv_id == "1507.03011"
    assert paper.authors[1] == {
        "name": "Rachel Kuzio de Naray",
        "last": "de Naray",
        "first": "Rachel Kuzio",
        "suffix": "",
    }
    assert paper.categories == ["astro-ph.GA"]
    assert paper.submitted_at == dt.datetime(2015, 7, 10)
    assert paper.updated_at == paper.submitted_at  # no <updated>: only one version

    cs = _oai_dir(data_dir) / "ListRecords_arXiv_set-cs_2015-01-16_2015-01-18.xml"
    with cs.open("rb") as stream:
        morvant = _papers(list(parse(stream, cs.name)))["1207.1019"]
    assert [a["name"] for a in morvant.authors] == [
        "Emilie Morvant",
        "Amaury Habrard",
        "Stéphane Ayache",
    ]


def test_cross_listed_hep_th_records_keep_their_own_primary_category(data_dir: Path) -> None:
    path = _oai_dir(data_dir) / "ListRecords_arXiv_set-physics-hep-th_2017-12-14_truncated.xml"
    with path.open("rb") as stream:
        records = _papers(list(parse(stream, path.name)))

    paper = records["1412.8323"]
    assert paper.categories == [
        "quant-ph",
        "gr-qc",
        "hep-th",
        "math-ph",
        "math.MP",
        "physics.hist-ph",
    ]
    assert paper.primary_category == "quant-ph"
    assert paper.license == "http://creativecommons.org/licenses/by/4.0/"
    assert paper.title == (
        "Toolbox for reconstructing quantum theory from rules on information acquisition"
    )
    assert paper.title_raw is not None and "\n" in paper.title_raw


# -- oai_dc ------------------------------------------------------------------------------------


def test_oai_dc_maps_subject_names_to_codes_and_splits_comments_from_abstract(
    data_dir: Path,
) -> None:
    path = (
        _oai_dir(data_dir)
        / "ListRecords_oai_dc_set-cs_2024-01-25_truncated_with_resumptionToken.xml"
    )
    page = parse_response(path.read_bytes(), path.name)

    assert page.resumption_token == "6960524|1001"
    assert page.complete_list_size == 1162
    assert page.response_date == "2024-01-27T17:53:42Z"
    assert page.newest_datestamp == "2024-01-26"
    records = _papers(page.items)
    assert len(records) == 5
    paper = records["1303.2033"]
    assert paper.categories == ["cs.DS", "cs.IT", "math.NA"]
    assert paper.primary_category == "cs.DS"
    assert paper.comments == "32 pages, 9 figures"
    assert not paper.abstract.startswith("Comment")
    assert paper.authors == [
        {"name": "Vilnis Liepins", "last": "Liepins", "first": "Vilnis", "suffix": ""}
    ]
    assert paper.submitted_at == dt.datetime(2013, 3, 8)  # first dc:date: v1
    assert paper.updated_at == dt.datetime(2024, 1, 23)  # last dc:date: latest version
    assert paper.freshness == dt.datetime(2024, 1, 25)


def test_oai_dc_identifiers_give_doi_and_journal_reference(data_dir: Path) -> None:
    page_path = data_dir / "arxiv" / "oaipmh_oai_dc_2017Q1" / "2017-01-04-01.xml.gz"
    page = parse_response(gzip.decompress(page_path.read_bytes()), page_path.name)

    paper = _papers(page.items)["quant-ph/9704027"]
    assert paper.doi == "10.1109/istcs.1997.595153"
    assert paper.journal_ref == (
        "Fifth Israeli Symposium on Theory of Computing and Systems (ISTCS'97), "
        "pp. 12-23, June 1997"
    )
    assert paper.categories == ["quant-ph"]
    assert [a["name"] for a in paper.authors] == ["Gilles Brassard", "Peter Hoyer"]
    # The last page of a day carries an empty token: the list is complete.
    assert page.resumption_token is None
    assert page.complete_list_size == 1067


def test_oai_dc_record_without_category_subjects_falls_back_to_its_set() -> None:
    record = (
        f"<record>{_header('1701.00001', set_spec='physics:hep-th')}<metadata>"
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:title>Strings</dc:title><dc:creator>Witten, Edward</dc:creator>"
        "<dc:subject>81T30, 83E30</dc:subject><dc:description>Abstract.</dc:description>"
        "<dc:date>2017-01-02</dc:date>"
        "</oai_dc:dc></metadata></record>"
    )
    (paper,) = _items(ENVELOPE.format(records=record))

    assert isinstance(paper, PaperRecord)
    assert paper.categories == ["hep-th"]
    assert paper.comments is None


def test_every_category_subject_of_the_2017_quarter_maps_to_a_code(data_dir: Path) -> None:
    groups = sorted({name.split(" - ")[0] for name in CATEGORY_NAMES.values()}, key=len)
    category_shaped = re.compile(rf"({'|'.join(map(re.escape, reversed(groups)))})( - .+)?")
    subjects: Counter[str] = Counter()
    for path in _quarter(data_dir):
        body = page_body(path)
        # Every <dc:subject> of the page is a plain text element (no attributes, entities or
        # markup inside): read with a pattern, several times faster than an XML parser.
        texts = re.findall(rb"<dc:subject>([^<&]*)</dc:subject>", body)
        assert len(texts) == body.count(b"<dc:subject"), path.name
        subjects.update(" ".join(text.decode().split()) for text in texts)

    category_names = {s for s in subjects if category_shaped.fullmatch(s)}
    assert len(category_names) > 140
    assert sorted(s for s in category_names if code_for_name(s) is None) == []


# -- arXivRaw and mixed formats ----------------------------------------------------------------


def test_arxiv_raw_records_keep_versions_with_dates_and_sizes_and_submitter() -> None:
    (paper,) = _items(ENVELOPE.format(records=_raw_record("0704.0001")))

    assert isinstance(paper, PaperRecord)
    assert paper.arxiv_id == "0704.0001"
    assert paper.submitter == "Ada Lovelace"
    assert paper.versions == [
        {"version": "v1", "created": "2007-04-02T19:18:42", "size": "41kb"},
        {"version": "v2", "created": "2007-07-24T20:10:27", "size": "43kb"},
    ]
    assert paper.updated_at == dt.datetime(2007, 7, 24, 20, 10, 27)
    assert [a["name"] for a in paper.authors] == [
        "Ada Lovelace",
        "Charles Babbage",
        "Mary Somerville",
    ]
    assert paper.authors_raw == "Ada Lovelace, Charles Babbage (Cambridge) and Mary Somerville"
    assert paper.categories == ["cs.LG", "stat.ML"]
    assert paper.doi == "10.1000/xyz.123"
    assert paper.journal_ref == "J. Mach. Learn. Res. 8 (2007) 1-12"
    assert paper.report_no == "REP-7"
    assert paper.license == "http://creativecommons.org/licenses/by/4.0/"
    assert paper.abstract == "We study sparse attention by Balázs' method."
    assert paper.links == [{"kind": "github", "url": "https://github.com/example/sparse"}]


def test_metadata_format_is_detected_per_record(data_dir: Path) -> None:
    dc_page = (
        _oai_dir(data_dir)
        / "ListRecords_oai_dc_set-cs_2024-01-25_truncated_with_resumptionToken.xml"
    )
    dc_record = re.search(rb"<record>.*?</record>", dc_page.read_bytes(), re.DOTALL)
    arxiv_page = _oai_dir(data_dir) / "ListRecords_arXiv_set-cs_2015-01-16_2015-01-18.xml"
    arxiv_record = re.search(rb"<record>.*?</record>", arxiv_page.read_bytes(), re.DOTALL)
    assert dc_record and arxiv_record
    mixed = ENVELOPE.format(
        records=dc_record[0].decode() + arxiv_record[0].decode() + _raw_record("0704.0002")
    )

    records = _papers(_items(mixed))

    assert set(records) == {"1303.2033", "1101.4388", "0704.0002"}
    assert records["1303.2033"].authors_raw == "Liepins, Vilnis"
    assert records["1101.4388"].doi == "10.1016/j.acha.2012.03.009"
    assert records["0704.0002"].versions[0]["size"] == "41kb"


# -- bad input ---------------------------------------------------------------------------------


def test_deleted_records_are_skipped_without_being_rejected() -> None:
    deleted = f"<record>{_header('0704.0003', status='deleted')}</record>"
    items = _items(
        ENVELOPE.format(records=_raw_record("0704.0001") + deleted + _raw_record("0704.0002"))
    )

    assert [i.arxiv_id for i in items if isinstance(i, PaperRecord)] == ["0704.0001", "0704.0002"]
    assert not any(isinstance(i, Rejection) for i in items)


def test_records_with_a_bad_id_or_no_title_are_rejected_and_the_rest_kept() -> None:
    records = (
        _raw_record("0704.0001")
        + _raw_record("9999.99999")
        + _raw_record("0704.0004", title="")
        + _raw_record("0704.0005")
    )
    items = _items(ENVELOPE.format(records=records), "page.xml")

    assert [i.arxiv_id for i in items if isinstance(i, PaperRecord)] == ["0704.0001", "0704.0005"]
    rejections = [i for i in items if isinstance(i, Rejection)]
    assert [r.location for r in rejections] == ["page.xml record 2", "page.xml record 3"]
    assert "not an arXiv id" in rejections[0].reason and "9999.99999" in rejections[0].reason
    assert "no title" in rejections[1].reason


def test_truncated_xml_keeps_the_records_before_the_break_and_reports_it(data_dir: Path) -> None:
    body = (_oai_dir(data_dir) / "ListRecords_arXiv_set-cs_2015-01-16_2015-01-18.xml").read_bytes()
    tenth = [m.start() for m in re.finditer(rb"<record>", body)][9]
    truncated = body[: tenth + 400]

    items = _items(truncated, "cut.xml")

    assert sum(isinstance(i, PaperRecord) for i in items) == 9
    (rejection,) = [i for i in items if isinstance(i, Rejection)]
    assert rejection.location == "cut.xml record 10"
    assert "breaks off" in rejection.reason
    assert parse_response(truncated).broken is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"id": "0704.0001", "title": "JSON lines"}\n', "not OAI-PMH XML"),
        (b"", "empty file, not an OAI-PMH response"),
        (b" \n", "empty file, not an OAI-PMH response"),
        (b"<html><body>Service Unavailable</body></html>", "not an OAI-PMH response"),
    ],
)
def test_a_file_that_is_not_oai_pmh_fails_fast(content: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        _items(content, "saved.xml")


def test_an_atom_feed_is_not_taken_for_oai_pmh(data_dir: Path) -> None:
    feed = data_dir / "fixtures" / "arxiv_api" / "query_transformer_cs.LG_2026-06-14.xml"
    with pytest.raises(FormatError, match="not an OAI-PMH response"):
        _items(feed.read_bytes(), feed.name)


def _error_response(code: str) -> str:
    return (
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2024-05-02T10:00:00Z</responseDate><request>http://x/oai</request>"
        f'<error code="{code}">explanation for {code}</error></OAI-PMH>'
    )


def test_no_records_match_is_an_empty_complete_list() -> None:
    page = parse_response(_error_response("noRecordsMatch").encode())

    assert page.items == [] and page.resumption_token is None and page.broken is None
    assert _items(_error_response("noRecordsMatch")) == []


@pytest.mark.parametrize("code", ["badResumptionToken", "badArgument", "cannotDisseminateFormat"])
def test_other_oai_errors_raise_with_their_code(code: str) -> None:
    with pytest.raises(OAIError, match=f"OAI-PMH error {code}: explanation") as raised:
        _items(_error_response(code), "answer.xml")
    assert raised.value.code == code
    assert isinstance(raised.value, FormatError)  # the CLI reports it without a traceback


def test_skip_resumes_after_the_items_already_imported() -> None:
    deleted = f"<record>{_header('0704.0009', status='deleted')}</record>"
    records = "".join(_raw_record(f"0704.000{n}") for n in range(1, 4)) + deleted
    records += _raw_record("0704.0005")
    body = ENVELOPE.format(records=records)

    every = _items(body)
    assert (
        [i.arxiv_id for i in _items(body, skip=2) if isinstance(i, PaperRecord)]
        == [i.arxiv_id for i in every[2:] if isinstance(i, PaperRecord)]
        == ["0704.0003", "0704.0005"]
    )


# -- the quarter's first days through `paperfeed import oai-pmh` --------------------------------


@pytest.fixture
def cli_env(settings: Settings) -> Iterator[dict[str, str]]:
    env = {"PAPERFEED_HOME": str(settings.home), "PAPERFEED_CONFIG": str(settings.home / "none")}
    if settings.database_url:
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
    yield env


def _paper_count(runtime: Runtime) -> tuple[int, int]:
    with runtime.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
        distinct = conn.execute(
            sa.select(sa.func.count(sa.distinct(papers.c.arxiv_id)))
        ).scalar_one()
    return int(total), int(distinct)


@pytest.mark.slow
def test_importing_the_first_days_of_the_2017_quarter_gives_every_paper_once_and_is_idempotent(
    data_dir: Path, runtime: Runtime, cli_env: dict[str, str]
) -> None:
    """The quarter's first 12 pages (2017-01-01 to 01-11, 5,401 records) on each backend:
    many files, no paper twice (the quarter lists each paper once). The whole quarter's
    51,693 records take ten times as long through the same statements and merge path;
    `python -m bench` imports it (bench/README.md), and the test suite's time stays in
    bounds. The papers expected are the pages' identifiers, read straight from their XML
    (not by the parser under test)."""
    quarter = _quarter(data_dir)
    assert len(quarter) == 108
    quarter = quarter[:12]
    records = len(page_ids(quarter))
    assert records > 5_000
    files = [str(p) for p in quarter]
    runner = CliRunner()

    first = runner.invoke(
        main, ["import", "oai-pmh", "--json", "--no-progress", "--no-index", *files], env=cli_env
    )
    assert first.exit_code == 0, first.output
    total = json.loads(first.stdout)["total"]
    assert (total["new"], total["rejected"]) == (records, 0)
    assert _paper_count(runtime) == (records, records)

    # Importing again changes nothing. The last files imported carry the newest version of
    # what they hold, so read again they are unchanged record for record (a second pass over
    # every file would double the test's time and show nothing more).
    last = files[-4:]
    seen = json.loads(first.stdout)["files"]
    expected = sum(seen[f]["new"] + seen[f]["updated"] + seen[f]["unchanged"] for f in last)
    assert expected > 2_000
    again = runner.invoke(
        main, ["import", "oai-pmh", "--json", "--no-progress", "--no-index", *last], env=cli_env
    )
    assert again.exit_code == 0, again.output
    repeat = json.loads(again.stdout)["total"]
    assert (repeat["new"], repeat["updated"], repeat["unchanged"]) == (0, 0, expected)
    assert _paper_count(runtime) == (records, records)


def _finished_files(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(import_checkpoints)
        return int(conn.execute(query.where(import_checkpoints.c.finished)).scalar_one())


@pytest.mark.slow
def test_an_import_killed_with_sigkill_resumes_without_losing_or_duplicating_papers(
    data_dir: Path, runtime: Runtime, cli_env: dict[str, str]
) -> None:
    # Eight files of the quarter's first week (about 2,100 records): the three smallest first
    # (55 records: 2017-01-07, -08 and -01), then five of 67 to 689 records. Killed after the
    # first three, the rerun must finish the other five and redo nothing twice.
    # (what follows an import into the search index is tested in tests/search; here the import)
    quarter = _quarter(data_dir)
    chosen = [quarter[n] for n in (7, 8, 0, 1, 2, 4, 5, 6)]
    assert [p.name[:10] for p in chosen[:3]] == ["2017-01-07", "2017-01-08", "2017-01-01"]
    files = [str(p) for p in chosen]
    expected = len(page_ids(chosen))
    arguments = ["import", "oai-pmh", "--no-progress", "--no-index", *files]
    command = [sys.executable, "-m", "paperfeed", *arguments]
    env = {**os.environ, **cli_env}
    runtime.engine  # noqa: B018  (create the schema before the child and this test poll it)
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_until(
        lambda: _finished_files(runtime) >= 3,
        within=120,
        what="the import did not finish 3 files",
        gone=ended(child, "the import ended before it could be killed"),
    )
    child.send_signal(signal.SIGKILL)
    child.wait()
    partial, _ = _paper_count(runtime)
    assert 0 < partial < expected

    # The same command again (in this process: what needed a process of its own was the kill).
    rerun = CliRunner().invoke(main, arguments, env=cli_env)

    assert rerun.exit_code == 0, rerun.output
    assert _paper_count(runtime) == (expected, expected)


PAGE_689 = "2017-01-03-00.xml.gz"  # a real ListRecords page of 689 oai_dc records


def _page_689(data_dir: Path) -> bytes:
    return page_body(data_dir / "arxiv" / "oaipmh_oai_dc_2017Q1" / PAGE_689)


@pytest.fixture(scope="module")
def page_689_items(data_dir: Path) -> list[Item]:
    """The page's items as the parser reads them (once for the module's tests: read only)."""
    return _items(_page_689(data_dir), "page.xml")


def _break_identifier(body: bytes, record: int) -> bytes:
    """`<identifier>oops</head>` in the header of record `record` (1-based)."""
    start = [m.start() for m in re.finditer(rb"<record>", body)][record - 1]
    opening = body.index(b"<identifier>", start)
    closing = body.index(b"</identifier>", opening) + len(b"</identifier>")
    return body[:opening] + b"<identifier>oops</head>" + body[closing:]


@pytest.mark.parametrize("one_line", [False, True], ids=["lines", "one-line"])
def test_a_structural_error_rejects_its_record_and_reading_goes_on_at_the_next(
    data_dir: Path, one_line: bool, page_689_items: list[Item]
) -> None:
    body = _page_689(data_dir)
    good_items = page_689_items
    if one_line:  # where line numbers cannot tell records apart
        body = body.replace(b"\n", b" ")
        good_items = _items(body, "page.xml")
    good = _papers(good_items)
    assert len(good) == 689

    items = _items(_break_identifier(body, 345), "page.xml")

    (rejection,) = [i for i in items if isinstance(i, Rejection)]
    assert rejection.location == "page.xml record 345"
    assert "Opening and ending tag mismatch" in rejection.reason
    assert "read on at record 346" in rejection.reason and not rejection.unread
    papers = _papers(items)
    assert len(papers) == 688  # all but the broken one: the 344 after it too
    assert all(good[key] == paper for key, paper in papers.items())
    broken_id = [i for i in good_items if isinstance(i, PaperRecord)][344].arxiv_id
    assert broken_id not in papers


def test_several_structural_errors_each_lose_only_their_record(data_dir: Path) -> None:
    body = _break_identifier(_break_identifier(_page_689(data_dir), 689), 10)
    body = body.replace(b"<datestamp>", b"<datestamp><unclosed>", 1)  # in record 1

    items = _items(body, "page.xml")

    rejections = [i for i in items if isinstance(i, Rejection)]
    assert [r.location for r in rejections] == [f"page.xml record {n}" for n in (1, 10, 689)]
    assert [r.unread for r in rejections] == [False, False, True]  # none after the last
    assert "nothing after it could be read" in rejections[2].reason
    assert len(_papers(items)) == 686


def test_xml_broken_between_two_records_loses_neither(
    data_dir: Path, page_689_items: list[Item]
) -> None:
    """A stray `<` after a record's end tag is found only with the next record's start tag:
    reading goes on at that record, which is kept."""
    body = _page_689(data_dir)
    tenth_end = [m.end() for m in re.finditer(rb"</record>", body)][9]

    items = _items(body[:tenth_end] + b"<" + body[tenth_end:], "page.xml")

    (rejection,) = [i for i in items if isinstance(i, Rejection)]
    assert rejection.location == "page.xml record 11"
    assert "read on at record 11" in rejection.reason and not rejection.unread
    assert _papers(items) == _papers(page_689_items)


def test_an_undeclared_entity_rejects_its_record_and_says_where(data_dir: Path) -> None:
    """lxml lets an undeclared entity (`&nbsp;`) pass when entities are not resolved: the
    parser stops there without an error (and fed on, starts a new document)."""
    body = _page_689(data_dir)
    start = [m.start() for m in re.finditer(rb"<record>", body)][344]
    title = body.index(b"<dc:title>", start) + len(b"<dc:title>")
    broken = body[:title] + b"&nbsp;" + body[title:]

    items = _items(broken, "page.xml")

    (rejection,) = [i for i in items if isinstance(i, Rejection)]
    assert rejection.location == "page.xml record 345"
    line = broken.count(b"\n", 0, title) + 1
    assert f"the XML breaks at line {line}: Entity 'nbsp' not defined" in rejection.reason
    assert "read on at record 346" in rejection.reason
    assert len(_papers(items)) == 688


def _with_authors(body: bytes, record: int, count: int) -> bytes:
    """Record `record` (1-based) with `count` more <dc:creator>s (a large collaboration)."""
    start = [m.start() for m in re.finditer(rb"<record>", body)][record - 1]
    at = body.index(b"<dc:creator>", start)
    names = b"".join(b"<dc:creator>Collaborator, A. %d</dc:creator>" % n for n in range(count))
    return body[:at] + names + body[at:]


def test_records_larger_than_a_chunk_are_read_and_one_broken_past_a_chunk_is_lost_alone(
    data_dir: Path,
) -> None:
    body = _with_authors(_with_authors(_page_689(data_dir), 4, 3000), 5, 3000)
    fifth = [m.start() for m in re.finditer(rb"<record>", body)][4]
    end = body.index(b"</metadata>", fifth)
    assert end - fifth > 2 * (1 << 16)  # past the reader's chunks
    broken = body[:end] + b"</head>" + body[end + len(b"</metadata>") :]

    items = _items(broken, "page.xml")

    (rejection,) = [i for i in items if isinstance(i, Rejection)]
    assert rejection.location == "page.xml record 5"
    assert "read on at record 6" in rejection.reason
    papers = _papers(items)
    assert len(papers) == 688
    fourth = [i for i in _items(body, "page.xml") if isinstance(i, PaperRecord)][3]
    assert len(fourth.authors) > 3000 and papers[fourth.arxiv_id or ""] == fourth


def test_skip_counts_a_broken_record_as_an_item(data_dir: Path) -> None:
    body = _break_identifier(_page_689(data_dir), 345)
    everything = _items(body, "page.xml")
    assert _items(body, "page.xml", skip=400) == everything[400:]
    assert _items(body, "page.xml", skip=300) == everything[300:]


def test_xml_that_cannot_be_read_on_reports_the_records_left_unread(
    runtime: Runtime, cli: Cli, tmp_path: Path, data_dir: Path
) -> None:
    """Broken before the first record, there is no envelope to read on in: every record is
    counted as left unread, the import exits non-zero, and the file's checkpoint stays
    unfinished."""
    good = _page_689(data_dir)
    path = tmp_path / "page.xml"
    path.write_bytes(good.replace(b"</responseDate>", b"</head>", 1))

    (rejection,) = _items(path.read_bytes(), "page.xml")
    assert isinstance(rejection, Rejection) and rejection.unread
    assert "689 records after it could not be read" in rejection.reason

    result = cli("import", "oai-pmh", path, "--no-progress", "--no-index", ok=False)
    assert result.exit_code == 1
    assert "689 records after it could not be read" in result.stderr.splitlines()[-1]
    with runtime.engine.connect() as conn:
        finished = conn.execute(sa.select(import_checkpoints.c.finished)).scalars().all()
    assert finished == [False]

    path.write_bytes(good)  # the corrected file imports
    cli("import", "oai-pmh", path, "--no-progress", "--no-index")
    assert runtime.catalog.count() == 689


def test_a_page_read_on_after_a_structural_error_imports_and_finishes(
    runtime: Runtime, tmp_path: Path, data_dir: Path
) -> None:
    path = tmp_path / "page.xml"
    path.write_bytes(_break_identifier(_page_689(data_dir), 345))
    log = io.StringIO()
    summary = Importer(runtime.engine, log=log).import_file(FORMATS["oai-pmh"], path)

    assert (summary.new, summary.rejected, summary.incomplete) == (688, 1, [])
    assert f"rejected {path} record 345: the XML breaks at line " in log.getvalue()
    with runtime.engine.connect() as conn:
        finished = conn.execute(sa.select(import_checkpoints.c.finished)).scalars().all()
    assert finished == [True]
