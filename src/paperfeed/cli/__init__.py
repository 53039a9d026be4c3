"""The `paperfeed` command line: thin commands over the services."""

from __future__ import annotations

import click

from paperfeed import __version__
from paperfeed.cli.accounts import users
from paperfeed.cli.backup import backup, restore
from paperfeed.cli.catalog import papers, stats
from paperfeed.cli.context import pass_runtime  # noqa: F401  (re-exported for subcommands)
from paperfeed.cli.database import db, init
from paperfeed.cli.digest import digest
from paperfeed.cli.ingest import harvest, import_command
from paperfeed.cli.recommend import recommend
from paperfeed.cli.search import evaluate, index, search, similar
from paperfeed.cli.serve import serve
from paperfeed.config import Settings
from paperfeed.db.migrate import SchemaOutdated
from paperfeed.runtime import Runtime


class _Main(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SchemaOutdated as exc:  # one line saying what to run, no traceback
            raise click.ClickException(str(exc)) from None


@click.group(
    cls=_Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="paperfeed")
@click.pass_context
def main(ctx: click.Context) -> None:
    """paperfeed: a self-hostable research-paper discovery service.

    Data lives in $PAPERFEED_HOME (default ~/.paperfeed); settings come from PAPERFEED_*
    environment variables and $PAPERFEED_HOME/paperfeed.toml.
    """
    ctx.obj = Runtime(Settings())
    ctx.call_on_close(ctx.obj.close)


main.add_command(init)
main.add_command(db)
main.add_command(import_command)
main.add_command(harvest)
main.add_command(papers)
main.add_command(stats)
main.add_command(search)
main.add_command(similar)
main.add_command(index)
main.add_command(evaluate)
main.add_command(serve)
main.add_command(users)
main.add_command(recommend)
main.add_command(digest)
main.add_command(backup)
main.add_command(restore)
