"""Hugging Face daily papers (`/api/daily_papers` responses): a JSON array of entries.

HF's text is arXiv's, copied: records carry no freshness, so they only fill gaps and never
override arXiv metadata. What HF adds (upvotes, submitter, repo, AI summary) goes into the
paper's daily entry."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from paperfeed.ingest.base import FormatError, Item, Rejection, clip, read_document
from paperfeed.papers.authors import from_display_name
from paperfeed.papers.dates import parse_iso
from paperfeed.papers.ids import InvalidArxivId, parse_arxiv_id
from paperfeed.papers.links import link_kind
from paperfeed.papers.record import DailyEntry, PaperRecord
from paperfeed.papers.text import normalize_text

SOURCE = "hf-daily"
_SNIFF_ENTRIES = 5


class _Entry:
    """Typed access to one entry; fields are read from `paper`, then from the entry itself
    (HF nests most fields in `paper`, but mirrors some at the top level)."""

    def __init__(self, entry: dict[str, Any]) -> None:
        paper = entry.get("paper")
        if not isinstance(paper, dict):
            raise ValueError("missing 'paper' object")
        self.paper = paper
        self.entry = entry

    def _get(self, key: str, *, paper_only: bool = False) -> Any:
        value = self.paper.get(key)
        return self.entry.get(key) if value is None and not paper_only else value

    def text(self, key: str, *, paper_only: bool = False) -> str | None:
        value = self._get(key, paper_only=paper_only)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"field {key!r} is not a string")
        return value.strip() or None

    def number(self, key: str) -> int | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"field {key!r} is not a number")
        return int(value)

    def date(self, key: str, *, paper_only: bool = False) -> dt.datetime | None:
        raw = self.text(key, paper_only=paper_only)
        value = parse_iso(raw)
        if raw and value is None:
            raise ValueError(f"field {key!r} is not a date: {raw!r}")
        return value

    def text_list(self, key: str) -> list[str]:
        value = self._get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"field {key!r} is not a list of strings")
        return [v.strip() for v in value if v.strip()]


def _user_name(user: Any) -> str | None:
    if not isinstance(user, dict):
        return None
    for key in ("user", "name"):  # `user` is the HF username; `name` repeats it
        value = user.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _organization(value: Any) -> str | None:
    """The organisation's full name (`{"name": "caltech", "fullname": "California ..."}`)."""
    if not isinstance(value, dict):
        return None
    for key in ("fullname", "name"):
        name = value.get(key)
        if isinstance(name, str) and name.strip():
            return normalize_text(name) or None
    return None


def _thumbnail(url: str | None) -> str | None:
    return url if url and url.lower().startswith("https://") else None


def _author_names(paper: dict[str, Any]) -> list[str]:
    authors = paper.get("authors") or []
    if not isinstance(authors, list):
        raise ValueError("field 'authors' is not a list")
    names = []
    for author in authors:
        name = author.get("name") if isinstance(author, dict) else None
        if not isinstance(name, str):
            raise ValueError("an author has no 'name'")
        if name.strip():
            names.append(name.strip())
    return names


def _links(*urls: str | None) -> list[dict[str, str]]:
    links = []
    for url in urls:
        kind = link_kind(url) if url and url.startswith(("http://", "https://")) else None
        if url and kind:
            links.append({"kind": kind, "url": url})
    return links


def record_from_entry(obj: Any) -> PaperRecord:
    """One daily_papers entry -> PaperRecord; ValueError says what is wrong with it."""
    if not isinstance(obj, dict):
        raise ValueError("entry is not a JSON object")
    entry = _Entry(obj)
    raw_id = entry.text("id")
    if not raw_id:
        raise ValueError("missing 'paper.id'")
    try:
        arxiv_id = parse_arxiv_id(raw_id)
    except InvalidArxivId as exc:
        raise ValueError(str(exc)) from None
    title_raw = entry.text("title")
    if not title_raw:
        raise ValueError("missing 'title'")
    abstract_raw = entry.text("summary") or ""
    # `paper.publishedAt` is the arXiv date (the entry's own `publishedAt` is not); a missing
    # daily date falls back to it.
    published = entry.date("publishedAt", paper_only=True)
    listed_at = entry.date("submittedOnDailyAt") or published
    if listed_at is None:
        raise ValueError("missing 'submittedOnDailyAt'")
    names = _author_names(entry.paper)
    github_repo = entry.text("githubRepo")
    project_page = entry.text("projectPage")
    daily = DailyEntry(
        submitted_at=listed_at,
        upvotes=entry.number("upvotes") or 0,
        submitted_by=_user_name(entry.paper.get("submittedOnDailyBy"))
        or _user_name(obj.get("submittedBy")),
        num_comments=entry.number("numComments") or 0,
        github_repo=github_repo,
        github_stars=entry.number("githubStars"),
        project_page=project_page,
        ai_summary=normalize_text(entry.text("ai_summary")) or None,
        ai_keywords=entry.text_list("ai_keywords"),
        organization=_organization(obj.get("organization") or entry.paper.get("organization")),
        thumbnail=_thumbnail(entry.text("thumbnail")),
    )
    return PaperRecord(
        source=SOURCE,
        arxiv_id=arxiv_id.canonical,
        title=normalize_text(title_raw),
        title_raw=title_raw,
        abstract=normalize_text(abstract_raw),
        abstract_raw=abstract_raw or None,
        authors=[from_display_name(n) for n in names],
        authors_raw=", ".join(names) or None,
        submitted_at=published,
        links=_links(github_repo, project_page),
        freshness=None,
        daily=daily,
    )


def _looks_like_daily_entry(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("paper"), dict)


def parse(stream: BinaryIO, name: str, skip: int = 0) -> Iterator[Item]:
    """Yield one item per array element. Fails fast unless the file is a JSON array whose
    first entries are daily_papers entries."""
    # A response is one JSON document of at most a few hundred entries: read it whole.
    data = read_document(stream, name)
    try:
        entries = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FormatError(
            f"{name}: not a Hugging Face daily_papers file (not JSON: {exc})"
        ) from None
    if not isinstance(entries, list):
        kind = type(entries).__name__
        raise FormatError(
            f"{name}: not a Hugging Face daily_papers file (expected a JSON array, found {kind}: "
            f"{clip(data.decode('utf-8', 'replace'), 60)!r})"
        )
    head = entries[:_SNIFF_ENTRIES]
    if head and not any(_looks_like_daily_entry(e) for e in head):
        raise FormatError(
            f"{name}: not a Hugging Face daily_papers file (entries have no 'paper' object; "
            f"entry 1 is {clip(orjson.dumps(head[0]).decode(), 60)})"
        )
    for number, obj in enumerate(itertools.islice(entries, skip, None), start=skip + 1):
        try:
            yield record_from_entry(obj)
        except (ValueError, TypeError) as exc:
            yield Rejection(f"{name} entry {number}", str(exc))
