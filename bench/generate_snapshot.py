"""Generate a large arXiv-snapshot-format file (JSON lines, gzipped) for import benchmarks.

Lengths and vocabulary are sampled from the real records in `shared/data/arxiv/*.jsonl.gz`:
title and abstract word counts, text spliced from runs of real words (LaTeX included),
author counts and names, category lists, comments, journal refs, report numbers, licences,
submitters, how many versions a paper has and how often a DOI is present. Ids are unique
new-style ids (`YYMM.NNNNN`, 20,000 a month from 2015-01), with version dates in the id's month.

Output is deterministic for a given (records, seed): the file is written in chunks of
`CHUNK` records, each from its own seeded generator and compressed as its own gzip member, in
parallel; a smaller file is therefore a prefix of a larger one with the same seed.

    python -m bench.generate_snapshot --records 1000000 [--seed 1] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import orjson

from bench.common import cache_dir, shared_data_dir

CHUNK = 10_000
PER_MONTH = 20_000
FIRST_YEAR = 2015
SOURCES = ("kaggle_snapshot_head200.jsonl.gz", "arxiv_browse_testdata_kaggle_format.jsonl.gz")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Pools:
    """What generated records are sampled from (lists with repetition = real frequencies)."""

    title_words: list[str]
    abstract_words: list[str]
    title_lengths: list[int]
    abstract_lengths: list[int]
    author_counts: list[int]
    names: list[tuple[str, str]]  # (last, first)
    categories: list[str]
    comments: list[str | None]
    journal_refs: list[str | None]
    report_nos: list[str | None]
    licenses: list[str | None]
    submitters: list[str]
    version_counts: list[int]
    doi_share: float


def load_pools(data_dir: Path) -> Pools:
    records: list[dict[str, Any]] = []
    for name in SOURCES:
        with gzip.open(data_dir / "arxiv" / name) as fh:
            records.extend(orjson.loads(line) for line in fh if line.strip())
    if not records:
        raise SystemExit(f"no sample records under {data_dir / 'arxiv'}")
    title_words: list[str] = []
    abstract_words: list[str] = []
    title_lengths: list[int] = []
    abstract_lengths: list[int] = []
    author_counts: list[int] = []
    names: list[tuple[str, str]] = []
    for rec in records:
        title = (rec.get("title") or "").split()
        abstract = (rec.get("abstract") or "").split()
        title_words.extend(title)
        abstract_words.extend(abstract)
        title_lengths.append(max(1, len(title)))
        abstract_lengths.append(max(1, len(abstract)))
        parsed = rec.get("authors_parsed")
        if parsed:
            author_counts.append(len(parsed))
            names.extend((p[0], p[1]) for p in parsed if p and p[0])
        else:
            raw = (rec.get("authors") or "").replace(" and ", ", ")
            author_counts.append(max(1, len([a for a in raw.split(",") if a.strip()])))
    return Pools(
        title_words=title_words,
        abstract_words=abstract_words,
        title_lengths=title_lengths,
        abstract_lengths=abstract_lengths,
        author_counts=author_counts,
        names=names or [("Doe", "J.")],
        categories=[r["categories"] for r in records if r.get("categories")],
        comments=[r.get("comments") for r in records],
        journal_refs=[r.get("journal-ref") for r in records],
        report_nos=[r.get("report-no") for r in records],
        licenses=[r.get("license") for r in records],
        submitters=[r["submitter"] for r in records if r.get("submitter")],
        version_counts=[max(1, len(r.get("versions") or [])) for r in records],
        doi_share=sum(1 for r in records if r.get("doi")) / len(records),
    )


def _wrap(words: list[str], per_line: int, sep: str) -> str:
    return sep.join(" ".join(words[i : i + per_line]) for i in range(0, len(words), per_line))


def _text(rng: random.Random, words: list[str], k: int) -> list[str]:
    """k words made of real runs of 4-16 consecutive words from random places in the sample
    (cheaper than k independent draws, and keeps real word order and LaTeX spans)."""
    out: list[str] = []
    last = len(words) - 16
    while len(out) < k:
        start = rng.randrange(last)
        out.extend(words[start : start + min(k - len(out), 4 + rng.randrange(13))])
    return out


def _rfc2822(t: dt.datetime) -> str:
    return (
        f"{_WEEKDAYS[t.weekday()]}, {t.day} {_MONTHS[t.month - 1]} {t.year} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} GMT"
    )


def arxiv_id(index: int) -> tuple[str, dt.datetime]:
    """The index-th generated id and the first day of its month."""
    month_index, number = divmod(index, PER_MONTH)
    year, month0 = divmod(month_index, 12)
    year += FIRST_YEAR
    if year > 2099:
        raise ValueError("too many records for the id scheme")
    return f"{year % 100:02d}{month0 + 1:02d}.{number + 1:05d}", dt.datetime(year, month0 + 1, 1)


def _record(rng: random.Random, pools: Pools, index: int) -> dict[str, Any]:
    ident, month_start = arxiv_id(index)
    choice = rng.choice
    title = _text(rng, pools.title_words, choice(pools.title_lengths))
    abstract = _text(rng, pools.abstract_words, choice(pools.abstract_lengths))
    authors = [choice(pools.names) for _ in range(choice(pools.author_counts))]
    names = [f"{first} {last}".strip() for last, first in authors]
    author_text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    created = month_start + dt.timedelta(seconds=rng.randrange(28 * 86400))
    versions = []
    for v in range(choice(pools.version_counts)):
        versions.append({"version": f"v{v + 1}", "created": _rfc2822(created)})
        created += dt.timedelta(seconds=rng.randrange(3600, 400 * 86400))
    has_doi = rng.random() < pools.doi_share
    return {
        "id": ident,
        "submitter": choice(pools.submitters),
        "authors": _wrap(author_text.split(" "), 10, "\n  "),
        "title": _wrap(title, 10, "\n  "),
        "comments": choice(pools.comments),
        "journal-ref": choice(pools.journal_refs),
        "doi": f"10.{1000 + index % 9000}/bench.{ident}" if has_doi else None,
        "report-no": choice(pools.report_nos),
        "categories": choice(pools.categories),
        "license": choice(pools.licenses),
        "abstract": "  " + _wrap(abstract, 13, "\n") + "\n",
        "versions": versions,
        "update_date": (created - dt.timedelta(seconds=1)).date().isoformat(),
        "authors_parsed": [[last, first, ""] for last, first in authors],
    }


_POOLS: Pools | None = None  # set in the parent before forking workers


def _chunk(args: tuple[int, int, int]) -> bytes:
    seed, start, count = args
    assert _POOLS is not None
    rng = random.Random(f"paperfeed-bench:{seed}:{start}")
    lines = b"".join(
        orjson.dumps(_record(rng, _POOLS, i)) + b"\n" for i in range(start, start + count)
    )
    return gzip.compress(lines, compresslevel=1, mtime=0)


def _chunks(records: int, seed: int) -> Iterator[tuple[int, int, int]]:
    for start in range(0, records, CHUNK):
        yield seed, start, min(CHUNK, records - start)


def generate(
    path: Path, records: int, *, seed: int = 1, data_dir: Path | None = None, workers: int = 0
) -> Path:
    """Write `records` generated records to `path` (gzipped JSON lines), atomically."""
    global _POOLS
    _POOLS = load_pools(data_dir or shared_data_dir())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with tmp.open("wb") as out, Pool(workers or os.cpu_count() or 1) as pool:
            for blob in pool.imap(_chunk, _chunks(records, seed)):
                out.write(blob)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def snapshot_path(records: int, seed: int = 1) -> Path:
    return cache_dir() / f"snapshot-{records}-seed{seed}.jsonl.gz"


def ensure_snapshot(records: int, seed: int = 1, *, log: bool = True) -> Path:
    """The cached generated file of this size, generating it when missing."""
    path = snapshot_path(records, seed)
    if not path.exists():
        started = time.perf_counter()
        if log:
            print(f"generating {records:,} records -> {path}", file=sys.stderr, flush=True)
        generate(path, records, seed=seed)
        if log:
            print(
                f"  done in {time.perf_counter() - started:.1f} s "
                f"({path.stat().st_size / 1e6:,.0f} MB)",
                file=sys.stderr,
                flush=True,
            )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="default: the bench cache")
    parser.add_argument("--workers", type=int, default=0, help="default: all cores")
    args = parser.parse_args(argv)
    out = args.out or snapshot_path(args.records, args.seed)
    started = time.perf_counter()
    generate(out, args.records, seed=args.seed, workers=args.workers)
    print(
        f"{out}: {args.records:,} records, {out.stat().st_size / 1e6:,.1f} MB, "
        f"{time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
