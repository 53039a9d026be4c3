"""Two machines on one PostgreSQL catalog: two real server processes, each with its own data
directory (and so its own search index). Papers imported through node A's data directory
are searchable on node B within 5 seconds of their commit, with no command run for B, and by
meaning with the vectors A wrote into the catalog: B embeds nothing."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from click.testing import Result

from paperfeed.db.schema import paper_embeddings, papers
from tests.conftest import DATA, scratch_database
from tests.support.cli import HEAD200, Cli
from tests.support.models import SessionModels
from tests.web.test_multiprocess import Node, _start, _stop, _wait_until_answering

PAPER = "0704.0001"  # "Calculation of prompt diphoton production cross sections ..."
QUERY = "diphoton production cross sections"
TARGET_SECONDS = 5.0


@dataclass
class TwoNodes:
    a: Node
    b: Node
    cli_a: Cli  # `paperfeed ...` with node A's data directory
    engine: sa.Engine  # the shared catalog


@pytest.fixture(scope="module")
def two_nodes(
    tmp_path_factory: pytest.TempPathFactory,
    catalog_server: str | None,
    session_models: SessionModels,
) -> Iterator[TwoNodes]:
    if catalog_server is None:
        pytest.skip("two machines share a PostgreSQL catalog (on PostgreSQL only)")
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    folder = tmp_path_factory.mktemp("two-nodes")
    stack = ExitStack()
    url = stack.enter_context(scratch_database())
    assert url is not None
    engine = sa.create_engine(url)
    stack.callback(engine.dispose)
    base = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    common = {
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_CONFIG": str(folder / "no-such-config.toml"),
        "PAPERFEED_EMBEDDER": "minilm",  # the real model: vectors must travel through the catalog
    }
    homes = {name: {**common, "PAPERFEED_HOME": str(folder / name)} for name in ("a", "b")}
    for (
        name
    ) in homes:  # each node's data directory holds the prepared model (tests/support/models.py)
        session_models.load("minilm", folder / name / "models")
    nodes: list[Node] = []
    try:
        nodes = [_start(name, {**base, **env}, folder) for name, env in homes.items()]
        for node in nodes:
            _wait_until_answering(node)
        yield TwoNodes(nodes[0], nodes[1], Cli(homes["a"]), engine)
    finally:
        for node in nodes:
            _stop(node)
        stack.close()  # drops the database


def _found(client: httpx.Client, mode: str) -> bool:
    response = client.get("/api/v1/search", params={"q": QUERY, "mode": mode, "limit": 3})
    results = response.json()["results"] if response.status_code == 200 else []
    return bool(results) and results[0]["id"] == PAPER


def _embeddings(engine: sa.Engine) -> dict[int, dt.datetime]:
    e = paper_embeddings
    with engine.connect() as conn:
        return {
            r.paper_id: r.updated_at for r in conn.execute(sa.select(e.c.paper_id, e.c.updated_at))
        }


def test_an_import_through_one_node_is_searchable_on_the_other(two_nodes: TwoNodes) -> None:
    client = httpx.Client(base_url=two_nodes.b.url, timeout=30)
    assert not _found(client, "lexical")

    # The import runs through node A's data directory (and indexes there, embedding the new
    # papers with the real model) while the test watches node B.
    imported: list[Result] = []
    worker = threading.Thread(
        target=lambda: imported.append(
            two_nodes.cli_a("import", "snapshot", DATA / HEAD200, "--no-progress")
        )
    )
    worker.start()
    deadline = time.monotonic() + 120
    while not _found(client, "lexical"):
        assert time.monotonic() < deadline, two_nodes.b.log.read_text(errors="replace")[-3000:]
        threading.Event().wait(0.05)
    found_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with two_nodes.engine.connect() as conn:
        written_at = conn.execute(
            sa.select(papers.c.modified_at).where(papers.c.arxiv_id == PAPER)
        ).scalar_one()
    # modified_at is stamped just before the import's transaction commits.
    took = (found_at - written_at).total_seconds()
    assert took < TARGET_SECONDS, f"searchable on node B {took:.1f} s after the commit"

    worker.join(timeout=300)
    assert imported, "the import did not finish"
    assert "embedded 200" in imported[0].stderr  # node A embedded the new papers
    written_by_a = _embeddings(two_nodes.engine)
    assert len(written_by_a) == 200

    # By meaning too on node B, from A's vectors: the catalog's embeddings are untouched,
    # so B embedded nothing (a node that embeds rewrites the rows it embedded).
    deadline = time.monotonic() + 60
    while not _found(client, "dense"):
        assert time.monotonic() < deadline, two_nodes.b.log.read_text(errors="replace")[-3000:]
        threading.Event().wait(0.1)
    assert _embeddings(two_nodes.engine) == written_by_a
    client.close()
    assert "Traceback" not in two_nodes.b.log.read_text(errors="replace")
