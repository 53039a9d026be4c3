"""What the browser tests share: the running site, the mail it sent, and what users do."""

from __future__ import annotations

import email
import email.policy
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from paperfeed.runtime import Runtime
from tests.support.server import LiveServer

# Debian's chromium-headless-shell when it is installed: the same Chromium build as the
# browser, without the desktop browser around it (Playwright's own choice for headless runs),
# at about a quarter of its CPU per page in these tests (bench/README.md "Test suite time").
# The full browser, /usr/bin/chromium, still opens every kind of page once
# (tests/web/test_offline_pages.py).
FULL_CHROMIUM = Path("/usr/bin/chromium")
HEADLESS_SHELL = Path("/usr/bin/chromium-headless-shell")
CHROMIUM = Path(
    os.environ.get("PAPERFEED_CHROMIUM")
    or (HEADLESS_SHELL if HEADLESS_SHELL.is_file() else FULL_CHROMIUM)
)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "correct horse battery staple"
HF_DAILY = "fixtures/hf_papers/daily_papers_2026-07-31.json"  # 30 papers listed on 2026-07-31


@dataclass
class Site:
    """The running app: its address and its runtime (same home and database as `cli`)."""

    server: LiveServer
    runtime: Runtime

    @property
    def url(self) -> str:
        return self.server.url

    def outbox(self) -> list[EmailMessage]:
        """The mails written to the outbox directory, oldest first."""
        folder = self.runtime.settings.effective_outbox_dir
        files = list(folder.glob("*.eml")) if folder.is_dir() else []
        files.sort(key=lambda path: (path.stat().st_mtime_ns, path.name))
        return [parse_mail(path.read_bytes()) for path in files]


@dataclass
class Watch:
    """What the pages of a test did that no page of ours should: open dialogs (alert,
    confirm, prompt; each is dismissed), break the Content-Security-Policy (markup that tried
    to run a script or load something foreign), or throw script errors."""

    dialogs: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: self.script_errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                self.csp_violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )


class Inbox:
    """An aiosmtpd handler keeping every delivered message."""

    def __init__(self) -> None:
        self.delivered: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.delivered.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [parse_mail(content) for _, content in self.delivered]


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox


def parse_mail(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def links_in(message: EmailMessage) -> list[str]:
    """The URLs in a mail's text, in order."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, "the mail has no text part"
    text = body.get_content()
    assert isinstance(text, str)
    return re.findall(r"https?://\S+", text)


def sign_up(page: Page, site: Site, username: str) -> str:
    """Creates an account through the sign-up form and confirms it with the link in the mail
    (and is signed in); returns its email."""
    address = f"{username}@example.org"
    page.goto(f"{site.url}/signup")
    form = page.locator("main form")
    form.get_by_label("Email").fill(address)
    form.get_by_label("Username").fill(username)
    form.get_by_label("Full name (optional)").fill(f"{username.title()} Reader")
    form.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    form.get_by_role("button", name="Create account").click()
    expect(page.locator("main h1")).to_have_text("Check your inbox")
    [mail] = [m for m in site.outbox() if m["To"] == address]
    [link] = [url for url in links_in(mail) if "/signup/confirm/" in url]
    page.goto(link)
    page.locator("main form").get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.locator(".flash")).to_have_text(
        "Welcome! Your account is confirmed and you are signed in."
    )
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(username)
    return address


def sign_in(page: Page, site: Site, address: str, password: str = PASSWORD) -> None:
    page.goto(f"{site.url}/signin")
    form = page.locator("main form")
    form.get_by_label("Email").fill(address)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".flash")).to_have_text("Signed out.")


@contextmanager
def launched(playwright: Playwright, executable: Path) -> Iterator[Browser]:
    """Chromium from `executable`, driven by Playwright; skips (fails in CI) when missing."""
    if not executable.is_file():
        reason = (
            f"no chromium at {executable} (apt-get install chromium chromium-headless-shell, "
            "or set PAPERFEED_CHROMIUM)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; .ci/run installs it, so in CI this is a failure")
        pytest.skip(reason)
    instance = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
    try:
        yield instance
    finally:
        instance.close()
