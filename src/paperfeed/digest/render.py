"""A digest mail's content: subject, preheader, a plain-text part and an HTML part, from the
edition's cards chosen for one subscriber. Templates: mail/templates/digest/ (`body.txt`,
`body.html`).

The HTML part is made to render in Gmail, Outlook and Apple Mail: tables about 600 px wide,
CSS inlined into `style` attributes by css-inline (many clients drop `<style>`; only the
dark-mode and narrow-screen `@media` rules stay in one), `color-scheme` for dark mode, no
scripts, fonts or images, a hidden preheader. Every text is escaped (Jinja autoescaping);
TeX in titles is shown as readable plain text (papers/tex_display.py)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import css_inline

from paperfeed.community.cards import PaperCard
from paperfeed.mail.messages import MAIL_TEMPLATES
from paperfeed.papers.periods import parse_day, parse_week
from paperfeed.papers.tex_display import readable
from paperfeed.papers.text import collapse_whitespace, first_sentence

MAX_AUTHORS = 5
SUBJECT_TITLE_CHARS = 70
SUMMARY_CHARS = 300
TEXT_WIDTH = 76

# No remote stylesheet is ever fetched; @media rules (dark mode, narrow screens) are kept in
# a <style> block, everything else goes into `style` attributes.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


class EditionLike(Protocol):
    kind: str  # daily | weekly
    period: str  # 2026-12-02 | 2026-W49


class RecipientLike(Protocol):
    email: str


@dataclass(frozen=True)
class DigestLinks:
    """The absolute links every digest mail carries for its recipient."""

    site: str  # PAPERFEED_BASE_URL: papers link to {site}/papers/ID
    browser: str  # the edition's web page ("view in browser")
    preferences: str  # the subscription's preference page (capability token)
    unsubscribe: str  # the unsubscribe page; also the List-Unsubscribe URL (RFC 8058)


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    preheader: str
    text: str
    html: str


@dataclass(frozen=True)
class DigestItem:
    """One paper as the mail shows it (plain strings; the templates escape them)."""

    title: str
    url: str
    authors: str
    summary: str
    upvotes: int
    code_url: str | None
    stars: int | None
    categories: tuple[str, ...]

    @property
    def upvotes_text(self) -> str:
        return f"{self.upvotes:,} upvote{'' if self.upvotes == 1 else 's'}"

    @property
    def stars_text(self) -> str | None:
        return f"{self.stars:,}" if self.stars is not None else None

    @property
    def facts_text(self) -> str:
        """The facts line of the plain-text part."""
        facts = [f"▲ {self.upvotes_text}"]
        if self.code_url:
            facts.append("code" + (f" ★ {self.stars_text}" if self.stars_text else ""))
        if self.categories:
            facts.append(", ".join(self.categories))
        return " · ".join(facts)


def summary_line(card: PaperCard, limit: int = SUMMARY_CHARS) -> str:
    """A paper's one-line summary: the imported AI summary, else the abstract's first
    sentence (TeX made readable)."""
    text = card.ai_summary if card.ai_summary and card.ai_summary.strip() else card.abstract
    return first_sentence(readable(collapse_whitespace(text or "")), limit=limit)


def author_line(authors: Sequence[str]) -> str:
    names = [collapse_whitespace(a) for a in authors if a and a.strip()]
    if not names:
        return "Unknown authors"
    shown = ", ".join(names[:MAX_AUTHORS])
    return f"{shown} et al." if len(names) > MAX_AUTHORS else shown


def digest_item(card: PaperCard, base_url: str) -> DigestItem:
    code = card.code_links()
    return DigestItem(
        title=readable(collapse_whitespace(card.title)) or card.public_id,
        url=f"{base_url}/papers/{card.public_id}",
        authors=author_line(card.authors),
        summary=summary_line(card),
        upvotes=card.upvotes,
        code_url=code[0] if code else None,
        stars=card.github_stars if code else None,
        categories=tuple(card.categories[:3]),
    )


def edition_heading(kind: str, period: str) -> str:
    """"Daily papers, Wednesday 2 December 2026" / "Weekly papers, 30 November – 6 December
    2026 (week 49)"."""
    if kind == "weekly":
        week = parse_week(period)
        start, end = week.start, week.end
        first = f"{start:%-d %B}" if start.year == end.year else f"{start:%-d %B %Y}"
        number = int(period.rsplit("W", 1)[1])
        return f"Weekly papers, {first} – {end:%-d %B %Y} (week {number})"
    return f"Daily papers, {parse_day(period):%A %-d %B %Y}"


def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut.rstrip(" ,;:") + "…"


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(
        text,
        width=TEXT_WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


MAIL_TEMPLATES.filters["wrap"] = _wrap


def render_digest(
    edition: EditionLike,
    cards: Sequence[PaperCard],
    recipient: RecipientLike,
    links: DigestLinks,
) -> RenderedDigest:
    """The digest mail of `edition` for `recipient`, showing `cards` (already chosen by the
    recipient's preferences, best first)."""
    base_url = links.site.rstrip("/")
    items = [digest_item(card, base_url) for card in cards]
    heading = edition_heading(edition.kind, edition.period)
    label = "Daily" if edition.kind == "daily" else "Weekly"
    when = heading.partition(", ")[2]
    if items:
        subject = f"{label} papers: {_short(items[0].title, SUBJECT_TITLE_CHARS)}"
        if len(items) > 1:
            subject += f" and {len(items) - 1} more"
        count = f"{len(items)} papers" if len(items) > 1 else "paper"
        intro = f"The top {count} of {when} on paperfeed, best first."
        others = [_short(i.title, 60) for i in items[1:3]]
        preheader = f"{when}. " + (f"Also: {'; '.join(others)}." if others else "")
    else:
        subject = f"{label} papers: nothing new matched your preferences"
        intro = f"No paper of {when} matched your preferences."
        preheader = f"{when}. Your preferences can widen what you get."
    why = (
        f"You get this mail because {recipient.email} subscribed to paperfeed's "
        f"{'daily' if edition.kind == 'daily' else 'weekly'} trending papers at {base_url}/ "
        "and confirmed the address."
    )
    context = {
        "subject": subject,
        "preheader": preheader.strip(),
        "heading": heading,
        "intro": intro,
        "items": items,
        "links": links,
        "why": why,
        "base_url": base_url,
    }
    text = MAIL_TEMPLATES.get_template("digest/body.txt").render(**context)
    html = _INLINER.inline(MAIL_TEMPLATES.get_template("digest/body.html").render(**context))
    return RenderedDigest(subject, preheader.strip(), text, html)
