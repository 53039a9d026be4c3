"""Running `paperfeed ...` in-process, as a user would, against a temporary data directory
(and, on the PostgreSQL leg, a fresh PostgreSQL database)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from paperfeed.cli import main

HEAD200 = "arxiv/kaggle_snapshot_head200.jsonl.gz"


class Cli:
    """Runs `paperfeed ...` in-process with the environment a user would set."""

    def __init__(self, env: Mapping[str, str | None]) -> None:
        self.env = dict(env)
        self.runner = CliRunner()

    def __call__(self, *args: str | Path, ok: bool = True) -> Result:
        result = self.runner.invoke(main, [str(a) for a in args], env=self.env)
        if ok:
            assert result.exit_code == 0, (
                f"paperfeed {' '.join(map(str, args))} exited {result.exit_code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}\n{result.exception!r}"
            )
        return result


@pytest.fixture
def cli_env(home: Path, database_url: str | None) -> dict[str, str | None]:
    return {
        "PAPERFEED_HOME": str(home),
        "PAPERFEED_DATABASE_URL": database_url,
        "PAPERFEED_CONFIG": None,
        "PAPERFEED_REQUEST_DELAY": "0",
    }


@pytest.fixture
def cli(cli_env: dict[str, str | None]) -> Cli:
    return Cli(cli_env)


@pytest.fixture
def imported(cli: Cli, seed_snapshot_head200: None) -> Cli:
    """A catalog holding the 200 records of the Kaggle snapshot head, imported and indexed
    with `paperfeed import snapshot` (once per test process: the test starts from a copy of
    that data directory and catalog, the `seed_snapshot_head200` seed)."""
    return cli
