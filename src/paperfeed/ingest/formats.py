"""The import formats `paperfeed import FORMAT` accepts: their parsers, and the bulk loader
of a format that has one."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from paperfeed.ingest.base import Parser

if TYPE_CHECKING:
    from paperfeed.ingest.runner import BulkLoader


@dataclass(frozen=True)
class ImportFormat:
    name: str
    module: str  # paperfeed.ingest.<module> provides `parse`
    help: str
    reading_list: bool = False  # entries are matched to the catalog; unmatched ones reported
    # paperfeed.ingest.<bulk> provides `LOADER`, a BulkLoader: the path large files take
    # instead of `parse` in batches (modules are imported only when a file is imported).
    bulk: str | None = None

    def parser(self) -> Parser:
        parse: Parser = importlib.import_module(f"paperfeed.ingest.{self.module}").parse
        return parse

    def bulk_loader(self) -> BulkLoader | None:
        if self.bulk is None:
            return None
        loader: BulkLoader = importlib.import_module(f"paperfeed.ingest.{self.bulk}").LOADER
        return loader


FORMATS: dict[str, ImportFormat] = {
    f.name: f
    for f in (
        ImportFormat(
            "snapshot",
            "snapshot",
            "arXiv metadata snapshot, JSON lines (arxiv-metadata-oai-snapshot.json)",
            bulk="snapshot_bulk",
        ),
        ImportFormat(
            "oai-pmh",
            "oaipmh",
            "saved OAI-PMH ListRecords/GetRecord responses (oai_dc, arXiv, arXivRaw)",
        ),
        ImportFormat("arxiv-atom", "atom", "arXiv API (Atom) query responses"),
        ImportFormat("hf-daily", "hf_daily", "Hugging Face api/daily_papers JSON responses"),
        ImportFormat(
            "ids", "reading_list", "reading list: arXiv ids, arXiv URLs or DOIs", reading_list=True
        ),
        ImportFormat("bibtex", "bibtex", "reading list: BibTeX file", reading_list=True),
        ImportFormat(
            "listing",
            "listing",
            "reading list: text copied from a papers web page (title, blank, abstract)",
            reading_list=True,
        ),
    )
}
