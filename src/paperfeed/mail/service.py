"""The mail service: SMTP when a server is configured, else a local outbox directory of .eml
files (the embedded default, readable with any mail client)."""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

from paperfeed.clock import utcnow
from paperfeed.config import Settings


class MailError(RuntimeError):
    """The message could not be handed to the mail server (it was not sent).

    `permanent`: the server refused it for good (a 5xx answer for its recipient or content):
    sending it again will not help. `connection_lost`: the connection can carry no more
    messages (the server is down, closed it, or answered 421); a new one may."""

    def __init__(
        self, message: str, *, permanent: bool = False, connection_lost: bool = True
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.connection_lost = connection_lost


@dataclass(frozen=True)
class RawMessage:
    """A message already in its wire form (bulk mail, built without the `email` package's
    per-header parsing; see `alternative_message`), with its envelope."""

    mail_from: str
    to: str
    data: bytes  # headers and body, CRLF line ends


Outgoing = EmailMessage | RawMessage


class MailConnection(Protocol):
    """An open connection to the mail service that carries many messages."""

    def send(self, message: Outgoing) -> None: ...


class Mailer(Protocol):
    def send(self, message: Outgoing) -> None:
        """One message on a connection of its own."""
        ...

    def describe(self) -> str: ...

    def connect(self) -> AbstractContextManager[MailConnection]:
        """A connection for many messages (MailError if it cannot be opened)."""
        ...


class OutboxMailer:
    """Writes each message atomically (temporary file, then rename) as `<time>-<id>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: Outgoing) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.eml"
        tmp = self.directory / f".{name}.tmp"
        try:
            tmp.write_bytes(message.data if isinstance(message, RawMessage) else bytes(message))
            os.replace(tmp, self.directory / name)
        except OSError as exc:
            raise MailError(f"outbox {self.directory}: {exc}") from exc

    @contextmanager
    def connect(self) -> Iterator[MailConnection]:
        yield self  # a folder needs no connection

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

    def send(self, message: Outgoing) -> None:
        with self.connect() as connection:
            connection.send(message)

    @contextmanager
    def connect(self) -> Iterator[MailConnection]:
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"mail server {self.host}:{self.port}: {exc}") from exc
        try:
            try:
                smtp.ehlo()
                if self.starttls and smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password or "")
            except (OSError, smtplib.SMTPException) as exc:
                raise MailError(f"mail server {self.host}:{self.port}: {exc}") from exc
            yield _SmtpConnection(smtp, f"{self.host}:{self.port}")
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def describe(self) -> str:
        return f"SMTP {self.host}:{self.port}"


class _SmtpConnection:
    def __init__(self, smtp: smtplib.SMTP, where: str) -> None:
        self.smtp = smtp
        self.where = where

    def send(self, message: Outgoing) -> None:
        try:
            if isinstance(message, RawMessage):
                self.smtp.sendmail(message.mail_from, [message.to], message.data)
            else:
                self.smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise MailError(
                f"mail server {self.where}: {exc}",
                permanent=all(code >= 500 for code in codes),
                connection_lost=any(code == 421 for code in codes),
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            # About the sender, not this recipient: the next message would fare the same.
            raise MailError(f"mail server {self.where}: {exc}") from exc
        except smtplib.SMTPResponseException as exc:  # DATA refused, 421 closing, ...
            raise MailError(
                f"mail server {self.where}: {exc}",
                permanent=exc.smtp_code >= 500,
                connection_lost=exc.smtp_code == 421,
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:  # disconnected, timed out
            raise MailError(f"mail server {self.where}: {exc}") from exc


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


def _header_value(value: str) -> str:
    """A header value as it goes on the wire: as is when it is printable ASCII, else as
    RFC 2047 encoded words."""
    if value.isascii() and value.isprintable():
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def _address(value: str) -> str:
    """A From or To header: a display name that is not ASCII is encoded, the address kept."""
    if value.isascii():
        return value
    name, address = parseaddr(value)
    return f"{_header_value(name)} <{address}>" if name else address


def _quoted_printable(text: str) -> bytes:
    return binascii.b2a_qp(text.replace("\r\n", "\n").replace("\n", "\r\n").encode(), istext=True)


def alternative_message(
    headers: list[tuple[str, str]], text: str, html: str, *, mail_from: str, to: str
) -> RawMessage:
    """A multipart/alternative message (a text and an HTML part, UTF-8, quoted-printable)
    with these headers, built in one pass: a fraction of the `email` package's cost, for
    bulk mail. Header values may be any text (encoded as needed); From and To come first."""
    boundary = f"=_pf_{uuid.uuid4().hex}"
    lines = [f"From: {_address(mail_from)}", f"To: {_address(to)}"]
    lines += [f"{name}: {_header_value(value)}" for name, value in headers]
    lines += [
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
        f"--{boundary}",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "",
    ]
    head = "\r\n".join(lines).encode()
    middle = "\r\n".join(
        [
            "",
            f"--{boundary}",
            'Content-Type: text/html; charset="utf-8"',
            "Content-Transfer-Encoding: quoted-printable",
            "",
            "",
        ]
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    data = head + _quoted_printable(text) + middle + _quoted_printable(html) + tail
    return RawMessage(_envelope_address(mail_from), _envelope_address(to), data)


@functools.lru_cache(maxsize=64)
def _parsed(value: str) -> str:
    return parseaddr(value)[1]


def _envelope_address(value: str) -> str:
    """The bare address of a From or To value (a plain address as it is)."""
    if "<" not in value and "(" not in value and value.isascii():
        return value.strip()
    return _parsed(value)
