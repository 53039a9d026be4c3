"""Filling a collection from files (CollectionImporter): a Zotero-style BibTeX export with
malformed entries, arXiv id lists with arXiv reachable (a local server replaying a real
arXiv API answer) and not; and exporting a collection as BibTeX and JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import bibtexparser
import pytest
import sqlalchemy as sa

from paperfeed.community.errors import CommunityError, NotFound
from paperfeed.db.schema import papers
from paperfeed.library.transfer import to_bibtex, to_json
from paperfeed.runtime import Runtime
from tests.conftest import DATA
from tests.library.conftest import MakeUser
from tests.support.http import FixtureServer, Response
from tests.support.server import free_port

ARXIV_FEED = DATA / "fixtures" / "arxiv_api" / "query_transformer_cs.LG_2026-06-14.xml"
IN_FEED = "2606.13677"  # "Mana: Dexterous Manipulation of Articulated Tools", in ARXIV_FEED

ZOTERO = r"""
@article{wang_in_catalog_2026,
	title = {Some {Title} the catalog knows by its id},
	url = {http://arxiv.org/abs/2606.12730},
	journal = {arXiv:2606.12730 [cs]},
	author = {Wang, A. and Li, B.},
	month = jun,
	year = {2026},
	note = {arXiv:2606.12730},
	file = {arXiv Fulltext PDF:/home/ada/Zotero/storage/ABCD/Wang.pdf:application/pdf},
}

@misc{second_2026,
	title = {Named by its eprint},
	author = {Doe, Jane},
	year = {2026},
	eprint = {2606.00467},
	archivePrefix = {arXiv},
	primaryClass = {cs.CL},
}

@article{broken_2026,
	title = {An entry whose braces never close,
	author = {Nobody, N.},

@article{no_identity_2026,
	author = {Anonymous, A.},
	year = {2020},
}

@inproceedings{lovelace_engines_1843,
	title = {Sketch of the {Analytical} {Engine} \& {Notes}},
	author = {Lovelace, Ada},
	booktitle = {Scientific {Memoirs}},
	year = {1843},
	doi = {10.5555/analytical.1843},
}

@article{again_2026,
	title = {The first paper once more},
	eprint = {2606.12730},
	archivePrefix = {arXiv},
}
"""


@pytest.fixture
def arxiv() -> Iterator[FixtureServer]:
    """A local arXiv API answering every id query with a real saved answer."""
    server = FixtureServer(
        route=lambda path, _: Response(ARXIV_FEED.read_bytes()) if path == "/api/query" else None
    )
    server.start()
    yield server
    server.stop()


def with_arxiv(runtime: Runtime, endpoint: str) -> Runtime:
    return Runtime(runtime.settings.model_copy(update={"arxiv_api_endpoint": endpoint}))


def test_a_zotero_export_with_malformed_entries_saves_the_rest(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    ada = make_user("ada")
    shelf = hf_daily.library.create(ada, "From Zotero")
    report = hf_daily.collection_importer.import_into(
        ada, shelf.id, ZOTERO.encode(), name="My Library.bib"
    )
    assert (report.saved, report.already, report.added_to_catalog) == (3, 1, 1)
    reasons = dict(report.not_recognised)
    assert len(reasons) == 2, report.not_recognised
    assert any(
        w.startswith("My Library.bib:") and "malformed entry" in r for w, r in reasons.items()
    )
    assert "entry 'no_identity_2026' has no arXiv id, DOI or title" in reasons.values()
    saved = {i.card.public_id: i.card for i in hf_daily.library.items(ada, shelf.id)}
    assert {"2606.12730", "2606.00467"} <= set(saved)
    [new] = [c for pid, c in saved.items() if pid.startswith("pf-")]
    assert new.title == "Sketch of the Analytical Engine & Notes"
    assert new.authors == ["Ada Lovelace"]

    again = hf_daily.collection_importer.import_into(ada, shelf.id, ZOTERO.encode(), name="x.bib")
    assert (again.saved, again.already, again.added_to_catalog) == (0, 4, 0)


def test_a_file_of_no_known_format_is_refused_and_changes_nothing(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    ada, bob = make_user("ada"), make_user("bob")
    shelf = hf_daily.library.create(ada, "Shelf")
    importer = hf_daily.collection_importer
    with pytest.raises(CommunityError, match="not a reading list"):
        importer.import_into(ada, shelf.id, b"just some words\nand more", fmt="ids")
    with pytest.raises(CommunityError, match="no BibTeX entries"):
        importer.import_into(ada, shelf.id, b"% only a comment", fmt="bibtex")
    with pytest.raises(CommunityError, match="empty"):
        importer.import_into(ada, shelf.id, b"  \n")
    with pytest.raises(NotFound):  # someone else's collection
        importer.import_into(bob, shelf.id, b"2606.12730")
    assert hf_daily.library.items(ada, shelf.id) == []


def test_arxiv_ids_not_in_the_catalog_are_fetched_from_arxiv(
    hf_daily: Runtime, make_user: MakeUser, arxiv: FixtureServer
) -> None:
    online = with_arxiv(hf_daily, f"{arxiv.url}/api/query")
    try:
        ada = make_user("ada")
        shelf = online.library.create(ada, "Ids")
        text = (
            f"2606.12730  in the catalog\nhttps://arxiv.org/abs/{IN_FEED}v1\n"
            "2606.99999\nno id here\n"
        )
        report = online.collection_importer.import_into(
            ada, shelf.id, text.encode(), name="ids.txt"
        )
        assert (report.saved, report.added_to_catalog) == (2, 1)
        assert sorted(report.not_recognised) == [
            ("ids.txt entry 3", "arXiv does not know arXiv:2606.99999"),
            ("ids.txt:4", "no arXiv id, arXiv URL or DOI: no id here"),
        ]
        titles = {i.card.public_id: i.card.title for i in online.library.items(ada, shelf.id)}
        assert titles[IN_FEED] == "Mana: Dexterous Manipulation of Articulated Tools"
        assert [p for p, _ in arxiv.requests] == ["/api/query"]  # one batch
    finally:
        online.close()


def test_offline_the_ids_are_saved_and_the_reader_told(
    hf_daily: Runtime, make_user: MakeUser
) -> None:
    offline = with_arxiv(hf_daily, f"http://127.0.0.1:{free_port()}/api/query")
    try:
        ada = make_user("ada")
        shelf = offline.library.create(ada, "Ids")
        report = offline.collection_importer.import_into(
            ada, shelf.id, f"2606.12730\n{IN_FEED}\n".encode(), name="ids.txt"
        )
        assert (report.saved, report.not_recognised) == (2, [])
        [notice] = report.notices
        assert notice.startswith("arXiv could not be reached: 1 paper(s) not in the catalog")
        saved = [i.card.public_id for i in offline.library.items(ada, shelf.id)]
        assert sorted(saved) == sorted(["2606.12730", IN_FEED])  # nothing lost
    finally:
        offline.close()


def test_export_escapes_bibtex_and_round_trips(
    hf_daily: Runtime, make_user: MakeUser, tmp_path: Path
) -> None:
    library = hf_daily.library
    ada = make_user("ada")
    shelf = library.create(ada, "Export {me} & 100%")
    hostile = r"50% of {the} \emph{best} & $x_1$ # } unbalanced { ~^"
    for n, pid in enumerate(["2606.12730", "2606.00467", "2607.23193"]):
        library.save(ada, shelf.id, hf_daily.paper_ids.resolve(pid), note=hostile if n == 0 else "")
    with hf_daily.engine.begin() as conn:  # a paper whose title is hostile too
        conn.execute(
            papers.update()
            .where(papers.c.arxiv_id == "2606.00467")
            .values(title="Braces } { and back\\slash % & _ title")
        )
    items = library.items(ada, shelf.id)
    text = to_bibtex(library, library.collection(ada, shelf.id), items)
    parsed = bibtexparser.parse_string(text)
    assert parsed.failed_blocks == []
    assert len(parsed.entries) == 3
    by_eprint = {e.fields_dict["eprint"].value: e for e in parsed.entries}
    assert set(by_eprint) == {"2606.12730", "2606.00467", "2607.23193"}
    annote = by_eprint["2606.12730"].fields_dict["annote"].value
    assert r"50\% of \textbraceleft{}the\textbraceright{} \textbackslash{}emph" in annote
    assert text.count("{") == text.count("}")

    copy = library.create(ada, "Copy")
    report = hf_daily.collection_importer.import_into(ada, copy.id, text.encode(), name="e.bib")
    assert (report.saved, report.not_recognised, report.added_to_catalog) == (3, [], 0)
    assert {i.card.paper_id for i in library.items(ada, copy.id)} == {
        i.card.paper_id for i in items
    }

    data = to_json(library, library.collection(ada, shelf.id), items, "http://x.test")
    assert data["name"] == "Export {me} & 100%"
    assert [(p["id"], p["note"]) for p in data["papers"]][-1] == ("2606.12730", hostile)
    with hf_daily.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one() == 63
