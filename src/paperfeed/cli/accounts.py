"""`paperfeed users ...`: account administration from the shell."""

from __future__ import annotations

import datetime as dt

import click

from paperfeed.accounts.service import MAX_TOKEN_LIFE, AccountError, User
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


def _user(runtime: Runtime, username: str) -> User:
    user = runtime.accounts.by_username(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    return user


def _when(value: dt.datetime | None, none: str) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else none


@users.command("token")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@click.option(
    "--expires-days",
    type=click.IntRange(1, MAX_TOKEN_LIFE.days),
    default=None,
    help="The token stops working after this many days (default: when revoked).",
)
@pass_runtime
def create_token(runtime: Runtime, username: str, name: str, expires_days: int | None) -> None:
    """Print a new API token for USERNAME (for scripts using the JSON API; the account's
    email address must be confirmed). It is shown only now: only its hash is stored."""
    user = _user(runtime, username)
    life = dt.timedelta(days=expires_days) if expires_days else None
    try:
        click.echo(runtime.accounts.create_api_token(user, name, expires_in=life))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@users.command("tokens")
@click.argument("username")
@pass_runtime
def list_tokens(runtime: Runtime, username: str) -> None:
    """List USERNAME's API tokens, newest first: key, name, created, last used and expiry
    (times in UTC; the last use to the minute). The key names a token for `revoke-token`."""
    tokens = runtime.accounts.api_tokens(_user(runtime, username))
    if not tokens:
        click.echo(f"{username} has no API tokens", err=True)
        return
    click.echo(f"{'KEY':12}  {'CREATED':16}  {'LAST USED':16}  {'EXPIRES':16}  NAME")
    for t in tokens:
        expires = _when(t.expires_at, "never") + (" (expired)" if t.expired else "")
        click.echo(
            f"{t.key:12}  {_when(t.created_at, '-'):16}  {_when(t.last_used_at, 'never'):16}  "
            f"{expires:16}  {t.name}"
        )


@users.command("revoke-token")
@click.argument("username")
@click.argument("token", required=False)
@click.option("--all", "revoke_all", is_flag=True, help="Revoke every API token of USERNAME.")
@pass_runtime
def revoke_token(runtime: Runtime, username: str, token: str | None, revoke_all: bool) -> None:
    """Revoke one of USERNAME's API tokens, named by its KEY (as `paperfeed users tokens`
    lists it) or by its name when no other token of the account has that name; or, with
    --all, every one."""
    user = _user(runtime, username)
    if revoke_all == (token is not None):
        raise click.UsageError("name one TOKEN (its key or name), or pass --all")
    if revoke_all:
        count = runtime.accounts.revoke_api_tokens(user)
        click.echo(f"revoked {count} API token{'s' if count != 1 else ''} of {username}")
        return
    assert token is not None
    try:
        revoked = runtime.accounts.revoke_api_token(user, token)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {username}'s API token {revoked.name} ({revoked.key})")
