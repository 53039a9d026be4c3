"""The messages paperfeed sends, rendered from the real templates into the real outbox."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from paperfeed.mail.messages import Messages, render
from paperfeed.mail.service import OutboxMailer
from tests.mail.conftest import body_text, link, parse

SENDER = "paperfeed <paperfeed@papers.example.org>"
BASE = "https://papers.example.org"


@pytest.fixture
def messages(tmp_path: Path) -> Messages:
    return Messages(OutboxMailer(tmp_path / "outbox"), SENDER, BASE + "/")


def sent(tmp_path: Path) -> list[str]:
    return [p.name for p in (tmp_path / "outbox").glob("*.eml")]


def test_subscription_confirmation(messages: Messages, tmp_path: Path) -> None:
    returned = messages.subscription_confirmation("ada@example.org", "tok-123_ABC")
    [name] = sent(tmp_path)
    mail = parse((tmp_path / "outbox" / name).read_bytes())
    assert bytes(mail) == bytes(returned)
    assert mail["From"] == SENDER
    assert mail["To"] == "ada@example.org"
    assert mail["Subject"] == "Confirm your paperfeed trending-papers subscription"
    text = body_text(mail)
    assert text.startswith("Hello,\n")
    assert "Subject:" not in text
    assert "{{" not in text and "}}" not in text
    # base_url's trailing slash does not double up in links
    assert link(mail, BASE, "subscribe/confirm") == "tok-123_ABC"
    assert link(mail, BASE, "unsubscribe") == "tok-123_ABC"
    assert text.rstrip().endswith(f"paperfeed, {BASE}")


def test_password_reset(messages: Messages, tmp_path: Path) -> None:
    messages.password_reset("ada@example.org", "ada", "reset-tok")
    [name] = sent(tmp_path)
    mail = parse((tmp_path / "outbox" / name).read_bytes())
    assert mail["Subject"] == "Reset your paperfeed password"
    assert body_text(mail).startswith("Hello ada,\n")
    assert link(mail, BASE, "reset") == "reset-tok"
    assert "within two hours" in body_text(mail)


def test_account_confirmation(messages: Messages, tmp_path: Path) -> None:
    messages.account_confirmation("ada@example.org", "ada", "confirm-tok")
    [name] = sent(tmp_path)
    mail = parse((tmp_path / "outbox" / name).read_bytes())
    assert mail["Subject"] == "Confirm your paperfeed account"
    assert body_text(mail).startswith("Hello ada,\n")
    assert link(mail, BASE, "signup/confirm") == "confirm-tok"
    assert "within three days" in body_text(mail)


@pytest.mark.parametrize("confirmed", [True, False])
def test_account_exists(messages: Messages, tmp_path: Path, confirmed: bool) -> None:
    messages.account_exists("ada@example.org", "ada", confirmed=confirmed)
    [name] = sent(tmp_path)
    mail = parse((tmp_path / "outbox" / name).read_bytes())
    text = body_text(mail)
    assert mail["Subject"] == "Your paperfeed account"
    assert "already has one: yours, with the username ada. Nothing was changed." in text
    assert f"To sign in: {BASE}/signin\n" in text
    assert f"Ask for a reset link: {BASE}/reset\n" in text
    assert ("not confirmed yet" in text) is not confirmed
    assert "\n\n\n" not in text


def test_templates_render_subject_and_body_apart() -> None:
    subject, body = render(
        "password_reset.txt", base_url=BASE, username="ada", reset_url=f"{BASE}/reset/x"
    )
    assert subject == "Reset your paperfeed password"
    assert body.startswith("Hello ada,")


def test_a_missing_template_value_is_an_error_not_a_blank() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("password_reset.txt", base_url=BASE, username="ada")


def test_plain_text_mail_is_not_html_escaped(messages: Messages, tmp_path: Path) -> None:
    messages.password_reset("ada@example.org", "o'brien&co", "t")
    [name] = sent(tmp_path)
    assert body_text(parse((tmp_path / "outbox" / name).read_bytes())).startswith(
        "Hello o'brien&co,"
    )
