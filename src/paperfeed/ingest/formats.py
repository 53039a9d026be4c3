"""The import formats `paperfeed import FORMAT` accepts, and their parsers."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from paperfeed.ingest.base import Parser


@dataclass(frozen=True)
class ImportFormat:
    name: str
    module: str  # paperfeed.ingest.<module> provides `parse`
    help: str
    reading_list: bool = False  # entries are matched to the catalog; unmatched ones reported

    def parser(self) -> Parser:
        parse: Parser = importlib.import_module(f"paperfeed.ingest.{self.module}").parse
        return parse


FORMATS: dict[str, ImportFormat] = {
    f.name: f
    for f in (
        ImportFormat(
            "snapshot",
            "snapshot",
            "arXiv metadata snapshot, JSON lines (arxiv-metadata-oai-snapshot.json)",
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
