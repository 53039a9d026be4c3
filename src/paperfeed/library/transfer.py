"""Filling a collection from the importers' formats, and exporting one.

Import: a BibTeX file (Zotero's, Mendeley's, Google Scholar's, DBLP's exports included) or a
list of arXiv ids, URLs and DOIs is read by the importer of that format (`ingest/bibtex.py`,
`ingest/reading_list.py`) and merged into the catalog by the catalog writer, as `paperfeed
import` does; the papers are then saved into the collection, and a paper new to the catalog
is indexed off the request path like a submitted one (`on_added`: the runtime's
`index_in_background`, search/follow.py). An arXiv id the catalog does not know is fetched
from the arXiv API; when arXiv cannot be reached the paper is saved by its id alone (the next
harvest or import fills it in) and the report says so: nothing is lost.

Export: BibTeX (every field's text escaped, braces balanced) and JSON."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import sqlalchemy as sa

from paperfeed.accounts.service import User
from paperfeed.community.errors import CommunityError, FetchUnavailable
from paperfeed.db.schema import paper_moderation, papers
from paperfeed.ingest.base import FormatError, Rejection
from paperfeed.ingest.formats import FORMATS
from paperfeed.library.collections import Collection, Item, LibraryService
from paperfeed.papers.catalog_writer import CatalogWriter, Outcome
from paperfeed.papers.ids import abs_url
from paperfeed.papers.record import PaperRecord

ImportFormat = Literal["bibtex", "ids"]
IMPORT_FORMATS: tuple[ImportFormat, ...] = ("bibtex", "ids")
MAX_IMPORT_BYTES = 8 * 1024 * 1024
MAX_IMPORT_PAPERS = 5_000
EXPORT_FORMAT = "paperfeed-collection/1"


class ArxivRecords(Protocol):
    def fetch_many(self, arxiv_ids: Sequence[str]) -> list[PaperRecord]:
        """The papers arXiv knows among these canonical ids (others are left out); raises
        FetchUnavailable when arXiv cannot be reached."""
        ...


@dataclass
class ImportReport:
    saved: int = 0  # papers put into the collection
    already: int = 0  # papers that were in it already (or named twice)
    added_to_catalog: int = 0  # of the saved, papers new to the catalog
    not_recognised: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    notices: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.saved} saved, {self.already} already there, "
            f"{len(self.not_recognised)} not recognised"
        )


def sniff_format(data: bytes) -> ImportFormat:
    """BibTeX when the text holds an entry (`@article{`), else a list of ids."""
    return "bibtex" if re.search(rb"@\s*[A-Za-z]+\s*[{(]", data[:65536]) else "ids"


class CollectionImporter:
    def __init__(
        self,
        library: LibraryService,
        writer: CatalogWriter,
        fetcher: ArxivRecords | None,
        *,
        on_added: Callable[[], None] | None = None,
    ) -> None:
        self.library = library
        self.writer = writer
        self.fetcher = fetcher  # None: papers not in the catalog are saved by id alone
        self.on_added = on_added

    def import_into(
        self,
        user: User,
        collection_id: int,
        data: bytes,
        *,
        fmt: ImportFormat | None = None,
        name: str = "upload",
    ) -> ImportReport:
        """Saves the papers a file names into one of the reader's collections (see the
        module's docstring). CommunityError when the file is not of the format at all."""
        self.library.own(user, collection_id)
        if len(data) > MAX_IMPORT_BYTES:
            raise CommunityError(f"{name}: over {MAX_IMPORT_BYTES // 2**20} MiB")
        if not data.strip():
            raise CommunityError(f"{name}: empty, nothing to import")
        fmt = fmt or sniff_format(data)
        if fmt not in IMPORT_FORMATS:
            raise CommunityError(f"a collection imports {' or '.join(IMPORT_FORMATS)}")
        report = ImportReport()
        try:
            items = list(FORMATS[fmt].parser()(io.BytesIO(data), name))
        except FormatError as exc:
            raise CommunityError(str(exc)) from None
        records: list[tuple[str, PaperRecord]] = []
        for number, item in enumerate(items, start=1):
            if isinstance(item, Rejection):
                report.not_recognised.append((item.location, item.reason))
            else:
                records.append((f"{name} entry {number}", item))
        if len(records) > MAX_IMPORT_PAPERS:
            raise CommunityError(f"{name}: at most {MAX_IMPORT_PAPERS:,} papers at a time")
        records = self._complete(records, report)
        self._save(user, collection_id, records, report)
        return report

    def _complete(
        self, records: list[tuple[str, PaperRecord]], report: ImportReport
    ) -> list[tuple[str, PaperRecord]]:
        """Entries that name a paper the catalog lacks by an id alone: arXiv ids are fetched
        from arXiv (kept by id when it cannot be reached), unknown DOIs are not recognised."""
        engine = self.library.reader
        bare = [(where, r) for where, r in records if not r.title]
        arxiv_ids = [r.arxiv_id for _, r in bare if r.arxiv_id]
        dois = [r.doi for _, r in bare if r.doi and not r.arxiv_id]
        with engine.connect() as conn:
            known_arxiv = (
                set(
                    conn.execute(
                        sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id.in_(arxiv_ids))
                    ).scalars()
                )
                if arxiv_ids
                else set()
            )
            known_doi = (
                set(conn.execute(sa.select(papers.c.doi).where(papers.c.doi.in_(dois))).scalars())
                if dois
                else set()
            )
        missing = list(dict.fromkeys(a for a in arxiv_ids if a not in known_arxiv))
        fetched: dict[str, PaperRecord] | None = None
        if missing and self.fetcher is not None:
            try:
                fetched = {r.arxiv_id or "": r for r in self.fetcher.fetch_many(missing)}
            except FetchUnavailable:
                report.notices.append(
                    f"arXiv could not be reached: {len(missing)} paper(s) not in the catalog "
                    "were saved by their arXiv id alone; their titles and abstracts come with "
                    "the next harvest or import (or import the list again later)."
                )
        elif missing:
            report.notices.append(
                f"fetching from arXiv is off: {len(missing)} paper(s) not in the catalog were "
                "saved by their arXiv id alone."
            )
        kept: list[tuple[str, PaperRecord]] = []
        for where, record in records:
            if record.title:
                kept.append((where, record))
            elif record.arxiv_id in missing and fetched is not None:
                if record.arxiv_id in fetched:
                    kept.append((where, fetched[record.arxiv_id]))
                else:
                    report.not_recognised.append(
                        (where, f"arXiv does not know arXiv:{record.arxiv_id}")
                    )
            elif record.arxiv_id or record.doi in known_doi:
                kept.append((where, record))
            else:
                report.not_recognised.append(
                    (
                        where,
                        f"DOI {record.doi} is not in the catalog (only arXiv ids can be fetched)",
                    )
                )
        return kept

    def _save(
        self,
        user: User,
        collection_id: int,
        records: list[tuple[str, PaperRecord]],
        report: ImportReport,
    ) -> None:
        library = self.library
        now = library.clock()
        with library.engine.begin() as conn:
            results = self.writer.upsert(conn, [r for _, r in records]) if records else []
            hidden = set(conn.execute(sa.select(paper_moderation.c.paper_id)).scalars())
            ids: list[int] = []
            for (where, _), result in zip(records, results, strict=True):
                if result.paper_id in hidden:
                    report.not_recognised.append((where, "hidden by a moderator"))
                    continue
                ids.append(result.paper_id)
                if result.outcome is Outcome.NEW:
                    report.added_to_catalog += 1
            report.saved = library._put(conn, collection_id, ids, now)
            report.already = len(ids) - report.saved
            if report.saved:
                library._touch(conn, collection_id, now)
        if report.added_to_catalog and self.on_added is not None:
            self.on_added()


