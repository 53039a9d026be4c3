"""`paperfeed backup DEST` and `paperfeed restore SOURCE` (paperfeed.ops.backup)."""

from __future__ import annotations

from pathlib import Path

import click

from paperfeed.cli.context import pass_runtime
from paperfeed.ops.backup import BackupError, Manifest
from paperfeed.ops.backup import backup as make_backup
from paperfeed.ops.backup import restore as restore_backup
from paperfeed.runtime import Runtime


def _counts(manifest: Manifest) -> str:
    return ", ".join(f"{count:,} {table}" for table, count in manifest.counts.items())


@click.command()
@click.argument("dest", type=click.Path(path_type=Path, file_okay=False))
@pass_runtime
def backup(runtime: Runtime, dest: Path) -> None:
    """Copy the SQLite catalog and the data directory's settings and secrets to DEST (a new
    or empty directory), consistently, while servers keep running and writing.

    The search index is not copied: `paperfeed index build` makes it again from the catalog
    (its rows and the stored embeddings). A PostgreSQL catalog is backed up with pg_dump
    instead (README, "Backups")."""
    try:
        manifest = make_backup(runtime.settings, dest, now=runtime.clock())
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"backed up {runtime.settings.home} to {dest}: {_counts(manifest)}; "
        f"{len(manifest.files)} other files"
    )


@click.command()
@click.argument("source", type=click.Path(path_type=Path, file_okay=False, exists=True))
@pass_runtime
def restore(runtime: Runtime, source: Path) -> None:
    """Restore a backup made by `paperfeed backup` into the data directory ($PAPERFEED_HOME),
    which must not hold a catalog yet. Then build the search index (`paperfeed index
    build`), or start the server, which indexes the catalog by itself."""
    try:
        manifest = restore_backup(runtime.settings, source)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {source} into {runtime.settings.home}: {_counts(manifest)}")
    if manifest.config_file:
        click.echo(
            f"the config file was {manifest.config_file}; its copy is {source / 'config.toml'}"
        )
    click.echo(
        f"settings from the environment at backup time: {source / 'settings.env'}\n"
        "next: paperfeed index build   (search index from the catalog and its embeddings)"
    )
