"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives, and helpers to
read messages back with the `email` package."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from paperfeed.config import Settings
from paperfeed.runtime import Runtime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, _class=EmailMessage, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body_text(message: EmailMessage) -> str:
    """The plain-text body, with the wire's CRLF line ends read as newlines."""
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def link(message: EmailMessage, base_url: str, path: str) -> str:
    """The token at the end of the `{base_url}/{path}/<token>` link in the message."""
    found = re.findall(rf"{re.escape(base_url)}/{path}/(\S+)", body_text(message))
    assert len(found) == 1, body_text(message)
    return str(found[0])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool


@dataclass
class SmtpServer:
    """aiosmtpd on a fixed local port, which can be stopped and started again (a mail server
    going down and coming back)."""

    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    options: dict[str, Any] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered "550 no such user"
    _controller: Controller | None = None

    async def handle_RCPT(  # aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                parse(envelope.original_content or envelope.content),
                session.ssl is not None,
            )
        )
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname=self.host, port=self.port, **self.options)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self, base: Settings, **extra: Any) -> Settings:
        return base.model_copy(update={"smtp_host": self.host, "smtp_port": self.port, **extra})


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_runtime(settings: Settings, smtp_server: SmtpServer) -> Iterator[Runtime]:
    """A runtime whose mail goes to the local SMTP server."""
    rt = Runtime(smtp_server.settings(settings))
    yield rt
    rt.close()


def authenticator(login: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            login.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)

    return check


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
