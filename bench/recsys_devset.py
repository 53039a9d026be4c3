"""`python -m bench recsys-devset OUT`: a folder for `paperfeed eval recsys` built from the
51,693 real OAI-PMH records of 2017Q1 (`../shared/data/arxiv/oaipmh_oai_dc_2017Q1`), with
authors standing in for readers.

- A reader is an author name (accents, case and punctuation ignored: "Bal\\'azs, A." and
  "balazs a" are one) of at least MIN_PAPERS papers with at most MAX_AUTHORS authors each
  (a 3,000-name collaboration paper says nothing about what one of its names reads).
- Their latest paper (by first-version date) falls in one of the ISO weeks chosen
  (`--weeks`, default 2017-W10 to W13, the last four weeks of the data). That week is what
  `/for-you` would rank: `candidates` are every paper whose first version is dated in it
  (~1,500-2,500), `relevant` the reader's own papers among them, and `liked` every paper of
  theirs dated before that week (at least MIN_PAPERS - 1). Nobody has `disliked` papers:
  authorship says nothing about what one dislikes.
- Readers whose (liked, relevant) lists are the same as another's (co-authors of all the
  same papers) are kept once; then at most `--users` readers are drawn (seeded).

`papers.jsonl` holds the candidates and the liked papers, with `categories` (primary first:
the recommender's categories signal, and bench/recsys.py's popularity baseline) and
`submitted` (ignored by `paperfeed eval recsys`). Deterministic for the same data and options."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from bench.common import oaipmh_records
from paperfeed.papers.periods import parse_week
from paperfeed.papers.record import PaperRecord

MIN_PAPERS = 4
MAX_AUTHORS = 20
DEFAULT_WEEKS = "2017-W10,2017-W11,2017-W12,2017-W13"
CHECK_WEEKS = "2017-W06,2017-W07,2017-W08,2017-W09"  # the second, time-split check


def read_records() -> list[PaperRecord]:
    return [r for r in oaipmh_records() if r.arxiv_id and r.submitted_at]


def name_key(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z ]", " ", plain).split())


def build(
    records: Sequence[PaperRecord], weeks: Sequence[str], users: int, seed: int
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    periods = [parse_week(w) for w in weeks]

    def week_of(record: PaperRecord) -> int | None:
        assert record.submitted_at is not None
        day = record.submitted_at.date()
        return next((n for n, p in enumerate(periods) if p.start <= day <= p.end), None)

    by_week: dict[int, list[PaperRecord]] = defaultdict(list)
    for record in records:
        week = week_of(record)
        if week is not None:
            by_week[week].append(record)
    by_author: dict[str, list[PaperRecord]] = defaultdict(list)
    for record in records:
        if len(record.authors) <= MAX_AUTHORS:
            for key in dict.fromkeys(name_key(a["name"]) for a in record.authors):
                if key:
                    by_author[key].append(record)
    readers: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, int]] = {}
    for author in sorted(by_author):
        own = sorted(by_author[author], key=lambda r: (r.submitted_at, r.arxiv_id))
        week = week_of(own[-1]) if len(own) >= MIN_PAPERS else None
        if week is None:
            continue
        start = dt.datetime.combine(periods[week].start, dt.time())
        liked = tuple(str(r.arxiv_id) for r in own if cast(dt.datetime, r.submitted_at) < start)
        relevant = tuple(str(r.arxiv_id) for r in own if week_of(r) == week)
        if len(liked) >= MIN_PAPERS - 1:
            readers.setdefault((liked, relevant), (author, week))
    chosen = sorted(readers.items(), key=lambda item: item[1][0])
    rng = random.Random(seed)
    if len(chosen) > users:
        chosen = sorted(rng.sample(chosen, users), key=lambda item: item[1][0])
    user_rows: list[dict[str, object]] = []
    wanted: dict[str, PaperRecord] = {}
    of_id = {str(r.arxiv_id): r for r in records}
    for (liked, relevant), (author, week) in chosen:
        candidates = [str(r.arxiv_id) for r in by_week[week]]
        user_rows.append(
            {
                "user": author,
                "liked": list(liked),
                "disliked": [],
                "candidates": candidates,
                "relevant": list(relevant),
            }
        )
        for pid in (*liked, *candidates):
            wanted[pid] = of_id[pid]
    paper_rows: list[dict[str, object]] = [
        {
            "id": pid,
            "title": r.title,
            "abstract": r.abstract,
            "categories": r.categories,
            "submitted": cast(dt.datetime, r.submitted_at).date().isoformat(),
        }
        for pid, r in sorted(wanted.items())
    ]
    return paper_rows, user_rows


def write(
    out: Path, papers: Sequence[dict[str, object]], users: Sequence[dict[str, object]]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("papers.jsonl", papers), ("users.jsonl", users)):
        tmp = out / f"{name}.tmp"
        with tmp.open("w") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        tmp.replace(out / name)


def make(out: Path, *, weeks: str = DEFAULT_WEEKS, users: int = 1000, seed: int = 0) -> None:
    print(f"building the recommender dev set in {out} ...", file=sys.stderr, flush=True)
    papers, user_rows = build(read_records(), weeks.split(","), users, seed)
    write(out, papers, user_rows)
    print(f"{len(papers):,} papers, {len(user_rows):,} readers", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench recsys-devset", description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--weeks", default=DEFAULT_WEEKS, help=f"ISO weeks (check: {CHECK_WEEKS})")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    make(args.out, weeks=args.weeks, users=args.users, seed=args.seed)
    return 0
