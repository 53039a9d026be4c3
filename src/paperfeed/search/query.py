"""The search query language, parsed into a plain structure (never passed to an engine's own
parser, so no input can be query-syntax injection).

    free text            words, matched by BM25 (any word) and by meaning (embeddings)
    "exact phrase"       must appear as a phrase
    -word  -"a phrase"   must not appear
    author:smith  au:"van der Berg"     author filter (repeatable: all must match)
    cat:cs.LG  cat:cs   category or whole archive (repeatable: any may match)
    year:2023  year:2019-2021  since:2023-05  until:2024-01-31
    2301.01234 / arXiv URL               that paper first
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from paperfeed.papers.ids import try_parse_arxiv_id

MAX_QUERY_CHARS = 2000
MAX_TERMS = 64

_TOKEN = re.compile(
    r'(?P<neg>-)?(?:(?P<field>[A-Za-z]+):)?(?:"(?P<quoted>[^"]*)"?|(?P<bare>[^\s"]+))'
)
_FIELD_ALIASES = {
    "author": "author",
    "au": "author",
    "authors": "author",
    "cat": "category",
    "category": "category",
    "categories": "category",
    "year": "year",
    "since": "since",
    "from": "since",
    "until": "until",
    "to": "until",
    "before": "until",
    "after": "since",
}
_WORD = re.compile(r"\w[\w.\-+']*", re.UNICODE)
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


@dataclass
class ParsedQuery:
    text: str = ""  # free text and phrases, for embedding
    terms: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # words and phrases
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    since: dt.date | None = None
    until: dt.date | None = None
    arxiv_ids: list[str] = field(default_factory=list)
    excluded_papers: list[int] = field(default_factory=list)  # never returned (hidden papers)
    notices: list[str] = field(default_factory=list)  # what was ignored or adjusted, and why

    @property
    def has_text(self) -> bool:
        return bool(self.terms or self.phrases)

    @property
    def is_empty(self) -> bool:
        return not (
            self.has_text
            or self.authors
            or self.categories
            or self.arxiv_ids
            or self.since
            or self.until
        )


def _date_bound(value: str, *, end: bool) -> dt.date | None:
    match = _DATE.match(value)
    if not match:
        return None
    year = int(match[1])
    month = int(match[2]) if match[2] else (12 if end else 1)
    if not 1 <= month <= 12 or not 1000 <= year <= 9999:
        return None
    last_day = calendar.monthrange(year, month)[1]
    day = int(match[3]) if match[3] else (last_day if end else 1)
    if not 1 <= day <= last_day:
        return None
    return dt.date(year, month, day)


def _apply_dates(query: ParsedQuery, name: str, value: str) -> bool:
    if name == "year":
        low, _, high = (
            value.partition("-") if re.fullmatch(r"\d{4}-\d{4}", value) else (value, "", value)
        )
        since, until = _date_bound(low, end=False), _date_bound(high, end=True)
        if since is None or until is None or len(low) != 4:
            return False
        query.since, query.until = since, until
        return True
    bound = _date_bound(value, end=name == "until")
    if bound is None:
        return False
    if name == "since":
        query.since = bound
    else:
        query.until = bound
    return True


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def parse_query(raw: str) -> ParsedQuery:
    query = ParsedQuery()
    if len(raw) > MAX_QUERY_CHARS:
        query.notices.append(f"query shortened to its first {MAX_QUERY_CHARS} characters")
        raw = raw[:MAX_QUERY_CHARS]
    raw = raw.replace("\u201c", '"').replace("\u201d", '"').replace("\x00", " ")
    if raw.count('"') % 2:
        query.notices.append("unbalanced quote: the last phrase runs to the end of the query")
    text_parts: list[str] = []
    for match in _TOKEN.finditer(raw):
        negated = bool(match["neg"])
        name = (match["field"] or "").lower()
        value = (match["quoted"] if match["quoted"] is not None else match["bare"] or "").strip()
        quoted = match["quoted"] is not None
        if not quoted and not negated:
            arxiv_id = try_parse_arxiv_id(match.group(0))  # ids, and URLs (which hold ':')
            if arxiv_id is not None:
                query.arxiv_ids.append(arxiv_id.canonical)
                continue
        if name and name not in _FIELD_ALIASES:
            query.notices.append(f"unknown field {name!r}: searched as text")
            value, name = f"{name} {value}", ""
        kind = _FIELD_ALIASES.get(name, "")
        if kind in ("year", "since", "until"):
            if not _apply_dates(query, kind, value):
                query.notices.append(
                    f"ignored {name}:{value} (expected YYYY, YYYY-MM or YYYY-MM-DD)"
                )
            continue
        if kind == "author":
            if value.strip():
                query.authors.append(value.strip())
            continue
        if kind == "category":
            query.categories.extend(c for c in re.split(r"[,\s]+", value) if c)
            continue
        tokens = words(value)
        if not tokens:
            continue  # lone operators and punctuation carry no meaning
        if negated:
            query.excluded.append(" ".join(tokens))
        elif quoted and len(tokens) > 1:
            query.phrases.append(" ".join(tokens))
            text_parts.append(" ".join(tokens))
        else:
            query.terms.extend(tokens)
            text_parts.append(" ".join(tokens))
    if len(query.terms) > MAX_TERMS:
        query.notices.append(f"only the first {MAX_TERMS} words are used")
        query.terms = query.terms[:MAX_TERMS]
    if query.since and query.until and query.since > query.until:
        query.notices.append("the date range is empty (since is after until)")
    query.text = " ".join(text_parts)[:MAX_QUERY_CHARS]
    return query
