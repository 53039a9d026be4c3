"""`paperfeed recommend USER`: a reader's "For you" list from the shell, as the page shows it
(recommend/foryou.py). It only looks: unlike the page, it records nothing as shown."""

from __future__ import annotations

import json

import click

from paperfeed.cli.context import pass_runtime
from paperfeed.recommend.foryou import MAX_LIMIT, PAGE_SIZE
from paperfeed.runtime import Runtime


@click.command()
@click.argument("username")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    default=PAGE_SIZE,
    show_default=True,
    help="How many papers.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_runtime
def recommend(runtime: Runtime, username: str, limit: int, as_json: bool) -> None:
    """Print USERNAME's recommended papers, best first: id, title and why (the liked paper
    it is closest to, or the author, category or search followed). A reader with nothing
    upvoted, saved or followed yet gets trending papers ("onboarding")."""
    user = runtime.accounts.by_username(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    found = runtime.for_you.recommend(user, limit=limit, record=False)
    if as_json:
        papers = [
            {
                "id": item.card.public_id,
                "title": item.card.title,
                "reason": item.reason.text,
                "reason_kind": item.reason.kind,
            }
            for item in found.items
        ]
        out = {"user": user.username, "state": found.state, "papers": papers}
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    if found.state == "onboarding":
        click.echo(
            f"{user.username} has upvoted, saved and followed nothing yet: trending papers",
            err=True,
        )
    if not found.items:
        click.echo(f"nothing new for {user.username}", err=True)
    for item in found.items:
        click.echo(f"{item.card.public_id:12}  {item.card.title}")
        click.echo(f"{'':12}  {item.reason.text}")
