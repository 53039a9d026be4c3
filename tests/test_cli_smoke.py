"""Smoke tests: every `paperfeed` command runs end to end against a temporary data directory
(and, on the PostgreSQL leg, a fresh PostgreSQL database)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import Result

from tests.support.cli import HEAD200, Cli


def _error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_help_lists_every_command(cli: Cli) -> None:
    out = cli("--help").stdout
    for command in ("init", "db", "import", "harvest", "papers", "stats"):
        assert f"\n  {command} " in out, f"{command} missing from --help:\n{out}"


@pytest.mark.parametrize(
    "command",
    [
        ["db"],
        ["db", "upgrade"],
        ["db", "check"],
        ["init"],
        ["import"],
        ["harvest"],
        ["papers"],
        ["papers", "show"],
        ["papers", "list"],
        ["stats"],
    ],
    ids=" ".join,
)
def test_every_command_has_help(cli: Cli, command: list[str]) -> None:
    out = cli(*command, "--help").stdout
    assert out.startswith("Usage: "), out


def test_import_help_lists_formats(cli: Cli) -> None:
    out = cli("import", "--help").stdout
    for fmt in ("snapshot", "oai-pmh", "arxiv-atom", "hf-daily", "bibtex"):
        assert fmt in out


def test_version(cli: Cli) -> None:
    assert cli("--version").stdout.startswith("paperfeed, version ")


@pytest.mark.empty_catalog
def test_db_upgrade_twice_then_check(cli: Cli) -> None:
    first = cli("db", "upgrade").stdout
    assert "database upgraded: empty -> " in first
    second = cli("db", "upgrade").stdout
    assert "database is up to date" in second
    assert "schema is current" in cli("db", "check").stdout


@pytest.mark.empty_catalog
def test_init_without_harvest_creates_the_catalog(cli: Cli, cli_env: dict[str, str | None]) -> None:
    out = cli("init", "--no-harvest").stdout
    home = Path(str(cli_env["PAPERFEED_HOME"]))
    assert f"data directory: {home}" in out
    assert "(0 papers)" in out
    assert home.is_dir()
    if cli_env["PAPERFEED_DATABASE_URL"] is None:
        assert (home / "catalog.sqlite3").is_file()
    assert "schema is current" in cli("db", "check").stdout


def test_import_snapshot_then_stats(imported: Cli) -> None:
    stats = json.loads(imported("stats", "--json").stdout)
    assert stats["papers"] == 200
    assert stats["with_arxiv_id"] == 200
    text = imported("stats").stdout
    assert text.startswith("papers: 200 ")


def test_import_json_summary_and_reimport_changes_nothing(cli: Cli, data_dir: Path) -> None:
    first = json.loads(cli("import", "snapshot", data_dir / HEAD200, "--json").stdout)
    assert first["total"]["new"] == 200
    assert first["total"]["rejected"] == 0
    again = json.loads(cli("import", "snapshot", data_dir / HEAD200, "--json").stdout)
    assert again["total"]["new"] == 0
    assert again["total"]["updated"] == 0
    assert json.loads(cli("stats", "--json").stdout)["papers"] == 200


def test_papers_show(imported: Cli) -> None:
    out = imported("papers", "show", "0704.0001").stdout
    assert "Calculation of prompt diphoton production cross sections" in out
    assert "arXiv:0704.0001" in out
    assert "hep-ph" in out
    as_json = json.loads(imported("papers", "show", "arXiv:0704.0001", "--json").stdout)
    assert as_json["arxiv_id"] == "0704.0001"
    assert as_json["doi"].lower() == "10.1103/physrevd.76.013009"  # DOIs are case-insensitive


def test_papers_list_by_category_and_date(imported: Cli, data_dir: Path) -> None:
    with gzip.open(data_dir / HEAD200) as fh:
        expected = {
            obj["id"] for obj in map(orjson.loads, fh) if "hep-ph" in obj["categories"].split()
        }
    out = imported("papers", "list", "--category", "hep-ph", "--since", "2007-01-01").stdout
    assert "0704.0001" in out
    assert len(out.splitlines()) == min(20, len(expected))
    rows = json.loads(
        imported(
            "papers", "list", "--category", "hep-ph", "--since", "2007-01-01",
            "--limit", "500", "--json",
        ).stdout
    )  # fmt: skip
    assert {row["arxiv_id"] for row in rows} == expected
    assert all("hep-ph" in row["categories"] for row in rows)
    dates = [row["submitted_at"] for row in rows]
    assert dates == sorted(dates, reverse=True)
    later = json.loads(imported("papers", "list", "--since", "2030-01-01", "--json").stdout)
    assert later == []


def test_import_of_a_non_snapshot_file_fails_clearly(cli: Cli, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("these are my notes\nnot JSON at all\n")
    result = cli("import", "snapshot", bogus, ok=False)
    assert result.exit_code != 0
    lines = _error_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "not an arXiv snapshot file" in lines[0]
    assert "Traceback" not in result.output
    assert json.loads(cli("stats", "--json").stdout)["papers"] == 0


def test_import_of_a_missing_file_fails_clearly(cli: Cli, tmp_path: Path) -> None:
    result = cli("import", "snapshot", tmp_path / "nope.jsonl", ok=False)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_papers_show_rejects_a_bad_id(imported: Cli) -> None:
    result = imported("papers", "show", "not-an-id", ok=False)
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "not-an-id" in lines[0]


def test_papers_show_of_an_unknown_paper_fails_clearly(imported: Cli) -> None:
    result = imported("papers", "show", "2401.00001", ok=False)
    assert result.exit_code == 1
    assert _error_lines(result) == ["Error: 2401.00001 is not in the catalog"]


def test_console_script_runs_in_a_subprocess(
    cli_env: dict[str, str | None], data_dir: Path
) -> None:
    """The installed entry point (`python -m paperfeed`), with the environment a user sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update({k: v for k, v in cli_env.items() if v is not None})

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "paperfeed", *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    # (without indexing: a new process would prepare and run the model, which tests in-process
    # cover; this test is about the entry point)
    imported = run("import", "snapshot", data_dir / HEAD200, "--no-progress", "--no-index")
    assert imported.returncode == 0, imported.stderr
    assert "imported: new 200," in imported.stdout
    stats = run("stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["papers"] == 200
    bad = run("papers", "show", "not-an-id")
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr


def test_import_draws_progress_on_request(cli: Cli, data_dir: Path) -> None:
    """`--progress` draws the runner's reports as a bar on stderr; `--no-progress` nothing."""
    drawn = cli("import", "snapshot", data_dir / HEAD200, "--progress", "--no-index")
    assert "kaggle_snapshot_head200.jsonl.gz" in drawn.stderr
    assert "200 records" in drawn.stderr and "rec/s" in drawn.stderr
    quiet = cli("import", "snapshot", data_dir / HEAD200, "--no-progress", "--no-index")
    assert "kaggle_snapshot_head200.jsonl.gz:" in quiet.stderr  # the summary line only
    assert "rec/s" not in quiet.stderr
