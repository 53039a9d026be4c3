"""The digest mail: its subject, preheader, plain-text part and HTML part.

The interface other code relies on (the sender, `paperfeed digest preview`, the tests)::

    render_digest(edition, cards, recipient, links, *, fragments=None)
        -> RenderedDigest(subject, preheader, text, html)

- `edition`: the Edition (digest/editions.py) being sent;
- `cards`: the PaperCards chosen for this recipient, in order (Preferences.choose);
- `recipient`: Recipient(email, token, preferences);
- `links`: DigestLinks (absolute URLs: the edition's page, the one-click unsubscribe URL
  also named in List-Unsubscribe, the preferences page; `paper_url(card)`), made by
  `digest_links(base_url, edition, token)`.

Templates: mail/templates/digest/ (the page: `body.txt`, `body.html`; a paper: `paper.txt`,
`paper.html`; `style.css`). The HTML part is made to render
in Gmail, Outlook and Apple Mail: tables about 600 px wide, CSS inlined into `style`
attributes by css-inline (many clients drop `<style>`; only the dark-mode and narrow-screen
`@media` rules stay in one), `color-scheme` for dark mode, no scripts, fonts or images, a
hidden preheader. Every text from the catalog is escaped in the HTML part; the text part is
plain text; TeX in titles is shown as readable plain text
(papers/tex_display.py). Rendering reads nothing (no database, no clock), so it can run for
thousands of recipients a second: what is the same in every digest of an edition is made
once and kept: the page around the papers, inlined once per edition with slots for what
differs per recipient, and a paper's row, inlined once with slots for its texts; the sender
also keeps each paper's finished text and HTML for a run (`fragments`). A recipient's digest
is joined from ready parts, every value put in escaped by markupsafe.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import secrets
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import css_inline
from markupsafe import Markup, escape

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
class RatedPaper:
    """A paper of a personal digest: the card, the reason's sentence ("" for a trending
    paper), and its "more like this" and "not for me" links."""

    card: PaperCard
    reason: str
    more_url: str
    less_url: str


@dataclass(frozen=True)
class MailSection:
    heading: str
    papers: Sequence[RatedPaper]


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
    # A personal digest's paper (digest/personal.py): why it is there, and its rating links.
    reason: str = ""
    more_url: str | None = None
    less_url: str | None = None

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


# A text that fits on one line, whose only whitespace is spaces between words, is wrapped as
# itself after the indent (textwrap's answer, at a tenth of its cost: many lines are short).
_NOT_A_SPACE = re.compile(r"[^\S ]")


def _wrap(text: str, indent: str) -> str:
    if (
        text
        and len(indent) + len(text) <= TEXT_WIDTH
        and text[0] != " "
        and text[-1] != " "
        and _NOT_A_SPACE.search(text) is None
    ):
        return indent + text
    return textwrap.fill(
        text,
        width=TEXT_WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


MAIL_TEMPLATES.filters["wrap"] = _wrap
_CSS = MAIL_TEMPLATES.get_template("digest/style.css").render()
_PAGE_HTML = MAIL_TEMPLATES.get_template("digest/body.html")
_PAGE_TEXT = MAIL_TEMPLATES.get_template("digest/body.txt")
_PAPER_HTML = MAIL_TEMPLATES.get_template("digest/paper.html")
_PAPER_TEXT = MAIL_TEMPLATES.get_template("digest/paper.txt")
_SECTION_HTML = MAIL_TEMPLATES.get_template("digest/section.html")


# What differs between the recipients of an edition goes into the page through slots: words
# that no template, edition title or URL holds, replaced after inlining (by splitting, so a
# value put in is never searched for slots again).
# The papers' slot is a comment: text between table rows would be moved out of the table by
# HTML parsing (when the page is inlined).
_SLOT = re.compile(r"(?:<!--)?(pfslot[a-z]+)(?:-->)?")
_ROW = re.compile(r"<table[^>]*>\s*<tbody>(.*)</tbody>\s*</table>\s*", re.S)
_SLOTS = ("subject", "preheader", "intro", "items", "why", "preferences", "unsubscribe")


# An edition's page, ready, keyed by everything it shows (several catalogs in one process, as
# in tests, never mix). Bounded: cleared when full.
_PAGES: dict[tuple[str, str, str], tuple[list[str], list[str]]] = {}
_PAGES_MAX = 64


@dataclass
class Fragments:
    """A run's ready papers of one edition and site: the sender keeps one per edition for a
    run and passes it; without one each paper is made anew. `plain`: a paper's text and HTML
    by paper id; `rated`: a personal digest's paper by (paper id, whether it has a reason), as
    pieces (even positions fixed text, odd ones "reason", "more" or "less": the reader's own)."""

    plain: dict[int, tuple[str, str]] = field(default_factory=dict)
    rated: dict[tuple[int, bool], tuple[list[str], list[str]]] = field(default_factory=dict)


# What a personal digest's paper holds per reader goes into its ready text through marks
# no catalog text can hold (a random word of this process), found by one split.
_MARK = f"pf{secrets.token_hex(8)}"
_MARKS = re.compile(f"{_MARK}(reason|more|less)")


def _page(edition: Edition, links: DigestLinks) -> tuple[list[str], list[str]]:
    """An edition's page, HTML inlined, as pieces: even positions fixed text, odd ones the
    name of a slot."""
    key = (edition.title, links.base_url, links.edition_url)
    found = _PAGES.get(key)
    if found is None:
        slot = {name: f"pfslot{name}" for name in _SLOTS}
        page_links = DigestLinks(
            links.base_url, links.edition_url, slot["unsubscribe"], slot["preferences"]
        )
        context = {
            "subject": slot["subject"],
            "preheader": slot["preheader"],
            "heading": edition.title,
            "intro": slot["intro"],
            "items_html": Markup(f"<!--{slot['items']}-->"),
            "items_text": slot["items"],
            "links": page_links,
            "why": slot["why"],
            "base_url": links.base_url,
            "css": _CSS,
        }
        html = _INLINER.inline(_PAGE_HTML.render(context))
        found = (_SLOT.split(html), _SLOT.split(_PAGE_TEXT.render(context)))
        if len(_PAGES) >= _PAGES_MAX:
            _PAGES.clear()
        _PAGES[key] = found
    return found


@functools.cache
def _paper_skeleton(
    summary: bool, code: bool, stars: bool, categories: bool, rated: bool = False
) -> list[str]:
    """A paper's row, inlined once for each combination of the parts it may lack, as pieces
    (even positions fixed markup, odd ones the name of a slot). `rated`: a personal digest's
    row, with its reason and rating links."""
    slots = SimpleNamespace(
        title="pfslottitle",
        url="pfsloturl",
        authors="pfslotauthors",
        summary="pfslotsummary" if summary else "",
        upvotes_text="pfslotupvotes",
        code_url="pfslotcode" if code else None,
        stars_text="pfslotstars" if stars else None,
        categories=("pfslotcategories",) if categories else (),
        reason="pfslotreason" if rated else "",
        more_url="pfslotmore" if rated else None,
        less_url="pfslotless" if rated else None,
    )
    # The paper is a row of the page's table: inlined inside a table of its own (HTML
    # parsing drops a row found outside one), which is then taken off again.
    table = _INLINER.inline_fragment(f"<table>{_PAPER_HTML.render(item=slots)}</table>", _CSS)
    return _row(table)


def _row(table: str) -> list[str]:
    row = _ROW.fullmatch(table)
    assert row is not None, table[:200]
    return _SLOT.split(row[1])


@functools.cache
def _section_skeleton() -> list[str]:
    table = _INLINER.inline_fragment(
        f"<table>{_SECTION_HTML.render(heading='pfslotheading')}</table>", _CSS
    )
    return _row(table)


def _values(item: DigestItem) -> dict[str, str]:
    return {
        "title": item.title,
        "url": item.url,
        "authors": item.authors,
        "summary": item.summary,
        "upvotes": item.upvotes_text,
        "code": item.code_url or "",
        "stars": item.stars_text or "",
        "categories": ", ".join(item.categories),
        "reason": item.reason,
        "more": item.more_url or "",
        "less": item.less_url or "",
    }


def _paper(card: PaperCard, links: DigestLinks, fragments: Fragments | None) -> tuple[str, str]:
    """A paper's text (its lines indented by three spaces) and inlined HTML."""
    found = fragments.plain.get(card.paper_id) if fragments is not None else None
    if found is None:
        found = _made(digest_item(card, links))
        if fragments is not None:
            fragments.plain[card.paper_id] = found
    return found


def _made(item: DigestItem) -> tuple[str, str]:
    skeleton = _paper_skeleton(
        bool(item.summary),
        bool(item.code_url),
        bool(item.stars_text),
        bool(item.categories),
        item.more_url is not None,
    )
    html = _join(skeleton, {name: str(escape(value)) for name, value in _values(item).items()})
    return _PAPER_TEXT.render(item=item), html


def _rated(paper: RatedPaper, links: DigestLinks, fragments: Fragments | None) -> tuple[str, str]:
    """A personal digest's paper: its reason and rating links are the reader's own, put into
    the paper's ready pieces (made once a run)."""
    reason = _reason(paper.reason)
    key = (paper.card.paper_id, bool(reason))
    found = fragments.rated.get(key) if fragments is not None else None
    if found is None:
        found = _rated_pieces(paper.card, links, bool(reason))
        if fragments is not None:
            fragments.rated[key] = found
    text, html = found
    values = {"more": paper.more_url, "less": paper.less_url}
    # (the template wraps the reason at the row's indent, which the text's pieces hold)
    text_values = values | {"reason": _wrap(reason, "   ")[3:]}
    html_values = {name: str(escape(value)) for name, value in values.items()}
    return _join(text, text_values), _join(html, html_values | {"reason": str(escape(reason))})


@functools.lru_cache(maxsize=4096)
def _reason(reason: str) -> str:
    return _short(readable(collapse_whitespace(reason)), TITLE_CHARS + 40)


def _rated_pieces(card: PaperCard, links: DigestLinks, reason: bool) -> tuple[list[str], list[str]]:
    """A personal digest's paper, text and HTML, as pieces with the reader's slots left."""
    item = dataclasses.replace(
        digest_item(card, links),
        reason=f"{_MARK}reason" if reason else "",
        more_url=f"{_MARK}more",
        less_url=f"{_MARK}less",
    )
    text = [
        f"pfslot{p}" if n % 2 else p
        for n, p in enumerate(_MARKS.split(_PAPER_TEXT.render(item=item)))
    ]
    skeleton = _paper_skeleton(
        bool(item.summary), bool(item.code_url), bool(item.stars_text), bool(item.categories), True
    )
    values = {name: str(escape(value)) for name, value in _values(item).items()}
    html: list[str] = [""]
    for n, piece in enumerate(skeleton):
        name = piece[6:]
        if n % 2 and name in ("reason", "more", "less"):
            html += [name, ""]
        else:
            html[-1] += values[name] if n % 2 else piece
    return text, ["pfslot" + p if n % 2 else p for n, p in enumerate(html)]


def _section(heading: str) -> tuple[str, str]:
    html = _join(_section_skeleton(), {"heading": str(escape(heading))})
    return f"\n{heading.upper()}\n", html


def _join(pieces: list[str], values: dict[str, str]) -> str:
    return "".join(values[piece[6:]] if n % 2 else piece for n, piece in enumerate(pieces))


def render_digest(
    edition: Edition,
    cards: Sequence[PaperCard],
    recipient: Recipient,
    links: DigestLinks,
    *,
    fragments: Fragments | None = None,
    sections: Sequence[MailSection] | None = None,
) -> RenderedDigest:
    """The digest mail of `edition` for `recipient`, showing `cards` (already chosen by the
    recipient's preferences, best first). `fragments`: the run's ready papers of this edition
    and site (a dict the caller keeps; filled as papers are made). A personal digest passes
    its `sections` instead (digest/personal.py): each under its heading, each paper with its
    reason and rating links."""
    page_html, page_text = _page(edition, links)
    # (text, HTML, whether it is a section's heading), in the mail's order
    parts: list[tuple[str, str, bool]] = []
    if sections is None:
        shown = list(cards)
        parts = [(*_paper(card, links, fragments), False) for card in cards]
    else:
        shown = [p.card for section in sections for p in section.papers]
        for section in sections:
            parts.append((*_section(section.heading), True))
            parts.extend((*_rated(p, links, fragments), False) for p in section.papers)
    count = f"{len(shown)} paper{'' if len(shown) == 1 else 's'}"
    subject = f"{edition.title}: {count}"
    if shown and sections is not None:
        names = " · ".join(f"{s.heading} ({len(s.papers)})" for s in sections)
        intro = f"{count} for you today: {names}."
    elif shown:
        intro = f"The top {count} on paperfeed, best first."
    else:
        intro = "No paper of this edition matched your preferences."
    if shown:
        top = [_short(readable(collapse_whitespace(c.title)), 70) for c in shown[:3]]
        preheader = f"Top: {top[0]}." + (f" Also: {'; '.join(top[1:])}." if top[1:] else "")
    else:
        preheader = "Your preferences can widen what you get."
    why = (
        f"You get this mail because {recipient.email} is subscribed to the "
        f"{'daily' if edition.kind == 'daily' else 'weekly'} trending papers of paperfeed at "
        f"{links.base_url}/."
    )
    if sections is not None:
        why += (
            " Its personal sections come from the papers your account upvoted, saved or marked"
            " not interested, and what it follows."
        )
    values = {
        "subject": subject,
        "preheader": preheader,
        "intro": intro,
        "why": why,
        "preferences": links.preferences_url,
        "unsubscribe": links.unsubscribe_url,
    }
    items_text, n = "", 0
    for text, _, heading in parts:
        if heading:
            items_text += text
        else:
            n += 1
            items_text += f"\n{n}. {text[3:]}"
    text = _join(
        page_text,
        values
        | {
            "intro": _wrap(intro, ""),
            "why": _wrap(why, ""),
            "items": items_text + "\n",
        },
    )
    html = _join(
        page_html,
        {name: str(escape(value)) for name, value in values.items()}
        | {"items": "".join(html for _, html, _ in parts)},
    )
    return RenderedDigest(subject, preheader, text, html)
