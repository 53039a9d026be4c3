"""A second search development set that is not SciFact (issue #17): arXiv titles as
known-item queries against the abstracts of real arXiv papers.

    python -m bench devset                       # writes a BEIR folder, prints its path
    paperfeed eval beir ~/.cache/paperfeed-bench/devset-arxiv-titles-10000-1000-seed17
    paperfeed eval beir FOLDER --split term      # queries that hinge on specific terms
    paperfeed eval beir FOLDER --split natural   # the other queries

- Corpus: `--records` papers drawn at random (seeded) from the 51,693 real arXiv records of
  the shared 2017Q1 OAI-PMH pages (every archive: math, cs, cond-mat, astro-ph, physics, ...),
  each document its **abstract only** (no title), as the project's OAI-PMH parser reads it.
- Queries: the titles of `--queries` of those papers (seeded, drawn before any search runs),
  written as plain words (TeX markup and punctuation dropped, so no query syntax); the one
  relevant document of each is its own paper's abstract (known-item search, grade 1).
- Splits: `test` holds every query; `term` the queries whose title holds a word with a digit
  or a capital letter after its first character (acronyms, model and material names, formulas:
  "LSTM", "ResNet", "ZnGeP2", "Wasserstein-1", "3D"), which a search has to match exactly;
  `natural` the others. The rule reads the title alone, never what a search returns.

It is not tuned to: fusion choices are made on SciFact's train queries and only measured here.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Sequence
from pathlib import Path

from bench.common import cache_dir
from bench.search_floor import arxiv_records

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-']*")
_SPECIFIC = re.compile(r"\d|.[A-Z]")


def query_words(title: str) -> list[str]:
    """A title as plain words: TeX commands' backslashes, $, braces and punctuation dropped."""
    return [w.strip("-'") for w in _WORD.findall(title) if w.strip("-'")]


def hinges_on_terms(words: Sequence[str]) -> bool:
    """A word with a digit or an inner capital: an acronym, a name such as ResNet, a formula."""
    return any(_SPECIFIC.search(w) for w in words)


def build(records: int, queries: int, seed: int, out: Path | None = None) -> Path:
    folder = out or cache_dir() / f"devset-arxiv-titles-{records}-{queries}-seed{seed}"
    if (folder / "qrels" / "test.tsv").is_file():
        return folder
    every = arxiv_records(10**9)
    rng = random.Random(seed)
    corpus = sorted(rng.sample(range(len(every)), min(records, len(every))))
    chosen = [every[i] for i in corpus]
    askable = [r for r in chosen if r.arxiv_id and len(query_words(r.title)) >= 3]
    asked = sorted(rng.sample(range(len(askable)), min(queries, len(askable))))
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w") as out_corpus:
        for r in chosen:
            doc: dict[str, object] = {
                "_id": r.arxiv_id,
                "title": "",
                "text": r.abstract,
                "metadata": {},
            }
            out_corpus.write(json.dumps(doc) + "\n")
    splits: dict[str, list[str]] = {"test": [], "term": [], "natural": []}
    with (folder / "queries.jsonl").open("w") as out_queries:
        for n, i in enumerate(asked):
            record = askable[i]
            words = query_words(record.title)
            kind = "term" if hinges_on_terms(words) else "natural"
            qid = f"q{n}"
            query = {"_id": qid, "text": " ".join(words), "metadata": {"kind": kind}}
            out_queries.write(json.dumps(query) + "\n")
            row = f"{qid}\t{record.arxiv_id}\t1"
            splits["test"].append(row)
            splits[kind].append(row)
    for split, rows in splits.items():
        text = "query-id\tcorpus-id\tscore\n" + "".join(f"{row}\n" for row in rows)
        (folder / "qrels" / f"{split}.tsv").write_text(text)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench devset", description=__doc__)
    parser.add_argument("--records", type=int, default=10_000, help="papers in the corpus")
    parser.add_argument("--queries", type=int, default=1_000, help="titles asked")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out", type=Path, help="the BEIR folder (default: the bench cache)")
    args = parser.parse_args(argv)
    folder = build(args.records, args.queries, args.seed, args.out)
    counts = {
        split: len((folder / "qrels" / f"{split}.tsv").read_text().splitlines()) - 1
        for split in ("test", "term", "natural")
    }
    print(folder)
    print(", ".join(f"{split}: {n} queries" for split, n in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
