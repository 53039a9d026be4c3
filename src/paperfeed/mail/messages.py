"""The messages paperfeed sends, rendered from templates in `templates/`: plain text (`.txt`,
nothing escaped) and, for the digest's HTML part, `.html` (autoescaped)."""

from __future__ import annotations

from email.message import EmailMessage

import jinja2

from paperfeed.clock import Clock, utcnow
from paperfeed.mail.service import Mailer, compose

MAIL_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("paperfeed.mail", "templates"),
    # Plain-text mail: nothing is interpreted as markup; HTML parts escape every value.
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def render(template: str, **context: object) -> tuple[str, str]:
    """(subject, body): a template's first line is `Subject: ...`."""
    text = MAIL_TEMPLATES.get_template(template).render(**context)
    first, _, body = text.partition("\n")
    return first.removeprefix("Subject:").strip(), body.lstrip("\n")


class Messages:
    def __init__(
        self, mailer: Mailer, sender: str, base_url: str, *, clock: Clock = utcnow
    ) -> None:
        self.mailer = mailer
        self.clock = clock  # the Date header
        self.sender = sender
        self.base_url = base_url.rstrip("/")

    def _send(self, to: str, template: str, **context: object) -> EmailMessage:
        subject, body = render(template, base_url=self.base_url, **context)
        message = compose(self.sender, to, subject, body, now=self.clock())
        self.mailer.send(message)
        return message

    def subscription_confirmation(self, to: str, token: str) -> EmailMessage:
        return self._send(
            to,
            "confirm_subscription.txt",
            confirm_url=f"{self.base_url}/subscribe/confirm/{token}",
            unsubscribe_url=f"{self.base_url}/unsubscribe/{token}",
        )

    def account_confirmation(self, to: str, username: str, token: str) -> EmailMessage:
        """The link that finishes a sign-up (web/accounts.py: /signup/confirm/TOKEN)."""
        return self._send(
            to,
            "confirm_account.txt",
            username=username,
            confirm_url=f"{self.base_url}/signup/confirm/{token}",
        )

    def account_exists(self, to: str, username: str, *, confirmed: bool) -> EmailMessage:
        """To the owner of an address someone tried to sign up with again (the sign-up page
        answers the same as for a new address, so only the mailbox learns of the account)."""
        return self._send(
            to,
            "account_exists.txt",
            username=username,
            confirmed=confirmed,
            signin_url=f"{self.base_url}/signin",
            reset_url=f"{self.base_url}/reset",
        )

    def password_reset(self, to: str, username: str, token: str) -> EmailMessage:
        return self._send(
            to,
            "password_reset.txt",
            username=username,
            reset_url=f"{self.base_url}/reset/{token}",
        )

    def email_change(self, to: str, username: str, token: str) -> EmailMessage:
        """To a new address: the link that makes it the account's (/account/email/TOKEN)."""
        return self._send(
            to,
            "confirm_email_change.txt",
            username=username,
            confirm_url=f"{self.base_url}/account/email/{token}",
        )

    def email_changed(self, to: str, username: str, new_email: str) -> EmailMessage:
        """To the old address, once the new one is confirmed."""
        return self._send(to, "email_changed.txt", username=username, new_email=new_email)
