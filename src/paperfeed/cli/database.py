"""`paperfeed init` and `paperfeed db ...`."""

from __future__ import annotations

import click

from paperfeed.cli.context import pass_runtime
from paperfeed.db.engine import make_engine
from paperfeed.db.migrate import current_revision, head_revision, upgrade
from paperfeed.runtime import Runtime


@click.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target migration.")
@pass_runtime
def db_upgrade(runtime: Runtime, revision: str) -> None:
    """Apply schema migrations to the catalog database."""
    engine = make_engine(runtime.settings)
    before = current_revision(engine)
    upgrade(engine, revision)
    after = current_revision(engine)
    engine.dispose()
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database upgraded: {before or 'empty'} -> {after}")


@db.command("check")
@pass_runtime
def db_check(runtime: Runtime) -> None:
    """Exit non-zero unless the schema is at the newest migration."""
    engine = make_engine(runtime.settings)
    current, head = current_revision(engine), head_revision()
    engine.dispose()
    if current != head:
        raise click.ClickException(
            f"schema at {current or 'nothing'}, code expects {head}: run `paperfeed db upgrade`"
        )
    click.echo(f"schema is current ({head})")


@click.command()
@click.option(
    "--harvest/--no-harvest",
    "do_harvest",
    default=True,
    show_default=True,
    help="Harvest recent arXiv papers for the configured categories.",
)
@click.option("--days", default=7, show_default=True, help="How many recent days to harvest.")
@click.pass_context
def init(ctx: click.Context, do_harvest: bool, days: int) -> None:
    """Create the data directory and catalog, then fetch recent papers when online."""
    from paperfeed.cli.ingest import harvest_recent

    runtime: Runtime = ctx.obj
    settings = runtime.settings
    settings.ensure_home()
    count = runtime.catalog.count()  # creates and migrates the database
    click.echo(f"data directory: {settings.home}")
    click.echo(f"catalog: {settings.effective_database_url} ({count:,} papers)")
    if do_harvest:
        harvest_recent(runtime, days=days)
