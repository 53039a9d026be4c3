"""`paperfeed papers ...` and `paperfeed stats`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import click

from paperfeed.cli.context import find_paper, pass_runtime
from paperfeed.papers.ids import abs_url, pdf_url, public_id
from paperfeed.papers.predicted_categories import CategoryPredictor
from paperfeed.runtime import Runtime


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@click.group()
def papers() -> None:
    """Look up papers in the catalog."""


@papers.command("show")
@click.argument("paper_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON.")
@pass_runtime
def show(runtime: Runtime, paper_id: str, as_json: bool) -> None:
    """Show one paper by arXiv id or URL, or by its paperfeed id pf-N."""
    paper = find_paper(runtime, paper_id)
    if as_json:
        click.echo(json.dumps(_jsonable(paper), indent=2, ensure_ascii=False))
        return
    click.echo(click.style(paper["title"] or "(untitled)", bold=True))
    click.echo(", ".join(a["name"] for a in paper["authors"]))
    # Categories and upvotes as the paper's page shows them (the card: imported upvotes and
    # those cast here together).
    card = runtime.cards.card(paper["id"], include_hidden=True)
    if paper["arxiv_id"]:
        versions = ", ".join(
            f"{v['version']} {v.get('created', '')[:10]}" for v in paper["versions"]
        )
        click.echo(f"arXiv:{paper['arxiv_id']}  {versions}")
    else:
        click.echo(public_id(None, paper["id"]))
    predicted = " (predicted from similar papers)" if card.categories_predicted else ""
    click.echo(f"categories: {', '.join(card.categories) or 'none'}{predicted}")
    click.echo(f"upvotes: {card.upvotes}")
    dates = [
        ("submitted", paper["submitted_at"]),
        ("updated", paper["updated_at"]),
        ("announced", paper["announced_on"]),
    ]
    click.echo("  ".join(f"{k} {v:%Y-%m-%d}" for k, v in dates if v))
    for label, key in (
        ("comments", "comments"),
        ("journal", "journal_ref"),
        ("doi", "doi"),
        ("license", "license"),
    ):
        if paper[key]:
            click.echo(f"{label}: {paper[key]}")
    click.echo()
    click.echo(paper["abstract"])
    click.echo()
    if paper["arxiv_id"]:
        click.echo(f"abstract: {abs_url(paper['arxiv_id'])}\npdf: {pdf_url(paper['arxiv_id'])}")
    for link in paper["links"]:
        click.echo(f"{link['kind']}: {link['url']}")
    daily = paper.get("daily")
    if daily:
        click.echo(
            f"daily papers {daily['submitted_on']}"
            + (f", submitted by {daily['submitted_by']}" if daily["submitted_by"] else "")
        )
    click.echo(f"sources: {', '.join(paper['sources'])}")


@papers.command("list")
@click.option("--category", default=None, help="arXiv category (cs.LG) or archive (cs).")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Only papers first submitted on or after this date (YYYY-MM-DD).",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_runtime
def list_papers(
    runtime: Runtime, category: str | None, since: dt.datetime | None, limit: int, as_json: bool
) -> None:
    """List papers, newest first."""
    rows = runtime.catalog.list(
        category=category, since=since.date() if since else None, limit=limit
    )
    if as_json:
        keys = ("arxiv_id", "title", "primary_category", "categories", "submitted_at")
        click.echo(
            json.dumps(
                [_jsonable({k: r[k] for k in keys}) for r in rows], indent=2, ensure_ascii=False
            )
        )
        return
    for row in rows:
        date = f"{row['submitted_at']:%Y-%m-%d}" if row["submitted_at"] else ""  # none: blank
        ident = public_id(row["arxiv_id"], row["id"])
        click.echo(f"{date:10}  {ident:18} {row['primary_category'] or '':10} {row['title']}")
    if not rows:
        click.echo("no papers match", err=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_runtime
def stats(runtime: Runtime, as_json: bool) -> None:
    """Catalog statistics."""
    data = runtime.catalog.stats()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"papers: {data['papers']:,} ({data['with_arxiv_id']:,} with arXiv ids)")
    click.echo(f"daily-list entries: {data['daily_entries']:,}")
    click.echo(f"newest submission: {data['newest_submission'] or '-'}")
    for cat, n in data["top_categories"].items():
        click.echo(f"  {cat:20} {n:,}")


@papers.command("predict-categories")
@click.option(
    "--again", is_flag=True, help="Also predict anew the papers whose categories were predicted."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_runtime
def predict_categories(runtime: Runtime, again: bool, as_json: bool) -> None:
    """Give papers without categories (Hugging Face daily papers) the categories of their
    nearest categorised papers: the 10 most similar by their stored vectors vote (see the
    README). They are marked as predicted, and `cat:` finds them; arXiv's own categories
    replace them when the paper is harvested or fetched. Needs the papers' vectors
    (`paperfeed index update`); then updates the search index."""
    embedder = runtime.embedder()
    if embedder is None:
        raise click.ClickException(
            "predicting categories needs the papers' vectors; PAPERFEED_EMBEDDER is 'none'"
        )
    outcome = CategoryPredictor(runtime.engine, clock=runtime.clock).predict(
        embedder.name, embedder.dim, again=again
    )
    if outcome.predicted:
        runtime.index.update(embed=False)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(outcome)))
        return
    click.echo(
        f"categories predicted for {outcome.predicted:,} papers "
        f"(voted by {outcome.reference:,} categorised papers)"
    )
    if outcome.without_vector:
        click.echo(
            f"{outcome.without_vector:,} papers without categories have no vector yet: "
            "run `paperfeed index update`, then this again"
        )
