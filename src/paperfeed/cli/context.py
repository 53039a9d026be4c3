from __future__ import annotations

from typing import Any

import click

from paperfeed.papers.ids import InvalidArxivId, parse_arxiv_id
from paperfeed.runtime import Runtime

pass_runtime = click.make_pass_decorator(Runtime)


def find_paper(runtime: Runtime, text: str) -> dict[str, Any]:
    """The paper an arXiv id or URL (or #N, a catalog row number) names; a clear CLI error
    when the text is not an id or the paper is not in the catalog."""
    if text.startswith("#") and text[1:].isdigit():
        paper = runtime.catalog.get(paper_id=int(text[1:]))
    else:
        try:
            canonical = parse_arxiv_id(text).canonical
        except InvalidArxivId as exc:
            raise click.ClickException(str(exc)) from None
        paper = runtime.catalog.get(canonical)
    if paper is None:
        raise click.ClickException(f"{text} is not in the catalog")
    return paper
