"""Snippets: the part of an abstract that best matches the query, matched words marked.

Words are compared by their index terms (the same analyzer as the lexical index), so
"networks" in the text is marked for the query word "network"."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Snippet:
    text: str  # plain-text fragment
    html: str  # HTML-escaped fragment with <mark> around matched words


@functools.lru_cache(maxsize=1024)
def _candidates(terms: frozenset[str]) -> re.Pattern[str] | None:
    """The words of a text that can analyse to one of `terms`, so that only those are analysed
    (analysing every word of ten abstracts took ~1 ms a search). English stemming keeps at least
    the first min(3, length - 2) letters of a stem's word ("dying" -> "die", "relational" ->
    "relat"; checked over every word of SciFact and the arXiv samples), and the tokenizer drops
    underscores, which Python's word pattern keeps. None (every word) for terms outside ASCII,
    whose case folding differs between Python and the analyzer."""
    if not all(term.isascii() for term in terms):
        return None
    prefixes = {term[: max(1, min(len(term) - 2, 3))] for term in terms}
    alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    return re.compile(rf"\b_*(?:{alternatives})\w*", re.IGNORECASE)


def make_snippet(
    text: str,
    query_terms: set[str],
    analyze: Callable[[str], str | None],
    *,
    max_chars: int = 260,
) -> Snippet:
    """The window of about `max_chars` with the most distinct matched terms."""
    spans: list[tuple[int, int, str]] = []
    words = (_candidates(frozenset(query_terms)) or _WORD).finditer(text) if query_terms else ()
    for match in words:
        term = analyze(match.group(0))
        if term is not None and term in query_terms:
            spans.append((match.start(), match.end(), term))
    start = 0
    if spans and len(text) > max_chars:
        best = -1
        for i, (first, _, _) in enumerate(spans):
            window = {term for s, e, term in spans[i:] if e <= first + max_chars}
            if len(window) > best:
                best, start = len(window), first
        # Back up to a sentence or word start so the fragment reads naturally.
        sentence = text.rfind(". ", max(0, start - 80), start)
        start = sentence + 2 if sentence >= 0 else max(0, text.rfind(" ", 0, start) + 1)
    end = min(len(text), start + max_chars)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    parts, last = [], start
    for s, e, _ in spans:
        if s < start or e > end:
            continue
        parts.append(html.escape(text[last:s]))
        parts.append(f"<mark>{html.escape(text[s:e])}</mark>")
        last = e
    parts.append(html.escape(text[last:end]))
    return Snippet(
        prefix + text[start:end] + suffix,
        html.escape(prefix) + "".join(parts) + html.escape(suffix),
    )
