"""Atom feeds (RFC 4287) of the daily list, trending papers, any search and the digests."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import Response
from lxml import etree

from paperfeed.community.cards import PaperCard
from paperfeed.config import Settings
from paperfeed.digest.editions import check_kind
from paperfeed.digest.preferences import DEFAULT_MAX_PAPERS
from paperfeed.http.deps import (
    CardsDep,
    DailyDep,
    EditionsDep,
    SearchDep,
    SettingsDep,
    TrendingDep,
)
from paperfeed.papers.authors import MAX_NAME, author_path
from paperfeed.papers.periods import parse_day, parse_month, parse_week

router = APIRouter(include_in_schema=False)
ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50


def _stamp(value: dt.datetime | None) -> str:
    return (value or dt.datetime(1970, 1, 1)).strftime("%Y-%m-%dT%H:%M:%SZ")


# Characters outside XML 1.0's `Char` production: most C0 controls, lone surrogates, U+FFFE/F.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: str) -> str:
    # A title with a character XML cannot carry must not break the feed: it is dropped.
    return _NOT_XML.sub("", value)


def atom_feed(
    settings: Settings, title: str, self_path: str, alternate_path: str, cards: Sequence[PaperCard]
) -> Response:
    base = settings.base_url.rstrip("/")
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})  # type: ignore[dict-item]

    def add(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> None:
        element = etree.SubElement(
            parent, f"{{{ATOM}}}{tag}", {k: _xml_text(v) for k, v in attrs.items()}
        )
        if text is not None:
            element.text = _xml_text(text)

    add(feed, "id", f"{base}{self_path}")
    add(feed, "title", f"paperfeed: {title}")
    updated = max((c.daily_at or c.updated_at or c.first_seen_at for c in cards), default=None)
    add(feed, "updated", _stamp(updated))
    add(feed, "link", rel="self", type="application/atom+xml", href=f"{base}{self_path}")
    add(feed, "link", rel="alternate", type="text/html", href=f"{base}{alternate_path}")
    add(feed, "generator", "paperfeed")
    for card in cards:
        entry = etree.SubElement(feed, f"{{{ATOM}}}entry")
        url = f"{base}/papers/{card.public_id}"
        add(entry, "id", url)
        add(entry, "title", card.title)
        add(entry, "link", rel="alternate", type="text/html", href=url)
        if card.arxiv_id:
            add(entry, "link", rel="related", href=f"https://arxiv.org/abs/{card.arxiv_id}")
        add(entry, "updated", _stamp(card.daily_at or card.updated_at or card.first_seen_at))
        if card.submitted_at:
            add(entry, "published", _stamp(card.submitted_at))
        for name in card.authors[:20] or ["unknown"]:
            author = etree.SubElement(entry, f"{{{ATOM}}}author")
            add(author, "name", name or "unknown")
        for category in card.categories:
            add(entry, "category", term=category)
        add(entry, "summary", card.abstract, type="text")
    body = etree.tostring(feed, xml_declaration=True, encoding="utf-8")
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/feeds/daily.atom")
def daily_feed(
    daily: DailyDep,
    settings: SettingsDep,
    date: Annotated[str, Query(max_length=10)] = "",
    week: Annotated[str, Query(max_length=8)] = "",
    month: Annotated[str, Query(max_length=7)] = "",
) -> Response:
    """One day's list (default: the latest), or a week's or month's, by upvotes."""
    if week or month:
        period = parse_week(week) if week else parse_month(month)
        query = f"week={week}" if week else f"month={month}"
        page = f"/papers/week/{week}" if week else f"/papers/month/{month}"
        cards = daily.papers(period.start, period.end)[:FEED_SIZE]
        title = f"daily papers {week or month}"
        return atom_feed(settings, title, f"/feeds/daily.atom?{query}", page, cards)
    day = parse_day(date) if date else daily.latest_or_today()
    cards = daily.papers(day)[:FEED_SIZE]
    path = f"/feeds/daily.atom?date={day}"
    return atom_feed(settings, f"daily papers {day}", path, f"/papers/date/{day}", cards)


@router.get("/feeds/trending.atom")
def trending_feed(trending: TrendingDep, settings: SettingsDep) -> Response:
    ranked, _ = trending.ranked(limit=FEED_SIZE)
    cards = [card for card, _ in ranked]
    return atom_feed(settings, "trending papers", "/feeds/trending.atom", "/trending", cards)


@router.get("/feeds/search.atom")
def search_feed(
    cards: CardsDep,
    search: SearchDep,
    settings: SettingsDep,
    q: Annotated[str, Query(max_length=2000)] = "",
    cat: Annotated[str, Query(max_length=40)] = "",
    sort: Annotated[str, Query(pattern="^(relevance|date)$")] = "date",
) -> Response:
    """Newest matches first by default: a feed reader wants what is new for the query."""
    found = cards.search(
        search,
        q,
        limit=FEED_SIZE,
        sort="date" if sort == "date" else "relevance",
        categories=[cat] if cat else [],
    )
    query = urlencode({"q": q, "cat": cat, "sort": sort})
    return atom_feed(
        settings, f"search {q!r}", f"/feeds/search.atom?{query}", f"/search?{query}", found.cards
    )


@router.get("/feeds/authors/{name:path}.atom")
def author_feed(cards: CardsDep, search: SearchDep, settings: SettingsDep, name: str) -> Response:
    """An author's newest papers (the author's page, `/authors/NAME`)."""
    name = name.strip()[:MAX_NAME]
    found, _ = cards.by_author(search, name, limit=FEED_SIZE)
    path = author_path(name)
    return atom_feed(settings, f"papers by {name}", f"/feeds{path}.atom", path, found)


@router.get("/feeds/digest/{kind}.atom")
def digest_feed(
    kind: str, editions: EditionsDep, cards: CardsDep, settings: SettingsDep
) -> Response:
    """The daily or weekly digest: the top papers of its latest editions (as many as a
    digest holds by default), newest edition first."""
    recent = editions.recent(kind=check_kind(kind), limit=FEED_SIZE // DEFAULT_MAX_PAPERS)
    ids = [pid for edition in recent for pid in edition.paper_ids[:DEFAULT_MAX_PAPERS]]
    page = recent[0].path if recent else "/"
    return atom_feed(
        settings, f"{kind} digest", f"/feeds/digest/{kind}.atom", page, cards.cards(ids)
    )
