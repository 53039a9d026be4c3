"""`paperfeed import` and `paperfeed harvest`."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from paperfeed.cli.context import pass_runtime
from paperfeed.cli.progress import ProgressBars, progress_bars
from paperfeed.ingest.base import FormatError
from paperfeed.ingest.formats import FORMATS
from paperfeed.ingest.runner import Importer, ImportSummary
from paperfeed.papers.categories import category_set_spec
from paperfeed.runtime import Runtime
from paperfeed.search.follow import INLINE_EMBED_SECONDS

INDEX_OPTION = click.option(
    "--index/--no-index",
    default=True,
    show_default=True,
    help="Bring the search index up to date afterwards (new papers searchable at once; "
    f"embedded too when that takes at most ~{INLINE_EMBED_SECONDS} s: 2,400 papers with the "
    "default model, 60,000 in the fast mode).",
)


def _format_help() -> str:
    return "\n".join(f"  {name:11} {fmt.help}" for name, fmt in FORMATS.items())


@click.command(
    "import",
    epilog="\b\nFormats:\n" + _format_help() + "\n\nFiles may be gzipped; `-` reads standard "
    "input (pipes work too). Re-running an import changes nothing; an interrupted import "
    "resumes where its last batch was committed. Malformed records and records over the size "
    "caps are reported with their file and line and skipped. A file not read to its end (cut "
    "short, unreadable XML) is reported, the rest imported, and the command exits with status "
    "1.",
)
@click.argument("fmt", metavar="FORMAT", type=click.Choice(sorted(FORMATS)))
@click.argument(
    "paths",
    metavar="PATH...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Records per transaction (default: settings.import_batch_size).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar (default: when stderr is a terminal).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@INDEX_OPTION
@pass_runtime
def import_command(
    runtime: Runtime,
    fmt: str,
    paths: tuple[Path, ...],
    batch_size: int | None,
    progress: bool | None,
    as_json: bool,
    index: bool,
) -> None:
    """Import papers from files of FORMAT into the catalog."""
    spec = FORMATS[fmt]
    show = sys.stderr.isatty() if progress is None else progress
    bars = ProgressBars()
    importer = Importer(
        runtime.engine,
        writer=runtime.catalog_writer,
        batch_size=batch_size or runtime.settings.import_batch_size,
        progress=bars if show else None,
        workers=runtime.settings.parse_workers,
    )
    total = ImportSummary()
    per_file = {}
    for path in paths:
        try:
            with bars:
                summary = importer.import_file(spec, path)
        except FormatError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(f"{path}: {exc.strerror or exc}") from None
        per_file[str(path)] = summary.as_dict()
        total.add(summary)
        if not as_json:
            click.echo(f"{path}: {summary.line()}", err=True)
            for title in summary.unmatched:
                click.echo(f"  not in catalog, kept as a title-only paper: {title}", err=True)
    if as_json:
        click.echo(json.dumps({"total": total.as_dict(), "files": per_file}, indent=2))
    else:
        click.echo(f"imported: {total.line()}")
    if index:
        follow_catalog(runtime, progress=sys.stderr.isatty() if progress is None else progress)
    if total.incomplete:
        # Reported as each file was read; the exit status tells scripts.
        raise click.ClickException(
            f"not read to the end: {'; '.join(total.incomplete)} (what was readable is "
            "imported; import the corrected file again)"
        )


def follow_catalog(runtime: Runtime, *, progress: bool) -> None:
    """Index what an import or harvest changed (the policy: IndexFollower.after_import)."""
    with progress_bars(progress) as bars:
        done = runtime.index.after_import(progress=bars)
    click.echo(f"search index: {done.report.line()}", err=True)
    if done.pending:
        click.echo(
            f"search index: {done.pending:,} papers are not embedded yet (searchable by words "
            f"now, by meaning after `paperfeed index update`, about "
            f"{done.pending_seconds / 60:,.0f} min)",
            err=True,
        )


def harvest_recent(runtime: Runtime, *, days: int) -> None:
    """First-run harvest of recent papers; explains the offline alternative on failure."""
    from paperfeed.ingest.harvest import HarvestUnavailable, harvest_categories

    since = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)).isoformat()
    try:
        summary = harvest_categories(runtime, runtime.settings.categories, from_date=since)
    except HarvestUnavailable as exc:
        click.echo(f"arXiv could not be reached ({exc}); working offline.", err=True)
        click.echo(
            "Import papers from a file instead, for example:\n"
            "  paperfeed import snapshot arxiv-metadata-oai-snapshot.json.gz\n"
            "  paperfeed import oai-pmh saved-ListRecords-response.xml\n"
            "  paperfeed import hf-daily daily_papers.json",
            err=True,
        )
        return
    click.echo(f"harvested: {summary.line()}")
    follow_catalog(runtime, progress=sys.stderr.isatty())


@click.command()
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="arXiv category to harvest (repeatable; default: settings.categories).",
)
@click.option(
    "--set",
    "set_spec",
    default=None,
    help="A raw OAI-PMH set spec instead of categories, e.g. 'cs' or 'physics:hep-th'.",
)
@click.option(
    "--metadata-prefix",
    type=click.Choice(["arXiv", "arXivRaw", "oai_dc"]),
    default="arXiv",
    show_default=True,
    help="OAI-PMH metadata format.",
)
@click.option(
    "--from",
    "from_date",
    default=None,
    help="Harvest records changed since this date (default: resume from the last run).",
)
@click.option("--until", default=None, help="Harvest records changed up to this date.")
@click.option(
    "--days",
    default=7,
    show_default=True,
    help="On the first harvest of a set (no --from, nothing harvested before): "
    "how many recent days to fetch.",
)
@click.option("--endpoint", default=None, help="OAI-PMH base URL (default: settings.oai_endpoint).")
@click.option("--progress/--no-progress", default=None, help="Progress output.")
@INDEX_OPTION
@pass_runtime
def harvest(
    runtime: Runtime,
    categories: tuple[str, ...],
    set_spec: str | None,
    metadata_prefix: str,
    from_date: str | None,
    until: str | None,
    days: int,
    endpoint: str | None,
    progress: bool | None,
    index: bool,
) -> None:
    """Harvest arXiv over OAI-PMH, incrementally: each run resumes from the last datestamp
    and resumption token it completed, and waits politely between requests."""
    from paperfeed.ingest.harvest import HarvestUnavailable, harvest_categories, harvest_set

    for category in categories:
        try:
            category_set_spec(category)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--category") from None
    show = sys.stderr.isatty() if progress is None else progress
    first_run_from = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)).isoformat()
    options = {
        "metadata_prefix": metadata_prefix,
        "from_date": from_date,
        "until": until,
        "endpoint": endpoint,
        "first_run_from": first_run_from,
    }
    try:
        with ProgressBars() as bars:
            drawn = bars if show else None
            if set_spec:
                summary = harvest_set(runtime, set_spec, progress=drawn, **options)
            else:
                chosen = list(categories) or runtime.settings.categories
                summary = harvest_categories(runtime, chosen, progress=drawn, **options)
    except HarvestUnavailable as exc:
        raise click.ClickException(f"harvest stopped: {exc}. Run it again to resume.") from None
    except FormatError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"harvested: {summary.line()}")
    if index:
        follow_catalog(runtime, progress=show)
