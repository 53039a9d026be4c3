"""`paperfeed users ...`: account administration from the shell."""

from __future__ import annotations

import click

from paperfeed.accounts.service import AccountError
from paperfeed.cli.context import pass_runtime
from paperfeed.runtime import Runtime


@click.group()
def users() -> None:
    """Manage accounts (new confirmed accounts, confirmations, roles, API tokens)."""


@users.command("add")
@click.argument("email")
@click.argument("username")
@click.option("--fullname", default="", help="The name shown on comments and submissions.")
@click.option("--admin", is_flag=True, help="Make the account an admin.")
@click.password_option(
    "--password",
    help="The account's password (asked for, twice, when not given; read from standard "
    "input when that is not a terminal).",
)
@pass_runtime
def add(
    runtime: Runtime, email: str, username: str, fullname: str, admin: bool, password: str
) -> None:
    """Create an account whose EMAIL counts as confirmed (no mail is sent), e.g. the first
    admin of a new installation: `paperfeed users add you@example.org you --admin`."""
    try:
        user = runtime.accounts.add_user(
            email, username, password, fullname, role="admin" if admin else "user"
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user.username} <{user.email}> created, confirmed, {user.role}")


@users.command("confirm")
@click.argument("username")
@pass_runtime
def confirm(runtime: Runtime, username: str) -> None:
    """Confirm USERNAME's email address without its link (you vouch for the address). An
    address in PAPERFEED_ADMIN_EMAILS makes the account an admin."""
    try:
        user = runtime.accounts.mark_confirmed(username)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user.username} <{user.email}> is confirmed ({user.role})")


@users.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(["user", "admin"]))
@pass_runtime
def set_role(runtime: Runtime, username: str, role: str) -> None:
    """Give USERNAME the ROLE `admin` (may hide papers and comments) or `user` (an admin's
    email address must be confirmed)."""
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
    """Print a new API token for USERNAME (for scripts using the JSON API; the account's
    email address must be confirmed)."""
    user = runtime.accounts.by_username(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    try:
        click.echo(runtime.accounts.create_api_token(user, name))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
