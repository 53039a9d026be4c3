"""The arXiv API (Atom) importer and fetching papers by id, on real saved API responses."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import httpx
import pytest
from lxml import etree

from paperfeed.ingest import atom
from paperfeed.ingest.base import FormatError, Rejection
from paperfeed.ingest.formats import FORMATS
from paperfeed.ingest.runner import Importer, ImportSummary
from paperfeed.papers.ids import InvalidArxivId
from paperfeed.papers.record import PaperRecord
from paperfeed.runtime import Runtime
from tests.support.http import FixtureServer, Response

LEGACY = "query_cat-cs.RO_neural_2025-10-17_legacy-format.xml"
NEW_5 = "query_transformer_cs.LG_2026-06-14.xml"
NEW_25 = "query_cs.AI-LG-CL_max25_2026-08-02.xml"
ERROR_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">ArXiv Query: search_query=&amp;id_list=1234.12345</title>
  <id>http://arxiv.org/api/cHxbiOdZaP56ODnBPIenZhzg5f8</id>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.12345</summary>
    <updated>2026-01-01T00:00:00-05:00</updated>
    <link href="http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345"
          rel="alternate" type="text/html"/>
    <author><name>arXiv api core</name></author>
  </entry>
</feed>
"""


def feed(*entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        + "".join(entries)
        + "</feed>"
    ).encode()


def entry(arxiv_id: str, title: str, extra: str = "") -> str:
    return f"""
  <entry>
    <id>http://arxiv.org/abs/{arxiv_id}</id>
    <updated>2024-03-05T10:00:00Z</updated>
    <published>2023-01-02T18:30:00Z</published>
    <title>{title}</title>
    <summary>An abstract.</summary>
    <author><name>Ada Lovelace</name></author>
    <arxiv:primary_category term="cs.LG"/>
    <category term="cs.LG"/>
    {extra}
  </entry>"""


def import_file(runtime: Runtime, path: Path, log: io.StringIO | None = None) -> ImportSummary:
    importer = Importer(runtime.engine, log=log or io.StringIO())
    return importer.import_file(FORMATS["arxiv-atom"], path)


def write(tmp_path: Path, data: bytes, name: str = "feed.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_imports_both_serializations_of_real_api_responses(
    runtime: Runtime, data_dir: Path
) -> None:
    folder = data_dir / "fixtures" / "arxiv_api"
    summaries = [import_file(runtime, folder / name) for name in (LEGACY, NEW_5, NEW_25)]

    assert [s.new for s in summaries] == [2, 5, 25]
    assert sum(s.rejected for s in summaries) == 0
    legacy = runtime.catalog.get("2510.14968")
    assert legacy is not None
    assert legacy["title"] == (
        "RDD: Retrieval-Based Demonstration Decomposer for Planner Alignment in Long-Horizon Tasks"
    )
    assert legacy["abstract"].startswith("To tackle long-horizon tasks, recent hierarchical")
    assert [a["name"] for a in legacy["authors"]][:2] == ["Mingxuan Yan", "Yuping Wang"]
    assert legacy["primary_category"] == "cs.RO"
    assert legacy["categories"] == ["cs.RO", "cs.AI", "cs.CV", "cs.LG", "cs.SY", "eess.SY"]
    assert legacy["submitted_at"] == dt.datetime(2025, 10, 16, 17, 59, 37)
    assert legacy["versions"] == [{"version": "v1", "created": "2025-10-16T17:59:37"}]
    assert legacy["freshness"] == dt.datetime(2025, 10, 16, 17, 59, 37)
    assert legacy["comments"].startswith("39th Conference on Neural Information Processing")
    assert legacy["sources"] == ["arxiv-api"]

    new = runtime.catalog.get("2606.13677")
    assert new is not None
    assert new["title"] == "Mana: Dexterous Manipulation of Articulated Tools"
    assert new["primary_category"] == "cs.RO"
    assert new["links"] == [{"kind": "project", "url": "https://zhaohengyin.github.io/mana"}]
    assert runtime.catalog.count() == 32


