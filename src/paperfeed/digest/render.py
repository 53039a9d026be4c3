"""The digest mail: its subject, preheader, plain-text and HTML parts.

The interface other code relies on (the sender, `paperfeed digest preview`, the tests)::

    render_digest(edition, cards, recipient, links)
        -> RenderedDigest(subject, preheader, text, html)

- `edition`: the Edition (digest/editions.py) being sent;
- `cards`: the PaperCards chosen for this recipient, in order (Preferences.choose), never
  empty;
- `recipient`: Recipient(email, token, preferences);
- `links`: DigestLinks (absolute URLs: the edition's page, the one-click unsubscribe URL
  also named in List-Unsubscribe, the preferences page; `paper_url(card)`), made by
  `digest_links(base_url, edition, token)`.

RenderedDigest holds the subject line, the preheader (the line mail clients show after the
subject), the text part and the HTML part; the sender adds the headers. Every text from the
catalog is escaped in the HTML part (autoescaping); the text part is plain text. Rendering
reads nothing (no database, no clock), so it can run for thousands of recipients a second:
a paper looks the same in every recipient's digest of an edition, so the sender passes
`fragments`, a dict kept for one edition and one site, in which each paper's part of the text
and the HTML (templates digest_card.txt and digest_card.html) is rendered once and reused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import jinja2
from markupsafe import Markup

from paperfeed.community.cards import PaperCard
from paperfeed.digest.editions import Edition
from paperfeed.digest.preferences import Preferences

SUMMARY_CHARS = 300
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


@dataclass(frozen=True)
class Recipient:
    email: str
    token: str  # the subscription's capability token (unsubscribe and preference links)
    preferences: Preferences = field(default_factory=Preferences)


@dataclass(frozen=True)
class DigestLinks:
    base_url: str  # without the trailing slash
    edition_url: str  # "view in browser"
    unsubscribe_url: str  # one click: a POST here unsubscribes (RFC 8058)
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


def summary(card: PaperCard) -> str:
    """One line about the paper: the imported AI summary, else the abstract's first
    sentence (cut at SUMMARY_CHARS)."""
    text = " ".join((card.ai_summary or "").split())
    if not text:
        abstract = " ".join(card.abstract.split())
        text = _SENTENCE_END.split(abstract, maxsplit=1)[0] if abstract else ""
    if len(text) > SUMMARY_CHARS:
        text = text[: SUMMARY_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


def _authors(card: PaperCard, limit: int = 4) -> str:
    names = [n for n in card.authors if n]
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
    return ", ".join(names)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("paperfeed.digest", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters["summary"] = summary
_ENV.filters["authors"] = _authors
_TEXT = _ENV.get_template("digest.txt")
_HTML = _ENV.get_template("digest.html")
_CARD_TEXT = _ENV.get_template("digest_card.txt")
_CARD_HTML = _ENV.get_template("digest_card.html")
Fragments = dict[int, tuple[str, Markup]]


def _fragments(card: PaperCard, links: DigestLinks, cache: Fragments | None) -> tuple[str, Markup]:
    found = cache.get(card.paper_id) if cache is not None else None
    if found is None:
        context = {"card": card, "links": links}
        found = (_CARD_TEXT.render(context), Markup(_CARD_HTML.render(context)))
        if cache is not None:
            cache[card.paper_id] = found
    return found


def render_digest(
    edition: Edition,
    cards: Sequence[PaperCard],
    recipient: Recipient,
    links: DigestLinks,
    *,
    fragments: Fragments | None = None,
) -> RenderedDigest:
    top = cards[0].title if cards else ""
    count = len(cards)
    noun = "paper" if count == 1 else "papers"
    subject = f"{edition.title}: {count} {noun}"
    preheader = " ".join(f"{top[:90]}{' and more' if count > 1 else ''}".split())
    parts = [_fragments(card, links, fragments) for card in cards]
    context = {
        "edition": edition,
        "cards": cards,
        "card_texts": [text for text, _ in parts],
        "card_htmls": [html for _, html in parts],
        "recipient": recipient,
        "links": links,
        "subject": subject,
        "preheader": preheader,
    }
    return RenderedDigest(subject, preheader, _TEXT.render(context), _HTML.render(context))
