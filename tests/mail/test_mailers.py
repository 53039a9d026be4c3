"""The mail backends on real parts: the outbox directory and SMTP to a real local server."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from paperfeed.config import Settings
from paperfeed.mail.service import (
    MailError,
    OutboxMailer,
    SmtpMailer,
    alternative_message,
    compose,
    make_mailer,
)
from tests.mail.conftest import SmtpServer, authenticator, body_text, parse, tls_context

SENDER = "paperfeed <paperfeed@papers.example.org>"


def message(
    subject: str = "Hello", to: str = "ada@example.org", html: str | None = None
) -> EmailMessage:
    return compose(SENDER, to, subject, "Line one.\nLine two: café.\n", html)


# -- choosing the backend ------------------------------------------------------------------


def test_without_an_smtp_host_mail_goes_to_the_outbox(settings: Settings) -> None:
    mailer = make_mailer(settings)
    assert isinstance(mailer, OutboxMailer)
    assert mailer.directory == settings.home / "outbox"
    assert mailer.describe() == f"outbox {settings.home / 'outbox'}"
    custom = make_mailer(settings.model_copy(update={"outbox_dir": settings.home / "mail"}))
    assert isinstance(custom, OutboxMailer)
    assert custom.directory == settings.home / "mail"


def test_with_an_smtp_host_mail_goes_to_smtp(settings: Settings) -> None:
    mailer = make_mailer(
        settings.model_copy(
            update={
                "smtp_host": "mail.example.org",
                "smtp_port": 2525,
                "smtp_username": "paperfeed",
                "smtp_password": "s3cret",
                "smtp_starttls": False,
            }
        )
    )
    assert isinstance(mailer, SmtpMailer)
    assert mailer.describe() == "SMTP mail.example.org:2525"
    assert (mailer.username, mailer.password, mailer.starttls) == ("paperfeed", "s3cret", False)
    assert mailer.timeout == settings.http_timeout


# -- composing -------------------------------------------------------------------------------


def test_composed_messages_have_the_headers_mail_servers_expect() -> None:
    composed = parse(bytes(message()))
    assert composed["From"] == SENDER
    assert composed["To"] == "ada@example.org"
    assert composed["Subject"] == "Hello"
    assert composed["Date"] is not None
    assert composed["Message-ID"].endswith("@papers.example.org>")
    assert body_text(composed) == "Line one.\nLine two: café.\n"
    assert composed.get_content_type() == "text/plain"


def test_an_html_part_makes_a_multipart_alternative() -> None:
    composed = parse(bytes(message(html="<p>Line one.</p>")))
    assert composed.get_content_type() == "multipart/alternative"
    html = composed.get_body(("html",))
    assert html is not None
    assert html.get_content() == "<p>Line one.</p>\n"
    assert body_text(composed).startswith("Line one.")


# -- outbox ----------------------------------------------------------------------------------


def test_the_outbox_writes_one_complete_eml_file_per_message(tmp_path: Path) -> None:
    folder = tmp_path / "not" / "yet" / "there"
    mailer = OutboxMailer(folder)
    mailer.send(message("First"))
    mailer.send(message("Second", to="bob@example.org"))

    files = sorted(folder.iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]
    assert not any(f.name.startswith(".") for f in files)  # no temporary file left behind
    read = sorted((parse(f.read_bytes()) for f in files), key=lambda m: str(m["Subject"]))
    assert [(m["Subject"], m["To"]) for m in read] == [
        ("First", "ada@example.org"),
        ("Second", "bob@example.org"),
    ]
    assert body_text(read[0]) == "Line one.\nLine two: café.\n"


def test_the_outbox_never_overwrites_a_message(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path)
    for n in range(20):
        mailer.send(message(f"Message {n}"))
    subjects = {str(parse(f.read_bytes())["Subject"]) for f in tmp_path.glob("*.eml")}
    assert subjects == {f"Message {n}" for n in range(20)}


# -- SMTP ------------------------------------------------------------------------------------


def test_smtp_delivers_to_a_real_server(smtp_server: SmtpServer) -> None:
    SmtpMailer(smtp_server.host, smtp_server.port, timeout=5).send(message("Delivered"))
    [got] = smtp_server.received
    assert got.mail_from == "paperfeed@papers.example.org"
    assert got.rcpt_tos == ["ada@example.org"]
    assert got.message["Subject"] == "Delivered"
    assert body_text(got.message) == "Line one.\nLine two: café.\n"
    assert not got.tls  # the server offers no STARTTLS: plain is all there is


def test_smtp_signs_in_when_credentials_are_set() -> None:
    server = SmtpServer(
        options={"authenticator": authenticator("paperfeed", "s3cret"), "auth_require_tls": False}
    )
    server.start()
    try:
        SmtpMailer(
            server.host, server.port, username="paperfeed", password="s3cret", timeout=5
        ).send(message("Signed in"))
        with pytest.raises(MailError, match=f"mail server 127.0.0.1:{server.port}"):
            SmtpMailer(
                server.host, server.port, username="paperfeed", password="wrong", timeout=5
            ).send(message("Refused"))
    finally:
        server.stop()
    assert [r.message["Subject"] for r in server.received] == ["Signed in"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_a_server_that_requires_sign_in_refuses_anonymous_mail() -> None:
    server = SmtpServer(
        options={
            "authenticator": authenticator("paperfeed", "s3cret"),
            "auth_require_tls": False,
            "auth_required": True,
        }
    )
    server.start()
    try:
        with pytest.raises(MailError):
            SmtpMailer(server.host, server.port, timeout=5).send(message())
    finally:
        server.stop()
    assert server.received == []


def test_a_server_that_is_down_raises_mail_error(smtp_server: SmtpServer) -> None:
    smtp_server.stop()
    with pytest.raises(MailError, match=f"mail server 127.0.0.1:{smtp_server.port}") as raised:
        SmtpMailer(smtp_server.host, smtp_server.port, timeout=5).send(message())
    assert isinstance(raised.value.__cause__, OSError)


def test_a_refused_recipient_raises_mail_error(smtp_server: SmtpServer) -> None:
    smtp_server.refuse.add("gone@example.org")
    with pytest.raises(MailError, match=r"gone@example\.org"):
        SmtpMailer(smtp_server.host, smtp_server.port, timeout=5).send(
            message(to="gone@example.org")
        )
    assert smtp_server.received == []


# -- STARTTLS --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    server = SmtpServer(options={"tls_context": tls_context(*certificate)})
    server.start()
    yield server
    server.stop()


def test_starttls_is_used_when_the_server_offers_it(
    tls_server: SmtpServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test certificate
    SmtpMailer(tls_server.host, tls_server.port, timeout=5).send(message("Encrypted"))
    [got] = tls_server.received
    assert got.tls
    assert got.message["Subject"] == "Encrypted"


def test_an_untrusted_certificate_stops_the_send(tls_server: SmtpServer) -> None:
    """Nothing is sent to a server whose certificate does not verify."""
    with pytest.raises(MailError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        SmtpMailer(tls_server.host, tls_server.port, timeout=5).send(message("Secret"))
    assert tls_server.received == []


def test_starttls_can_be_turned_off(tls_server: SmtpServer) -> None:
    SmtpMailer(tls_server.host, tls_server.port, starttls=False, timeout=5).send(message("Plain"))
    [got] = tls_server.received
    assert not got.tls


# -- bulk messages in wire form ----------------------------------------------------------------


def test_an_alternative_message_in_wire_form_reads_back_as_written(
    smtp_server: SmtpServer,
) -> None:
    """`alternative_message` (the digests' one-pass builder) over one SMTP connection: non-ASCII
    subject and display name encoded, long lines and leading dots intact, both parts UTF-8."""
    text = "Café ☕ line one.\n.a line starting with a dot\n" + "long " * 60 + "\n"
    html = "<p>Café &amp; <b>bold</b></p>\n"
    mailer = SmtpMailer(smtp_server.host, smtp_server.port, timeout=5)
    with mailer.connect() as connection:
        for to in ("ada@example.org", "bob@example.org"):
            connection.send(
                alternative_message(
                    [("Subject", "Papers: Café ☕ edition"), ("List-Id", "digest <x.example>")],
                    text,
                    html,
                    mail_from="Pâpers <digest@papers.example.org>",
                    to=to,
                )
            )
    assert [r.rcpt_tos for r in smtp_server.received] == [["ada@example.org"], ["bob@example.org"]]
    got = smtp_server.received[0]
    assert got.mail_from == "digest@papers.example.org"
    assert got.message["Subject"] == "Papers: Café ☕ edition"
    assert got.message["From"] == "Pâpers <digest@papers.example.org>"
    assert got.message["List-Id"] == "digest <x.example>"
    assert got.message.get_content_type() == "multipart/alternative"
    assert body_text(got.message) == text
    part = got.message.get_body(("html",))
    assert part is not None and part.get_content().replace("\r\n", "\n") == html


def test_the_outbox_keeps_a_wire_form_message_as_is(tmp_path: Path) -> None:
    raw = alternative_message([("Subject", "Hi")], "Text.\n", "<p>Text.</p>\n",
                              mail_from=SENDER, to="ada@example.org")  # fmt: skip
    with OutboxMailer(tmp_path).connect() as connection:
        connection.send(raw)
    [path] = tmp_path.glob("*.eml")
    assert path.read_bytes() == raw.data
    assert body_text(parse(raw.data)) == "Text.\n"
