"""Personal digests through a real SMTP server (aiosmtpd on 127.0.0.1): a subscriber whose
address is an account's confirmed email gets "For you" (from their upvotes), "New from what
you follow" and the trending papers, each paper with its reason and signed rating links; a
subscriber without an account gets the trending digest as before. The sections are stored
with the delivery: a retry after a 421 sends the same papers and reasons, whatever the reader
did in between. The catalog is the real HF daily list of 2026-06-12, embedded with the real
model; the clock is the test's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from paperfeed.accounts.service import User
from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.digest.sender import SendReport
from paperfeed.recommend import rating_links
from paperfeed.runtime import Runtime
from tests.digest.conftest import DAY, FaultySmtpServer
from tests.mail.conftest import body_text
from tests.support.accounts import confirmed_user
from tests.support.cli import Cli

LIKED = ("2606.10423", "2606.13120")  # WebChallenger (a web agent); EvoBrowseComp (search agents)
AGENTS = {
    "2606.11662",  # TreeSeeker: deep search
    "2606.13681",  # EvoArena: LLM agents
    "2606.07867",  # the cold-start safety gap in LLM agents
    "2606.13174",  # user corrections for agents
    "2606.13594",  # communication across agents
    "2606.12451",  # tool knowledge in LLMs
    "2606.09290",  # multi-agent visual reasoning
    "2606.13572",  # a multi-agent framework
}
FOLLOWED_PAPER = "2606.12282"  # PianoKontext: its first author is followed
RATE = re.compile(r"https://papers\.example\.org/rate/(u\d+-p\d+-(?:more|less)-[\w-]{22})")


@pytest.fixture
def prt(
    digest_settings: Settings, hf_catalog: Cli, clock: FrozenClock, session_models: object
) -> Iterator[Runtime]:
    """The digest runtime with the real embedding model, over the indexed catalog."""
    hf_catalog("index", "build", "--no-progress")
    runtime = Runtime(digest_settings.model_copy(update={"embedder": "minilm"}), clock=clock)
    assert runtime.recommender.ready()
    yield runtime
    runtime.close()


def _id(rt: Runtime, arxiv_id: str) -> int:
    return rt.catalog.ids_for_arxiv([arxiv_id])[arxiv_id]


def _reader(rt: Runtime) -> tuple[User, str]:
    """Ada: an account (confirmed), subscribed with the same address, who upvoted two agent
    papers and follows an author."""
    ada = confirmed_user(rt.accounts, "ada@example.org", "ada")
    rt.subscriptions.add_confirmed("ada@example.org")
    for arxiv_id in LIKED:
        rt.discussion.upvote(ada, _id(rt, arxiv_id))
    author = rt.cards.card(_id(rt, FOLLOWED_PAPER)).authors[0]
    rt.follows.follow(ada, "author", author)
    return ada, author


def _send(rt: Runtime, *, retry_now: bool = True) -> SendReport:
    return rt.digest_sender.send(day=DAY, kinds=("daily",), retry_now=retry_now)


def _mail(smtp: FaultySmtpServer, to: str) -> EmailMessage:
    [found] = [r.message for r in smtp.received if to in r.rcpt_tos]
    return found


def _sections(text: str) -> dict[str, list[str]]:
    """The plain-text part's papers (arXiv ids) under each section heading."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line in ("FOR YOU", "NEW FROM WHAT YOU FOLLOW", "TRENDING ON PAPERFEED"):
            current = line
            out[current] = []
        found = re.fullmatch(r"   https://papers\.example\.org/papers/(\S+)", line)
        if found and current:
            out[current].append(found[1])
    return out


