"""Code and project links found in abstracts and comments."""

from __future__ import annotations

import re

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'{}|\\^`\]]+", re.IGNORECASE)
_BARE_HOSTS = re.compile(
    r"(?<![\w/.])((?:github\.com|gitlab\.com|huggingface\.co|bitbucket\.org)/[^\s<>\"'{}|\\^`\]]+)",
    re.IGNORECASE,
)
_TRAILING = ".,;:)]}>'\""
_KINDS = (
    ("github.com", "github"),
    ("gitlab.com", "gitlab"),
    ("huggingface.co", "huggingface"),
    ("bitbucket.org", "bitbucket"),
    ("github.io", "project"),
)
_IGNORED_HOSTS = ("arxiv.org", "doi.org", "dx.doi.org", "creativecommons.org")


def _clean(url: str) -> str:
    url = url.rstrip(_TRAILING)
    # A URL followed by ")" is part of a parenthesised phrase unless the URL opened one itself.
    while url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1]
    if url.lower().startswith("www."):
        url = "https://" + url
    if not url.lower().startswith("http"):
        url = "https://" + url
    return url


def link_kind(url: str) -> str | None:
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    if host.startswith("www."):
        host = host[4:]
    if any(host == h or host.endswith("." + h) for h in _IGNORED_HOSTS):
        return None
    for suffix, kind in _KINDS:
        if host == suffix or host.endswith("." + suffix):
            return kind
    return "project"


def extract_links(*texts: str | None) -> list[dict[str, str]]:
    """Code/project links in order of appearance, without duplicates: [{kind, url}]."""
    found: list[dict[str, str]] = []
    seen: set[str] = set()
    for text in texts:
        if not text or (
            "http" not in text
            and "www." not in text
            and ".com/" not in text
            and ".co/" not in text
            and ".org/" not in text
        ):
            continue
        # Line continuations split long URLs in arXiv metadata: join "-\n  " style breaks only
        # when the next chunk continues a path.
        candidates = _URL.findall(text) + _BARE_HOSTS.findall(text)
        for raw in candidates:
            url = _clean(raw)
            kind = link_kind(url)
            key = url.lower().split("://", 1)[-1].removeprefix("www.").rstrip("/")
            if kind is None or key in seen or len(url) < 12:
                continue
            seen.add(key)
            found.append({"kind": kind, "url": url})
    return found
