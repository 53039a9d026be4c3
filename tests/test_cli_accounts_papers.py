"""`paperfeed users tokens / revoke-token` and what `papers show` and `search` print."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paperfeed.config import Settings
from paperfeed.ingest.runner import write_batch
from paperfeed.papers.record import PaperRecord
from paperfeed.runtime import Runtime
from tests.support.accounts import confirmed_user
from tests.support.cli import Cli

HF_DAILY = "fixtures/hf_papers/daily_papers_2026-06-12.json"
PAPER = "2606.12730"  # 5 upvotes imported from Hugging Face


@pytest.fixture
def rt(cli: Cli) -> Iterator[Runtime]:
    """A runtime on the catalog the `cli` fixture's commands use."""
    runtime = Runtime(
        Settings(home=cli.env["PAPERFEED_HOME"], database_url=cli.env["PAPERFEED_DATABASE_URL"])
    )
    yield runtime
    runtime.close()


def test_users_tokens_lists_and_revoke_token_revokes_one(cli: Cli, rt: Runtime) -> None:
    ada = confirmed_user(rt.accounts, "ada@example.org", "ada")
    assert "ada has no API tokens" in cli("users", "tokens", "ada").stderr
    laptop = cli("users", "token", "ada", "--name", "laptop").stdout.strip()
    ci = cli("users", "token", "ada", "--name", "ci", "--expires-days", "30").stdout.strip()
    assert rt.accounts.token_user(laptop) == ada
    lines = cli("users", "tokens", "ada").stdout.splitlines()
    assert lines[0].split() == ["KEY", "CREATED", "LAST", "USED", "EXPIRES", "NAME"]
    rows = {line.split()[-1]: line for line in lines[1:]}
    assert set(rows) == {"laptop", "ci"}
    listed = {t.name: t for t in rt.accounts.api_tokens(ada)}
    when = "{:%Y-%m-%d %H:%M}".format
    laptop_t, ci_t = listed["laptop"], listed["ci"]
    assert laptop_t.last_used_at is not None and ci_t.expires_at is not None
    # key, created, last used (laptop was used above), expires, name
    assert rows["laptop"].split() == [
        laptop_t.key, *when(laptop_t.created_at).split(), *when(laptop_t.last_used_at).split(),
        "never", "laptop",
    ]  # fmt: skip
    assert rows["ci"].split() == [
        ci_t.key, *when(ci_t.created_at).split(), "never", *when(ci_t.expires_at).split(), "ci",
    ]  # fmt: skip

    done = cli("users", "revoke-token", "ada", listed["laptop"].key)
    assert done.stdout.strip() == f"revoked ada's API token laptop ({listed['laptop'].key})"
    assert rt.accounts.token_user(laptop) is None and rt.accounts.token_user(ci) == ada
    missing = cli("users", "revoke-token", "ada", "laptop", ok=False)
    assert missing.exit_code == 1 and "ada has no API token 'laptop'" in missing.stderr
    usage = cli("users", "revoke-token", "ada", ok=False)
    assert usage.exit_code == 2 and "name one TOKEN" in usage.stderr
    assert cli("users", "revoke-token", "ada", "--all").stdout.strip() == (
        "revoked 1 API token of ada"
    )
    assert rt.accounts.token_user(ci) is None
    bad = cli("users", "token", "ada", "--expires-days", "0", ok=False)
    assert bad.exit_code == 2


def test_papers_show_prints_categories_and_upvotes_as_the_page_does(
    cli: Cli, rt: Runtime, data_dir: Path
) -> None:
    cli("import", "hf-daily", data_dir / HF_DAILY, "--no-progress", "--no-index")
    paper_id = rt.paper_ids.resolve(PAPER)
    ada = confirmed_user(rt.accounts, "ada@example.org", "ada")
    rt.discussion.upvote(ada, paper_id)
    card = rt.cards.card(paper_id)
    assert card.upvotes == 6  # 5 imported + 1 cast here: what the page shows
    out = cli("papers", "show", PAPER).stdout.splitlines()
    assert "upvotes: 6" in out
    assert f"categories: {', '.join(card.categories) or 'none'}" in out


def test_search_prints_catalog_ids_and_no_placeholder_date(cli: Cli, rt: Runtime) -> None:
    [done] = write_batch(
        rt.engine,
        rt.catalog_writer,
        [PaperRecord(source="listing", title="Zygomorphic lattice sheaves for workshop readers")],
    )
    cli("index", "update", "--no-embed", "--no-progress")
    out = cli("search", "zygomorphic lattice sheaves", "--mode", "lexical").stdout
    assert f"pf-{done.paper_id}" in out
    assert "----------" not in out
    # `papers list` too: the id, and a blank date column (the other columns stay aligned).
    listed = cli("papers", "list").stdout.splitlines()
    (line,) = [ln for ln in listed if "Zygomorphic" in ln]
    assert line.startswith(" " * 10 + f"  pf-{done.paper_id} ")
    show = cli("papers", "show", f"pf-{done.paper_id}").stdout.splitlines()
    assert show[:5] == [
        "Zygomorphic lattice sheaves for workshop readers",
        "",  # no authors
        f"pf-{done.paper_id}",
        "categories: none",
        "upvotes: 0",
    ]
