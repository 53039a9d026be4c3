"""The digest mail: its subject, preheader, plain-text part and HTML part.

The interface other code relies on (the sender, `paperfeed digest preview`, the tests)::

    render_digest(edition, cards, recipient, links)
        -> RenderedDigest(subject, preheader, text, html)

- `edition`: the Edition (digest/editions.py) being sent;
- `cards`: the PaperCards chosen for this recipient, in order (Preferences.choose);
- `recipient`: Recipient(email, token, preferences);
- `links`: DigestLinks (absolute URLs: the edition's page, the one-click unsubscribe URL
  also named in List-Unsubscribe, the preferences page; `paper_url(card)`), made by
  `digest_links(base_url, edition, token)`.

Templates: mail/templates/digest/ (`body.txt`, `body.html`). The HTML part is made to render
in Gmail, Outlook and Apple Mail: tables about 600 px wide, CSS inlined into `style`
attributes by css-inline (many clients drop `<style>`; only the dark-mode and narrow-screen
`@media` rules stay in one), `color-scheme` for dark mode, no scripts, fonts or images, a
hidden preheader. Every text from the catalog is escaped in the HTML part (autoescaping); the
text part is plain text; TeX in titles is shown as readable plain text
(papers/tex_display.py). Rendering reads nothing (no database, no clock), so it can run for
thousands of recipients a second.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

import css_inline

from paperfeed.community.cards import PaperCard
from paperfeed.digest.editions import Edition
from paperfeed.digest.preferences import Preferences
from paperfeed.mail.messages import MAIL_TEMPLATES
from paperfeed.papers.tex_display import readable
from paperfeed.papers.text import collapse_whitespace, first_sentence

MAX_AUTHORS = 5
# Caps on what one paper adds to the mail, so that the largest digest stays well under
# Gmail's clipping limit (~102 KB of HTML) whatever the catalog holds.
TITLE_CHARS = 300
AUTHOR_CHARS = 100
SUMMARY_CHARS = 300
CODE_URL_CHARS = 300  # a longer code link is left out (GitHub's are about 50 characters)
CATEGORIES = 3
CATEGORY_CHARS = 20
TEXT_WIDTH = 76

# No remote stylesheet is ever fetched; @media rules (dark mode, narrow screens) are kept in
# a <style> block, everything else goes into `style` attributes.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False, minify_css=True)


@dataclass(frozen=True)
class Recipient:
    email: str
    token: str  # the subscription's capability token (unsubscribe and preference links)
    preferences: Preferences = field(default_factory=Preferences)


@dataclass(frozen=True)
class DigestLinks:
    base_url: str  # without the trailing slash
    edition_url: str  # "view in browser"
    unsubscribe_url: str  # the page with one button; a one-click POST here unsubscribes (RFC 8058)
    preferences_url: str

    def paper_url(self, card: PaperCard) -> str:
        return f"{self.base_url}/papers/{card.public_id}"


def digest_links(base_url: str, edition: Edition, token: str) -> DigestLinks:
    base = base_url.rstrip("/")
    return DigestLinks(
        base_url=base,
        edition_url=f"{base}{edition.path}",
        unsubscribe_url=f"{base}/unsubscribe/{token}",
        preferences_url=f"{base}/digest/preferences/{token}",
    )


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


def summary(card: PaperCard, limit: int = SUMMARY_CHARS) -> str:
    """A paper's one-line summary: the imported AI summary, else the abstract's first
    sentence (TeX made readable)."""
    text = card.ai_summary if card.ai_summary and card.ai_summary.strip() else card.abstract
    return first_sentence(readable(collapse_whitespace(text or "")), limit=limit)


def author_line(authors: Sequence[str]) -> str:
    names = [_short(collapse_whitespace(a), AUTHOR_CHARS) for a in authors if a and a.strip()]
    if not names:
        return "Unknown authors"
    shown = ", ".join(names[:MAX_AUTHORS])
    return f"{shown} et al." if len(names) > MAX_AUTHORS else shown


def digest_item(card: PaperCard, links: DigestLinks) -> DigestItem:
    code = [url for url in card.code_links() if len(url) <= CODE_URL_CHARS]
    return DigestItem(
        title=_short(readable(collapse_whitespace(card.title)), TITLE_CHARS) or card.public_id,
        url=links.paper_url(card),
        authors=author_line(card.authors),
        summary=summary(card),
        upvotes=card.upvotes,
        code_url=code[0] if code else None,
        stars=card.github_stars if code else None,
        categories=tuple(_short(c, CATEGORY_CHARS) for c in card.categories[:CATEGORIES]),
    )


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
    edition: Edition, cards: Sequence[PaperCard], recipient: Recipient, links: DigestLinks
) -> RenderedDigest:
    """The digest mail of `edition` for `recipient`, showing `cards` (already chosen by the
    recipient's preferences, best first)."""
    base_url = links.base_url
    items = [digest_item(card, links) for card in cards]
    heading = edition.title
    count = f"{len(items)} paper{'' if len(items) == 1 else 's'}"
    subject = f"{edition.title}: {count}"
    if items:
        intro = f"The top {count} on paperfeed, best first."
        top = [_short(i.title, 70) for i in items[:3]]
        preheader = f"Top: {top[0]}." + (f" Also: {'; '.join(top[1:])}." if top[1:] else "")
    else:
        intro = "No paper of this edition matched your preferences."
        preheader = "Your preferences can widen what you get."
    why = (
        f"You get this mail because {recipient.email} is subscribed to the "
        f"{'daily' if edition.kind == 'daily' else 'weekly'} trending papers of paperfeed at "
        f"{base_url}/."
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
