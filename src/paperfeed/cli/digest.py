"""`paperfeed digest ...`: send the digests, manage subscribers, preview and status."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from paperfeed.accounts.service import AccountError
from paperfeed.cli.context import pass_runtime
from paperfeed.digest.editions import KINDS, Edition, Kind
from paperfeed.digest.preferences import Preferences
from paperfeed.digest.render import Recipient
from paperfeed.mail.service import MailError
from paperfeed.papers.periods import BadPeriod, parse_day
from paperfeed.runtime import Runtime


@click.group()
def digest() -> None:
    """The trending-papers emails: send them, manage subscribers, preview, status."""


def _day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return parse_day(value)
    except BadPeriod as exc:
        raise click.BadParameter(str(exc), param_hint="--date") from None


def _kinds(kind: str | None) -> tuple[Kind, ...]:
    return KINDS if kind is None else (kind,)  # type: ignore[return-value]


@digest.command("send")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind (default: both).")
@click.option(
    "--date",
    "date_text",
    metavar="YYYY-MM-DD",
    help="Send the daily edition of this date's daily list (with --kind weekly: its week's).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be sent; send and build nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_runtime
def send(
    runtime: Runtime, kind: str | None, date_text: str | None, dry_run: bool, as_json: bool
) -> None:
    """Send the due editions to every confirmed subscriber who has not had them.

    Without --date, the due editions are the latest daily list (on the days of
    PAPERFEED_DIGEST_DAILY_DAYS, weekdays by default) and last week's. Deliveries left by an
    earlier run are finished first; transient failures are retried at once (the schedule of
    `paperfeed serve` waits between attempts instead). Exit status 1 when any failed; when
    another process is sending, nothing is done (exit status 0)."""
    day = _day(date_text)
    kinds = _kinds(kind) if day is None or kind is not None else ("daily",)
    report = runtime.digest_sender.send(kinds=kinds, day=day, retry_now=True, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        if report.busy:
            click.echo("another sender is running: nothing sent")
        for entry in report.editions:
            if not entry.built:
                click.echo(f"{entry.kind} {entry.period}: no papers, no edition")
                continue
            verb = "would send" if dry_run else "sent"
            click.echo(
                f"{entry.kind} {entry.period}: {verb} {entry.sent}, skipped {entry.skipped}, "
                f"failed {entry.failed}"
            )
        if not report.busy:
            verb = "would send" if dry_run else "sent"
            click.echo(f"{verb} {report.sent}, skipped {report.skipped}, failed {report.failed}")
        if report.stopped:
            click.echo(f"stopped early: {report.stopped}", err=True)
    if report.failed or report.stopped:
        raise SystemExit(1)


@digest.group("subscribers")
def subscribers() -> None:
    """Add, list and remove subscribers."""


@subscribers.command("add")
@click.argument("emails", nargs=-1, required=True, metavar="EMAIL...")
@click.option(
    "--confirmed",
    is_flag=True,
    help="Skip double opt-in (an imported list whose consent you hold); recorded as "
    "confirmed by the operator. Without it each address gets a confirmation link.",
)
@pass_runtime
def add_subscribers(runtime: Runtime, emails: tuple[str, ...], confirmed: bool) -> None:
    """Subscribe each EMAIL (a confirmation mail each, unless --confirmed)."""
    failed = 0
    for address in emails:
        try:
            if confirmed:
                found, changed = runtime.subscriptions.add_confirmed(address)
                state = "confirmed" if changed else "already confirmed"
            else:
                found = runtime.subscriptions.subscribe(address)
                state = (
                    "already confirmed"
                    if found.status == "confirmed"
                    else "pending: confirmation link sent"
                )
        except (AccountError, ValueError) as exc:
            click.echo(f"{address}: {exc}", err=True)
            failed += 1
            continue
        except MailError as exc:
            click.echo(f"{address}: the confirmation mail could not be sent ({exc})", err=True)
            failed += 1
            continue
        click.echo(f"{found.email}: {state}")
    if failed:
        raise SystemExit(1)


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of subscriptions.")
@pass_runtime
def list_subscribers(runtime: Runtime, as_json: bool) -> None:
    """Every subscription with its status (pending, confirmed, unsubscribed)."""
    rows = runtime.subscriptions.listing()
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=_json_default))
        return
    for row in rows:
        via = " (added by the operator)" if row["confirmed_via"] == "operator" else ""
        click.echo(f"{row['email']}\t{row['status']}{via}")


def _json_default(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    raise TypeError(type(value).__name__)


@subscribers.command("remove")
@click.argument("email")
@pass_runtime
def remove_subscriber(runtime: Runtime, email: str) -> None:
    """Unsubscribe EMAIL at once (also from a run in progress)."""
    try:
        found = runtime.subscriptions.remove(email)
    except (AccountError, ValueError) as exc:
        raise click.ClickException(f"{email}: {exc}") from None
    if found is None:
        raise click.ClickException(f"{email} is not subscribed")
    click.echo(f"{found.email}: unsubscribed")


@digest.command("preview")
@click.option("--email", help="Shape the digest by this subscriber's preferences and links.")
@click.option("--kind", type=click.Choice(KINDS), default="daily", show_default=True)
@click.option("--date", "date_text", metavar="YYYY-MM-DD", help="The edition of this date.")
@click.option(
    "--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
    help="Write the HTML part to FILE (open it in a browser).",
)  # fmt: skip
@pass_runtime
def preview(
    runtime: Runtime, email: str | None, kind: str, date_text: str | None, html_file: Path | None
) -> None:
    """Print the text of a digest as it would be sent (nothing is sent or stored)."""
    sender = runtime.digest_sender
    day = _day(date_text)
    due = sender.due((kind,), day)  # type: ignore[arg-type]
    if not due:
        raise click.ClickException(f"no {kind} edition is due; name one with --date")
    edition_kind, period = due[0]
    edition = runtime.editions.get(edition_kind, period)
    if edition is None:
        ranked = runtime.editions.rank(edition_kind, period)
        if not ranked:
            raise click.ClickException(f"the {kind} edition {period} has no papers")
        edition = Edition(0, edition_kind, period, runtime.clock(), tuple(p for p, _ in ranked))
    recipient = Recipient("subscriber@example.org", "TOKEN", Preferences())
    if email is not None:
        found = runtime.subscriptions.get(email)
        if found is None:
            raise click.ClickException(f"{email} is not subscribed")
        got = runtime.digest_preferences.get_by_token(found.token)
        prefs = got[1] if got else Preferences()
        recipient = Recipient(found.email, found.token, prefs)
    cards = recipient.preferences.choose(runtime.editions.cards(edition))
    if not cards:
        raise click.ClickException("nothing in this edition matches the preferences")
    rendered = sender.render(edition, cards, recipient)
    click.echo(f"Subject: {rendered.subject}\n\n{rendered.text}")
    if html_file is not None:
        html_file.write_text(rendered.html, encoding="utf-8")
        click.echo(f"HTML written to {html_file}", err=True)


@digest.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the editions as JSON.")
@pass_runtime
def status(runtime: Runtime, as_json: bool) -> None:
    """The latest editions with their sent, pending and failed deliveries."""
    rows = runtime.digest_sender.status()
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        click.echo("no editions yet")
    for r in rows:
        click.echo(
            f"{r.kind:<6} {r.period:<10} built {r.built_at:%Y-%m-%d %H:%M} UTC, "
            f"{r.papers} papers: sent {r.sent}, pending {r.pending}, failed {r.failed} "
            f"(+{r.failed_permanently} permanently)"
        )
