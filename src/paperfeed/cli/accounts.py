"""`paperfeed users ...`: account administration from the shell."""

from __future__ import annotations

import click

from paperfeed.accounts.service import AccountError
from paperfeed.cli.context import pass_runtime
from paperfeed.runtime import Runtime


@click.group()
def users() -> None:
    """Manage accounts (roles, API tokens)."""


@users.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(["user", "admin"]))
@pass_runtime
def set_role(runtime: Runtime, username: str, role: str) -> None:
    """Give USERNAME the ROLE `admin` (may hide papers and comments) or `user`."""
    try:
        user = runtime.accounts.set_role(username, role)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user.username} <{user.email}> is now {user.role}")


@users.command("token")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@pass_runtime
def create_token(runtime: Runtime, username: str, name: str) -> None:
    """Print a new API token for USERNAME (for scripts using the JSON API)."""
    user = runtime.accounts.by_username(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    click.echo(runtime.accounts.create_api_token(user, name))
