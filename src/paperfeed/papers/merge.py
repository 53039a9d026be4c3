"""Merging a source's record into a catalog row: pure functions, no database.

Rules: strictly newer source data (by `freshness`) replaces older values; older or equally
fresh data only fills fields that are empty (so two sources never overwrite each other in
turn), except that a source's categories always replace predicted ones (voted by neighbours,
`categories_predicted`); versions, links and sources accumulate. The content hash tells
whether a merge changed anything, which keeps imports idempotent."""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
from collections.abc import Mapping
from typing import Any

import orjson

from paperfeed.papers.dates import announcement_date, parse_iso
from paperfeed.papers.record import SCALAR_FIELDS, PaperRecord
from paperfeed.papers.text import title_key

# Columns that describe the paper (hashed); the rest are bookkeeping.
CONTENT_FIELDS = (
    "arxiv_id",
    *SCALAR_FIELDS,
    "title_key",
    "versions",
    "submitted_at",
    "announced_on",
    "links",
    "sources",
    "freshness",
)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _storable(value: Any) -> Any:
    """Text without NUL characters: PostgreSQL cannot store them, and no real title, abstract
    or name holds one (they come from broken JSON escapes)."""
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "")
    return value


_scalar_values = operator.attrgetter(*SCALAR_FIELDS)
_content_values = operator.itemgetter(*CONTENT_FIELDS)


def content_hash(row: Mapping[str, Any]) -> str:
    payload = orjson.dumps(_content_values(row))  # a JSON array, as a list would give
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def _version_number(version: Mapping[str, str]) -> int:
    label = version.get("version", "")
    return int(label[1:]) if label[1:].isdigit() else 0


def merge_versions(old: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    by_label: dict[str, dict[str, str]] = {}
    for version in [*old, *new]:
        label = version.get("version")
        if not label:
            continue
        known = by_label.setdefault(label, {"version": label})
        for key, value in version.items():
            if value and not known.get(key):
                known[key] = value
    return sorted(by_label.values(), key=_version_number)


def _merge_links(old: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    seen = {link["url"].lower() for link in old}
    merged = list(old)
    for link in new:
        if link["url"].lower() not in seen:
            seen.add(link["url"].lower())
            merged.append(link)
    return merged


def _first_submitted(versions: list[dict[str, str]]) -> dt.datetime | None:
    for version in versions:
        if version.get("version") == "v1" and version.get("created"):
            return parse_iso(version["created"])
    return None


def _well_formed(versions: list[dict[str, str]]) -> bool:
    return all(
        v.get("version") == f"v{n}" and len(v) == 2 and v.get("created")
        for n, v in enumerate(versions, 1)
    )


def new_row(record: PaperRecord, key: str | None = None) -> dict[str, Any]:
    versions = record.versions
    if not _well_formed(versions):
        versions = merge_versions([], versions)
    submitted = record.submitted_at or _first_submitted(versions)
    values = _scalar_values(record)
    if "\x00" in "".join([value for value in values if type(value) is str]):
        values = tuple(map(_storable, values))
    row: dict[str, Any] = {
        "arxiv_id": record.arxiv_id,
        **dict(zip(SCALAR_FIELDS, values, strict=True)),
        "title_key": title_key(record.title) if key is None else key,
        "versions": versions,
        "submitted_at": submitted,
        "announced_on": record.announced_on
        or (announcement_date(submitted) if submitted and record.arxiv_id else None),
        "links": list(record.links),
        "sources": [record.source],
        "freshness": record.freshness,
    }
    row["content_hash"] = content_hash(row)
    return row


def merge_row(existing: Mapping[str, Any], record: PaperRecord) -> dict[str, Any]:
    """The row after merging `record` into `existing` (which is not modified)."""
    row = {name: existing[name] for name in CONTENT_FIELDS}
    newer = record.freshness is not None and (
        existing["freshness"] is None or record.freshness > existing["freshness"]
    )
    for name in SCALAR_FIELDS:
        value = _storable(getattr(record, name))
        if not _empty(value) and (newer or _empty(row[name])):
            row[name] = value
    if existing.get("categories_predicted") and record.categories:
        # Categories voted by neighbours give way to the source's own, whatever its age.
        row["categories"] = list(record.categories)
        row["primary_category"] = record.primary_category or record.categories[0]
        row["categories_predicted"] = False
    if row["title"] != existing["title"]:
        row["title_key"] = title_key(row["title"])
    row["arxiv_id"] = row["arxiv_id"] or record.arxiv_id
    row["versions"] = merge_versions(row["versions"], record.versions)
    candidates = [
        d
        for d in (_first_submitted(row["versions"]), row["submitted_at"], record.submitted_at)
        if d is not None
    ]
    row["submitted_at"] = _first_submitted(row["versions"]) or (
        min(candidates) if candidates else None
    )
    if record.announced_on is not None and (newer or row["announced_on"] is None):
        row["announced_on"] = record.announced_on
    elif row["announced_on"] is None or row["submitted_at"] != existing["submitted_at"]:
        # Derived from the first-version date, so it follows a corrected submission date
        # (e.g. an approximate date from Hugging Face replaced by arXiv's v1 stamp).
        row["announced_on"] = (
            announcement_date(row["submitted_at"])
            if row["submitted_at"] and row["arxiv_id"]
            else row["announced_on"]
        )
    row["links"] = _merge_links(row["links"], record.links)
    row["sources"] = sorted({*row["sources"], record.source})
    if newer:
        row["freshness"] = record.freshness
    row["content_hash"] = content_hash(row)
    return row