def test_a_subscriber_with_an_account_gets_for_you_follows_and_trending_with_rating_links(
    prt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    ada, author = _reader(prt)
    prt.subscriptions.add_confirmed("plain@example.org")
    clock.advance(3600)
    report = _send(prt)
    assert (report.sent, report.skipped, report.failed) == (2, 0, 0)

    mail = _mail(smtp, "ada@example.org")
    text = body_text(mail)
    sections = _sections(text)
    assert list(sections) == ["FOR YOU", "NEW FROM WHAT YOU FOLLOW", "TRENDING ON PAPERFEED"]
    for_you = sections["FOR YOU"]
    assert len(for_you) == 10 and not set(for_you) & set(LIKED)
    assert len(set(for_you[:5]) & AGENTS) >= 3, for_you
    assert sections["NEW FROM WHAT YOU FOLLOW"] == [FOLLOWED_PAPER]
    shown = set(for_you) | {FOLLOWED_PAPER}
    assert not set(sections["TRENDING ON PAPERFEED"]) & shown  # each paper once
    titles = [prt.cards.card(_id(prt, a)).title for a in LIKED]
    reasons = re.findall(r"Because you liked “([^”]+)”", text.replace("\n   ", " "))
    assert len(reasons) == 10 and set(reasons) <= set(titles)
    assert f"You follow {author}" in text
    assert (
        mail["Subject"]
        == f"Daily papers, Friday 12 June 2026: {sum(map(len, sections.values()))} papers"
    )

    # Every paper has its two links, signed for Ada and that paper, in both parts.
    html = mail.get_body(("html",))
    assert html is not None
    tokens = RATE.findall(text)
    assert len(tokens) == 2 * sum(map(len, sections.values()))
    assert set(tokens) == set(RATE.findall(html.get_content().replace("&amp;", "&")))
    papers = [p for ids in sections.values() for p in ids]
    for n, token in enumerate(tokens):
        link = rating_links.verify(prt.secret, token)
        assert link is not None and link.user_id == ada.id
        assert link.paper_id == _id(prt, papers[n // 2])
        assert link.rating == ("more" if n % 2 == 0 else "less")
    assert (
        rating_links.verify(prt.secret, tokens[0].replace(f"u{ada.id}-", f"u{ada.id + 1}-")) is None
    )

    # Someone without an account gets the trending digest as before: no sections, no links.
    plain = body_text(_mail(smtp, "plain@example.org"))
    assert "FOR YOU" not in plain and "/rate/" not in plain
    assert (
        _mail(smtp, "plain@example.org")["Subject"]
        == "Daily papers, Friday 12 June 2026: 10 papers"
    )

    # The digest's personal papers count as recommended: the page does not show them again.
    page = {i.card.arxiv_id for i in prt.for_you.recommend(ada, limit=30, record=False).items}
    assert page and not page & shown


def test_the_sections_follow_the_preferences(
    prt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    _reader(prt)
    sub = prt.digest_preferences.get_by_token(prt.subscriptions.get("ada@example.org").token)  # type: ignore[union-attr]
    assert sub is not None
    prt.digest_preferences.set(sub[0], for_you=False, trending=False, max_papers=5)
    clock.advance(3600)
    assert _send(prt).sent == 1
    sections = _sections(body_text(_mail(smtp, "ada@example.org")))
    assert sections == {"NEW FROM WHAT YOU FOLLOW": [FOLLOWED_PAPER]}


def test_a_retry_after_a_421_sends_the_same_personal_digest(
    prt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    ada, _ = _reader(prt)
    clock.advance(3600)
    tried: list[EmailMessage] = []

    def closing(n: int, message: EmailMessage) -> str | None:
        tried.append(message)
        return "421 4.3.2 service shutting down" if n == 1 else None

    smtp.on_data = closing
    first = _send(prt, retry_now=False)
    assert (first.sent, first.failed) == (0, 1)
    # Between the attempts Ada rates differently and turns sections off: the retry is the
    # mail the row was written with.
    sections = _sections(body_text(tried[0]))
    dismissed = _id(prt, sections["FOR YOU"][0])
    prt.library.mark(ada, dismissed, "dismissed")
    reading = prt.library.named(ada, "Reading list").id
    prt.library.save(ada, reading, _id(prt, sections["TRENDING ON PAPERFEED"][-1]))
    sub = prt.digest_preferences.get_by_token(prt.subscriptions.get("ada@example.org").token)  # type: ignore[union-attr]
    assert sub is not None
    prt.digest_preferences.set(sub[0], for_you=False, trending=False)
    clock.advance(301)
    again = _send(prt, retry_now=False)
    assert (again.sent, again.failed) == (1, 0)
    [sent] = [r.message for r in smtp.received]
    assert sent["Message-ID"] == tried[0]["Message-ID"]
    assert body_text(sent) == body_text(tried[0])
    assert _send(prt).sent == 0  # and once only


def test_a_large_run_chooses_the_sections_in_other_processes(
    prt: Runtime, smtp: FaultySmtpServer, clock: FrozenClock
) -> None:
    """Past `parallel_min` readers the sections are chosen in forked processes, each with its
    own runtime; the mail is the same, written and sent once by the sender."""
    ada, author = _reader(prt)
    sender = prt.digest_sender
    sender.processes, sender.parallel_min = 2, 1
    here: list[int] = []
    assert sender.personal is not None
    choose = sender.personal.choose_many
    sender.personal.choose_many = lambda *a, **k: here.append(1) or choose(*a, **k)  # type: ignore[method-assign]
    clock.advance(3600)
    report = _send(prt)
    assert (report.sent, report.skipped, report.failed) == (1, 0, 0)
    assert here == []  # not chosen in this process
    text = body_text(_mail(smtp, "ada@example.org"))
    sections = _sections(text)
    assert len(sections["FOR YOU"]) == 10 and len(set(sections["FOR YOU"][:5]) & AGENTS) >= 3
    assert sections["NEW FROM WHAT YOU FOLLOW"] == [FOLLOWED_PAPER]
    assert f"You follow {author}" in text
    for token in RATE.findall(text):
        link = rating_links.verify(prt.secret, token)
        assert link is not None and link.user_id == ada.id
    assert _send(prt).sent == 0  # once only
    assert len(smtp.received) == 1
