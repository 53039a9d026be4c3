from __future__ import annotations

from typing import Any

import click

from paperfeed.papers.ids import InvalidPaperId
from paperfeed.papers.lookup import PaperNotFound
from paperfeed.runtime import Runtime

pass_runtime = click.make_pass_decorator(Runtime)


def find_paper(runtime: Runtime, text: str) -> dict[str, Any]:
    """The paper an id names (an arXiv id or URL, or pf-N; also #N), through the resolver
    pages and APIs use; a clear CLI error when the text is no id or the paper is unknown."""
    try:
        paper_id = runtime.paper_ids.resolve(text)
    except (InvalidPaperId, PaperNotFound) as exc:
        raise click.ClickException(str(exc)) from None
    paper = runtime.catalog.get(paper_id=paper_id)
    if paper is None:  # (deleted in between)
        raise click.ClickException(f"paper {text} is not in the catalog")
    return paper