# -- export -------------------------------------------------------------------------------------

_BIBTEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def bibtex_escape(text: str) -> str:
    """Text as a BibTeX field's value holds it literally: TeX's special characters escaped,
    every brace written as a command (so braces always balance), control characters
    dropped."""
    text = _CONTROL.sub("", text)
    return "".join(_BIBTEX_ESCAPES.get(ch, ch) for ch in text)


def _bibtex_key(public_id: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9.:-]", "_", public_id)
    key = base if not base[:1].isdigit() else f"arXiv:{base}"
    n, unique = 1, key
    while unique in used:
        n += 1
        unique = f"{key}-{n}"
    used.add(unique)
    return unique


def _dois(engine: sa.Engine, paper_ids: Sequence[int]) -> dict[int, str]:
    if not paper_ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(papers.c.id, papers.c.doi).where(
                papers.c.id.in_(list(paper_ids)), papers.c.doi.is_not(None)
            )
        )
        return {row.id: row.doi for row in rows}


def to_bibtex(library: LibraryService, collection: Collection, items: Sequence[Item]) -> str:
    """The collection as a BibTeX file: one @article or @misc per paper (arXiv's eprint
    fields for arXiv papers), its note as `annote`."""
    dois = _dois(library.reader, [i.card.paper_id for i in items])
    used: set[str] = set()
    header = f"% {bibtex_escape(collection.name)}: exported from paperfeed"
    entries = [header.replace("\n", " ")]
    for item in items:
        card = item.card
        fields: list[tuple[str, str]] = [("title", card.title or card.public_id)]
        if card.authors:
            fields.append(("author", " and ".join(a for a in card.authors if a)))
        if card.submitted_at:
            fields.append(("year", str(card.submitted_at.year)))
        if card.arxiv_id:
            fields += [("eprint", card.arxiv_id), ("archivePrefix", "arXiv")]
            if card.categories:
                fields.append(("primaryClass", card.categories[0]))
            fields.append(("url", abs_url(card.arxiv_id)))
        doi = dois.get(card.paper_id)
        if doi:
            fields.append(("doi", doi))
        if card.abstract:
            fields.append(("abstract", card.abstract))
        if item.note:
            fields.append(("annote", item.note))
        kind = "article" if doi else "misc"
        body = ",\n".join(f"  {name} = {{{bibtex_escape(value)}}}" for name, value in fields)
        entries.append(f"@{kind}{{{_bibtex_key(card.public_id, used)},\n{body}\n}}")
    return "\n\n".join(entries) + "\n"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def to_json(
    library: LibraryService, collection: Collection, items: Sequence[Item], base_url: str
) -> dict[str, Any]:
    """The collection as JSON-ready data: its name, description, and each paper with its
    note and when it was saved."""
    dois = _dois(library.reader, [i.card.paper_id for i in items])
    base = base_url.rstrip("/")
    return {
        "format": EXPORT_FORMAT,
        "name": collection.name,
        "description": collection.description,
        "public": collection.public,
        "owner": collection.owner,
        "created_at": _iso(collection.created_at),
        "updated_at": _iso(collection.updated_at),
        "papers": [
            {
                "id": item.card.public_id,
                "arxiv_id": item.card.arxiv_id,
                "doi": dois.get(item.card.paper_id),
                "title": item.card.title,
                "authors": item.card.authors,
                "submitted": _iso(item.card.submitted_at),
                "url": f"{base}/papers/{item.card.public_id}",
                "note": item.note,
                "added_at": _iso(item.added_at),
            }
            for item in items
        ],
    }
