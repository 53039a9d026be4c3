"""A NUL character (a broken JSON escape) in a record never fails an import: PostgreSQL cannot
store one, so it is dropped from the text and the rest of the record imports."""

from __future__ import annotations

import json
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.support.cli import Cli


def test_nul_characters_are_dropped_not_fatal(cli: Cli, tmp_path: Path) -> None:
    record = {
        "id": "2301.01234",
        "submitter": "Ada\u0000 Lovelace",
        "authors": "Ada Lovelace",
        "title": "Engines\u0000 of analysis",
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": "cs.LG",
        "license": None,
        "abstract": "  We describe\u0000 an engine.\n",
        "versions": [{"version": "v1", "created": "Mon, 2 Jan 2023 10:00:00 GMT"}],
        "update_date": "2023-01-03",
        "authors_parsed": [["Lovelace", "Ada", ""]],
    }
    path = tmp_path / "snapshot.jsonl"
    path.write_text(json.dumps(record) + "\n")
    result = cli("import", "snapshot", path, "--no-progress", "--json", "--no-index")
    assert json.loads(result.stdout)["total"]["new"] == 1
    runtime = Runtime(
        Settings(home=cli.env["PAPERFEED_HOME"], database_url=cli.env["PAPERFEED_DATABASE_URL"])
    )
    try:
        paper = runtime.catalog.get("2301.01234")
        assert paper is not None
        assert paper["title"] == "Engines of analysis"
        assert "\x00" not in paper["abstract"] and "engine" in paper["abstract"]
    finally:
        runtime.close()
