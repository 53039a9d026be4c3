"""`paperfeed init` and `paperfeed db ...`."""

from __future__ import annotations

import click

from paperfeed.cli.context import pass_runtime
from paperfeed.db.engine import make_engine
from paperfeed.db.migrate import SchemaOutdated, check_schema, current_revision, upgrade
from paperfeed.runtime import Runtime


@click.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target migration.")
@pass_runtime
def db_upgrade(runtime: Runtime, revision: str) -> None:
    """Apply schema migrations to the catalog database.

    On PostgreSQL only this command (and `paperfeed init`, which creates the catalog)
    changes the schema: servers and other commands refuse to start on an older one.
    Upgrades started together on several machines take turns (an advisory lock), and the
    later ones find nothing to do."""
    engine = make_engine(runtime.settings)
    try:
        before, after = upgrade(engine, revision)
    finally:
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
    try:
        check_schema(engine)
        current = current_revision(engine)
    except SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"schema is current ({current})")


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
    """Create the data directory and catalog (migrated to the current schema, as by
    `paperfeed db upgrade`), then fetch recent papers when online."""
    from paperfeed.cli.ingest import harvest_recent

    runtime: Runtime = ctx.obj
    settings = runtime.settings
    settings.ensure_home()
    engine = make_engine(settings)
    upgrade(engine)  # creating the catalog is an explicit upgrade, also on PostgreSQL
    engine.dispose()
    count = runtime.catalog.count()
    click.echo(f"data directory: {settings.home}")
    click.echo(f"catalog: {settings.effective_database_url} ({count:,} papers)")
    if do_harvest:
        harvest_recent(runtime, days=days)