def test_reimporting_a_response_changes_nothing(runtime: Runtime, data_dir: Path) -> None:
    path = data_dir / "fixtures" / "arxiv_api" / NEW_25
    import_file(runtime, path)
    again = import_file(runtime, path)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 25)


def test_a_later_version_keeps_v1_date_and_reads_doi_and_journal_ref() -> None:
    data = feed(
        entry(
            "2301.01234v3",
            "Updated paper",
            """<arxiv:doi>10.1103/PhysRevD.76.013009</arxiv:doi>
    <arxiv:journal_ref>Phys. Rev. D 76,
      013009 (2007)</arxiv:journal_ref>
    <category term="I.2.6"/>
    <category term="68T05"/>
    <category term="stat.ML"/>""",
        )
    )
    (record,) = atom.parse(io.BytesIO(data), "feed.xml")

    assert isinstance(record, PaperRecord)
    assert record.arxiv_id == "2301.01234"
    assert record.versions == [
        {"version": "v1", "created": "2023-01-02T18:30:00"},
        {"version": "v3", "created": "2024-03-05T10:00:00"},
    ]
    assert record.submitted_at == dt.datetime(2023, 1, 2, 18, 30)
    assert record.freshness == dt.datetime(2024, 3, 5, 10, 0)
    assert record.doi == "10.1103/physrevd.76.013009"
    assert record.journal_ref == "Phys. Rev. D 76, 013009 (2007)"
    assert record.categories == ["cs.LG", "stat.ML"]  # ACM and MSC classes are not categories


def test_the_api_error_feed_is_reported_with_arxivs_message(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = write(tmp_path, ERROR_FEED)
    with pytest.raises(atom.ArxivApiError, match=r"incorrect id format for 1234\.12345"):
        import_file(runtime, path)
    assert runtime.catalog.count() == 0


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("fixtures/arxiv_oai/GetRecord_arXiv_1507.03011.xml", "expected an Atom <feed>"),
        ("fixtures/hf_papers/daily_papers_2026-06-12.json", "not XML"),
    ],
)
def test_a_file_that_is_not_an_api_response_fails_fast(
    runtime: Runtime, data_dir: Path, fixture: str, message: str
) -> None:
    with pytest.raises(FormatError, match=message):
        import_file(runtime, data_dir / fixture)
    assert runtime.catalog.count() == 0


def test_a_malformed_entry_is_rejected_with_its_position_and_the_rest_imported(
    runtime: Runtime, tmp_path: Path
) -> None:
    data = feed(
        entry("2301.00001v1", "First"),
        entry("not-an-id", "Second"),
        entry("2301.00003v1", ""),
        entry("2301.00004v1", "Fourth"),
    )
    log = io.StringIO()
    summary = import_file(runtime, write(tmp_path, data), log)

    assert (summary.new, summary.rejected) == (2, 2)
    assert "feed.xml entry 2 (line " in log.getvalue()
    assert "not an arXiv id: 'http://arxiv.org/abs/not-an-id'" in log.getvalue()
    assert "feed.xml entry 3 (line " in log.getvalue()
    assert "missing <title>" in log.getvalue()


