"""`paperfeed search`, `similar`, `index ...`, `eval beir` and `eval similar`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from paperfeed.cli.context import find_paper, pass_runtime
from paperfeed.cli.progress import progress_bars
from paperfeed.papers.ids import public_id
from paperfeed.runtime import Runtime
from paperfeed.search.service import MEANING_NOT_READY, SearchHit


def _show(hits: list[SearchHit]) -> None:
    for rank, hit in enumerate(hits, start=1):
        ident = public_id(hit.arxiv_id, hit.paper_id)
        facts = [
            ident,
            f"{hit.submitted_at:%Y-%m-%d}" if hit.submitted_at else "",  # no date: nothing
            " ".join(hit.categories[:3]),
            f"score {hit.score:.3f} ({hit.matched_by})",
        ]
        click.echo(f"{rank:3}. {click.style(hit.title, bold=True)}")
        click.echo("     " + "  ".join(fact for fact in facts if fact))
        if hit.authors:
            more = f" +{len(hit.authors) - 4}" if len(hit.authors) > 4 else ""
            click.echo(f"     {', '.join(hit.authors[:4])}{more}")
        if hit.snippet:
            click.echo(f"     {hit.snippet.text}")


@click.command()
@click.argument("query")
@click.option("--limit", type=click.IntRange(1, 200), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(0, 10_000), default=0, show_default=True)
@click.option(
    "--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True
)
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "lexical", "dense"]),
    default="hybrid",
    show_default=True,
    help="Which retrievers to use.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array of results, best first (id, title, score, ...).",
)
@pass_runtime
def search(
    runtime: Runtime, query: str, limit: int, offset: int, sort: str, mode: str, as_json: bool
) -> None:
    """Search titles and abstracts by words and by meaning.

    \b
    QUERY syntax:
      free text              matched by words (BM25) and by meaning (embeddings)
      "exact phrase"         must appear as written
      -word  -"a phrase"     must not appear
      author:name            au:"van der Berg"
      cat:cs.LG  cat:cs      category, or a whole archive
      year:2023  year:2019-2021  since:2023-05  until:2024-01-31
      2301.01234 or an arXiv URL: that paper first
    """
    results = runtime.search.search(query, limit=limit, offset=offset, sort=sort, mode=mode)  # type: ignore[arg-type]
    for notice in results.notices:
        click.echo(f"note: {notice}", err=True)
        if notice == MEANING_NOT_READY:  # (pages leave the command out: they are for readers)
            click.echo("note: `paperfeed index update` embeds the papers now", err=True)
    if as_json:
        click.echo(
            json.dumps([hit.as_dict() for hit in results.hits], indent=2, ensure_ascii=False)
        )
        return
    if not results.hits:
        click.echo("no papers match", err=True)
        return
    click.echo(f"{results.total:,} results ({results.took_ms:.0f} ms)", err=True)
    _show(results.hits)


@click.command()
@click.argument("paper_id", metavar="ID")
@click.option("--limit", type=click.IntRange(1, 200), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_runtime
def similar(runtime: Runtime, paper_id: str, limit: int, as_json: bool) -> None:
    """Papers similar to ID (an arXiv id or URL, or #N), nearest first."""
    hits = runtime.search.similar(find_paper(runtime, paper_id)["id"], limit=limit)
    if as_json:
        click.echo(json.dumps([h.as_dict() for h in hits], indent=2, ensure_ascii=False))
    else:
        _show(hits)


@click.group()
def index() -> None:
    """Maintain the search index (it follows the catalog).

    \b
    Imports and harvests index what they changed, and every running server follows the
    catalog by itself (about once a second, also on other machines sharing a PostgreSQL
    catalog), so these commands are for backlogs, rebuilds and repairs."""


def _progress(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


@index.command("update")
@click.option(
    "--embed/--no-embed",
    default=True,
    show_default=True,
    help="Also embed new or changed papers (slow: ~100 papers/s).",
)
@click.option("--progress/--no-progress", default=None)
@pass_runtime
def index_update(runtime: Runtime, embed: bool, progress: bool | None) -> None:
    """Index papers added or changed since the last update; embed those not embedded yet."""
    with progress_bars(_progress(progress)) as bars:
        report = runtime.index.update(embed=embed, progress=bars)
    click.echo(report.line())


@index.command("build")
@click.option("--embed/--no-embed", default=True, show_default=True)
@click.option("--progress/--no-progress", default=None)
@pass_runtime
def index_build(runtime: Runtime, embed: bool, progress: bool | None) -> None:
    """Rebuild the whole index into a new directory and swap it in atomically. Stored
    embeddings of the current model are reused. Running servers switch to it by themselves."""
    with progress_bars(_progress(progress)) as bars:
        store, report = runtime.index.rebuild(embed=embed, progress=bars)
    click.echo(f"built generation {store.generation}: {report.line()}")


@index.command("check")
@click.option("--repair/--no-repair", default=True, show_default=True)
@click.option("--progress/--no-progress", default=None)
@pass_runtime
def index_check(runtime: Runtime, repair: bool, progress: bool | None) -> None:
    """Find drift between the catalog and the index (e.g. after a crash) and repair it."""
    with progress_bars(_progress(progress)) as bars:
        report = runtime.index.check(repair=repair, progress=bars)
    for problem in report.problems:
        click.echo(f"found: {problem}")
    if not report.problems:
        click.echo("index matches the catalog")
    elif repair:
        click.echo(f"repaired: {report.line()}")
    else:
        sys.exit(1)


@click.group("eval")
def evaluate() -> None:
    """Measure search, similar-papers and recommendation quality."""


@evaluate.command("beir")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="test", show_default=True, help="qrels/<split>.tsv")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as a JSON object.")
@click.option("--progress/--no-progress", default=None)
@pass_runtime
def eval_beir(
    runtime: Runtime, directory: Path, split: str, as_json: bool, progress: bool | None
) -> None:
    """nDCG@10, Recall@100 and MRR@10 for lexical, dense and hybrid search on a BEIR-format
    folder (corpus.jsonl[.gz], queries.jsonl, qrels/SPLIT.tsv), in a temporary catalog."""
    from paperfeed.search.evaluation import BeirError, evaluate_beir

    try:
        with progress_bars(_progress(progress)) as bars:
            metrics = evaluate_beir(
                directory,
                split=split,
                settings=runtime.settings,
                progress=_progress(progress),
                index_progress=bars,
            )
    except BeirError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    click.echo(f"{'mode':8} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8}")
    for mode, values in metrics.items():
        click.echo(
            f"{mode:8} {values['ndcg@10']:8.4f} {values['recall@100']:8.4f} {values['mrr@10']:8.4f}"
        )


@evaluate.command("similar")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as a JSON object.")
@click.option("--progress/--no-progress", default=None)
@pass_runtime
def eval_similar(runtime: Runtime, directory: Path, as_json: bool, progress: bool | None) -> None:
    """Similar papers (what a paper's page, the API and `paperfeed similar` list) on a folder
    of papers and related papers, in a temporary catalog:

    \b
      papers.jsonl[.gz]   {"id": ..., "title": ..., "abstract": ...} per line
      queries.jsonl[.gz]  {"paper": ID, "related": [ID, ...]} per line, optionally
                          "unrelated": [ID, ...] (papers judged not related)

    \b
    Over the query papers' top 10 (the paper itself never in it), the means of:
      recall@10     share of its related papers in the top 10
      nDCG@10       binary gains (related: 1)
      other@10      papers in the top 10 not among its related ones (unrelated or unjudged)
      unrelated@10  papers in the top 10 judged unrelated (only when the folder judges any)
    """
    from paperfeed.search.similar_eval import SimilarSetError, evaluate_similar

    try:
        with progress_bars(_progress(progress)) as bars:
            metrics = evaluate_similar(
                directory,
                settings=runtime.settings,
                progress=_progress(progress),
                index_progress=bars,
            )
    except SimilarSetError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    for name, value in metrics.items():
        click.echo(f"{name:13} {value:g}" if name == "queries" else f"{name:13} {value:.4f}")


@evaluate.command("recsys")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as a JSON object.")
@click.option("--progress/--no-progress", default=None)
@pass_runtime
def eval_recsys(runtime: Runtime, directory: Path, as_json: bool, progress: bool | None) -> None:
    """nDCG@10, Recall@50, AUC and MRR of the "For you" recommender, averaged over the
    readers of a folder: papers.jsonl (id, title, abstract, and optionally categories: a list,
    primary first) and users.jsonl (user, and lists of paper ids liked, disliked, candidates,
    relevant). Each reader's candidates are ranked
    from their liked and disliked papers alone, in a temporary catalog."""
    from paperfeed.recommend.evaluation import RecsysError, evaluate_recsys

    try:
        with progress_bars(_progress(progress)) as bars:
            metrics = evaluate_recsys(directory, settings=runtime.settings, index_progress=bars)
    except RecsysError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(metrics))
        return
    click.echo(f"{'nDCG@10':>8} {'R@50':>8} {'AUC':>8} {'MRR':>8} {'users':>6}")
    click.echo(
        f"{metrics['ndcg@10']:8.4f} {metrics['recall@50']:8.4f} {metrics['auc']:8.4f}"
        f" {metrics['mrr']:8.4f} {int(metrics['users']):6}"
    )
