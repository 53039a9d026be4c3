"""The mail service: SMTP when a server is configured, else a local outbox directory of .eml
files (the embedded default, readable with any mail client)."""

from __future__ import annotations

import datetime as dt
import os
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

from paperfeed.clock import utcnow
from paperfeed.config import Settings


class MailError(RuntimeError):
    """The message could not be handed to the mail server (it was not sent)."""


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...

    def describe(self) -> str: ...


class OutboxMailer:
    """Writes each message atomically (temporary file, then rename) as `<time>-<id>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(bytes(message))
        os.replace(tmp, self.directory / name)

    def describe(self) -> str:
        return f"outbox {self.directory}"


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls = starttls
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls and smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"mail server {self.host}:{self.port}: {exc}") from exc

    def describe(self) -> str:
        return f"SMTP {self.host}:{self.port}"


def make_mailer(settings: Settings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.http_timeout,
        )
    return OutboxMailer(settings.effective_outbox_dir)


def compose(
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> EmailMessage:
    """A message dated `now` (naive UTC; default: the wall clock)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime((now or utcnow()).replace(tzinfo=dt.UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message
