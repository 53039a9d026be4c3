"""The mails a runtime wrote to its outbox directory (the embedded default mailer), read back
with the `email` package, and the tokens of the links in them."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

from paperfeed.config import Settings


def outbox_files(settings: Settings) -> list[Path]:
    folder = settings.effective_outbox_dir
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


def read(path: Path) -> EmailMessage:
    message = email.message_from_bytes(
        path.read_bytes(), _class=EmailMessage, policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    return message


def outbox(settings: Settings, to: str | None = None) -> list[EmailMessage]:
    """The mails in the outbox (to one address: `to`), in the order they were written."""
    files = sorted(outbox_files(settings), key=lambda path: (path.stat().st_mtime_ns, path.name))
    mails = [read(path) for path in files]
    return [m for m in mails if to is None or m["To"] == to]


def body_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None, "the mail has no text part"
    return str(part.get_content())


def link_token(message: EmailMessage, base_url: str, path: str) -> str:
    """The token of the one `{base_url}/{path}/<token>` link in the message."""
    found = re.findall(rf"{re.escape(base_url.rstrip('/'))}/{path}/(\S+)", body_text(message))
    assert len(found) == 1, body_text(message)
    return str(found[0])