def test_a_truncated_response_keeps_the_entries_before_the_break(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    data = (data_dir / "fixtures" / "arxiv_api" / NEW_5).read_bytes()
    cut = data.index(b"<entry>", data.index(b"<entry>", data.index(b"<entry>") + 1) + 1) + 40
    log = io.StringIO()
    summary = import_file(runtime, write(tmp_path, data[:cut]), log)

    assert (summary.new, summary.rejected) == (2, 1)
    assert "feed.xml entry 3: the XML breaks off at line " in log.getvalue()
    assert "nothing after it could be read" in log.getvalue()


@pytest.mark.parametrize("broken", [1, 2, 3])
def test_an_undeclared_entity_rejects_its_entry_with_its_line_and_the_rest_is_read(
    broken: int,
) -> None:
    """An undeclared entity (`&nbsp;`, HTML's, not XML's) passes lxml silently when entities
    are not resolved: the parser just stops. It used to lose the entries after it (or the
    whole file, "line 0"); now only its own entry is rejected, with the line it is on."""
    titles = [f"Title {n}" for n in (1, 2, 3)]
    titles[broken - 1] = "Broken&nbsp;title"
    data = feed(*(entry(f"2301.0000{n}", t) for n, t in enumerate(titles, 1)))
    line = data[: data.index(b"&nbsp;")].count(b"\n") + 1

    items = list(atom.parse(io.BytesIO(data), "page.xml"))

    assert [i.arxiv_id for i in items if isinstance(i, PaperRecord)] == [
        f"2301.0000{n}" for n in (1, 2, 3) if n != broken
    ]
    (rejection,) = [i for i in items if isinstance(i, Rejection)]
    assert rejection.location == f"page.xml entry {broken}"
    # (the last entry: no entry after it to read on at)
    breaks = "breaks off" if broken == 3 else "breaks"
    assert f"the XML {breaks} at line {line}: Entity 'nbsp' not defined" in rejection.reason
    assert items.index(rejection) == broken - 1  # in file order
    # Resuming after any number of items gives the rest, the rejection counted as an item.
    for skip in range(4):
        assert list(atom.parse(io.BytesIO(data), "page.xml", skip=skip)) == items[skip:]


def test_an_unclosed_tag_in_an_entry_loses_only_that_entry(
    runtime: Runtime, tmp_path: Path
) -> None:
    data = feed(
        entry("2301.00001", "First"),
        entry("2301.00002", "Second <b>bold"),
        entry("2301.00003", "Third"),
    )
    log = io.StringIO()
    summary = import_file(runtime, write(tmp_path, data), log)

    assert (summary.new, summary.rejected) == (2, 1)
    assert runtime.catalog.get("2301.00003") is not None
    assert "feed.xml entry 2: the XML breaks at line " in log.getvalue()
    assert "read on at entry 3" in log.getvalue()


def test_an_empty_file_says_so() -> None:
    for data in (b"", b"  \n"):
        with pytest.raises(FormatError, match="empty file, not an arXiv API response"):
            list(atom.parse(io.BytesIO(data), "f.xml"))


def test_resuming_skips_the_entries_already_imported(data_dir: Path) -> None:
    path = data_dir / "fixtures" / "arxiv_api" / NEW_25
    everything = list(atom.parse(io.BytesIO(path.read_bytes()), path.name))
    rest = list(atom.parse(io.BytesIO(path.read_bytes()), path.name, skip=20))
    assert rest == everything[20:]


def test_markup_latex_and_emoji_in_titles_are_kept_as_text(
    runtime: Runtime, tmp_path: Path
) -> None:
    title = '&lt;script&gt;alert("x")&lt;/script&gt; $\\alpha$-Nets &amp; \U0001f680 Rockets'
    xxe = '<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/hostname">]>\n'
    data = feed(entry("2301.00001v1", title), entry("2301.00002v1", "Leak &secret; here"))
    data = data.replace(b"<feed", xxe.encode() + b"<feed", 1)
    import_file(runtime, write(tmp_path, data))

    paper = runtime.catalog.get("2301.00001")
    assert paper is not None
    assert paper["title"] == '<script>alert("x")</script> $\\alpha$-Nets & \U0001f680 Rockets'
    leaked = runtime.catalog.get("2301.00002")
    assert leaked is not None
    hostname = Path("/etc/hostname")
    if hostname.exists() and hostname.read_text().strip():
        assert hostname.read_text().strip() not in leaked["title"]


# -- fetching by id -----------------------------------------------------------------------------


def serve_api(server: FixtureServer, response: bytes) -> None:
    """Answer id_list queries the way arXiv does: with the requested entries of a real feed."""
    source = etree.fromstring(response)

    def route(path: str, params: dict[str, list[str]]) -> Response | None:
        if path != "/api/query":
            return None
        wanted = {i.rsplit("v", 1)[0] for i in params["id_list"][0].split(",")}
        page = etree.fromstring(etree.tostring(source))
        for element in page.findall(f"{atom.ATOM}entry"):
            entry_id = element.findtext(f"{atom.ATOM}id", "").rsplit("/", 1)[-1]
            if entry_id.rsplit("v", 1)[0] not in wanted:
                page.remove(element)
        return Response(etree.tostring(page, xml_declaration=True, encoding="UTF-8"))

    server.route = route


def fixture_ids(data: bytes) -> list[str]:
    return [
        r.arxiv_id
        for r in atom.parse(io.BytesIO(data), "fixture")
        if isinstance(r, PaperRecord) and r.arxiv_id
    ]


def test_fetch_ids_asks_for_at_most_100_ids_a_request_and_waits_between_requests(
    http_server: FixtureServer, data_dir: Path
) -> None:
    data = (data_dir / "fixtures" / "arxiv_api" / NEW_25).read_bytes()
    serve_api(http_server, data)
    known = fixture_ids(data)
    unknown = [f"2607.{n:05d}" for n in range(10000, 10125)]
    sleeps: list[float] = []

    with httpx.Client() as client:
        records = atom.fetch_ids(
            client, f"{http_server.url}/api/query", [*unknown, *known], sleep=sleeps.append
        )

    assert sorted(r.arxiv_id or "" for r in records) == sorted(known)
    sizes = [len(params["id_list"][0].split(",")) for _, params in http_server.requests]
    assert sizes == [100, 50]
    assert [params["max_results"] for _, params in http_server.requests] == [["100"], ["50"]]
    assert sleeps == [3.0]


def test_fetch_ids_in_small_batches_returns_each_paper_once(
    http_server: FixtureServer, data_dir: Path
) -> None:
    data = (data_dir / "fixtures" / "arxiv_api" / NEW_25).read_bytes()
    serve_api(http_server, data)
    known = fixture_ids(data)
    sleeps: list[float] = []

    with httpx.Client() as client:
        records = atom.fetch_ids(
            client,
            f"{http_server.url}/api/query",
            [*known, *(f"arXiv:{i}v1" for i in known[:3])],
            batch_size=10,
            delay=0.5,
            sleep=sleeps.append,
        )

    assert [r.arxiv_id for r in records] == known
    assert len(http_server.requests) == 3  # 25 ids; the versioned repeats are asked for once
    assert sleeps == [0.5, 0.5]


def test_fetch_ids_rejects_a_malformed_id_before_any_request(http_server: FixtureServer) -> None:
    with httpx.Client() as client, pytest.raises(InvalidArxivId):
        atom.fetch_ids(client, f"{http_server.url}/api/query", ["2301.01234", "banana"])
    assert http_server.requests == []


def test_fetch_ids_raises_the_api_error_and_http_errors(http_server: FixtureServer) -> None:
    http_server.route = lambda path, params: Response(ERROR_FEED)
    with httpx.Client() as client, pytest.raises(atom.ArxivApiError, match="incorrect id"):
        atom.fetch_ids(client, f"{http_server.url}/api/query", ["2301.01234"])

    http_server.route = lambda path, params: Response(b"busy", 503, "text/plain")
    with httpx.Client() as client, pytest.raises(httpx.HTTPStatusError):
        atom.fetch_ids(client, f"{http_server.url}/api/query", ["2301.01234"])


def test_rejections_name_the_file_and_entry() -> None:
    items = list(atom.parse(io.BytesIO(feed(entry("junk", "T"))), "page.xml"))
    assert len(items) == 1
    assert isinstance(items[0], Rejection)
    assert items[0].location.startswith("page.xml entry 1 (line ")
