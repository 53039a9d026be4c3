"""`python -m bench categories`: how well the category vote of papers/predicted_categories.py
predicts arXiv's categories, measured on papers whose categories are known.

The 51,693 OAI-PMH records of 2017Q1 (`../shared/data/arxiv/oaipmh_oai_dc_2017Q1`) are
imported into a scratch catalog (cached between runs), embedded as `paperfeed index update`
would (the same document text, stored as float16), and each held-out paper is predicted from
the other papers' categories, itself left out (leave-one-out: every other paper votes, as the
whole catalog does for a Hugging Face paper). Reported: primary-category top-1 accuracy; the
predicted primary among the paper's categories; precision and recall of the predicted set;
the archive (`cs`, `math`, ...) of the primary; and, for scale, always guessing the most
common primary category.

    python -m bench categories                          # wordllama vectors, every paper
    python -m bench categories --embedder minilm --sample 5000

`--sample N`: only N papers (chosen at random with --seed) are embedded, voted on and vote
(MiniLM embeds ~100 papers/s on an idle machine, all 51,693 take ~9 min there)."""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from bench.common import cache_dir, oaipmh_files
from paperfeed.config import Settings
from paperfeed.db.schema import papers
from paperfeed.papers.predicted_categories import K, Reference
from paperfeed.runtime import Runtime
from paperfeed.search.embedder import document_text, load_embedder


def catalog_home() -> Path:
    """A catalog of the 2017Q1 records, imported once (`paperfeed import oai-pmh`)."""
    home = cache_dir() / "categories-2017Q1"
    done = home / "imported"
    if not done.exists():
        files = oaipmh_files()
        env = {**os.environ, "PAPERFEED_HOME": str(home), "PAPERFEED_EMBEDDER": "none"}
        env.pop("PAPERFEED_DATABASE_URL", None)
        command = [sys.executable, "-m", "paperfeed", "import", "oai-pmh", *map(str, files)]
        subprocess.run([*command, "--no-index", "--no-progress"], env=env, check=True)
        done.write_text("ok\n")
    return home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench categories", description=__doc__)
    parser.add_argument("--embedder", default="wordllama", choices=["wordllama", "minilm"])
    parser.add_argument("--sample", type=int, default=None, help="papers used (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    home = catalog_home()
    runtime = Runtime(Settings(home=home, database_url=None, embedder="none"))
    with runtime.reader.connect() as conn:
        rows = [
            r
            for r in conn.execute(
                sa.select(
                    papers.c.id,
                    papers.c.title,
                    papers.c.abstract,
                    papers.c.primary_category,
                    papers.c.categories,
                ).order_by(papers.c.id)
            )
            if r.categories and r.primary_category
        ]
    runtime.close()
    if args.sample is not None and args.sample < len(rows):
        rows = sorted(random.Random(args.seed).sample(rows, args.sample), key=lambda r: r.id)

    embedder = load_embedder(args.embedder, home / "models")
    assert embedder is not None
    started = time.perf_counter()
    vectors = embedder.embed_documents([document_text(r.title, r.abstract or "") for r in rows])
    embed_seconds = time.perf_counter() - started
    reference = Reference(
        ids=[r.id for r in rows],
        primaries=[r.primary_category for r in rows],
        categories=[list(r.categories) for r in rows],
        vectors=np.asarray(vectors, np.float16),  # as the catalog stores them
    )
    started = time.perf_counter()
    queries = np.asarray(reference.vectors, np.float32)
    predictions = reference.predict(queries, exclude=list(range(len(rows))))
    vote_seconds = time.perf_counter() - started

    n = len(rows)
    top1 = in_categories = archive = 0
    precision = recall = 0.0
    for row, prediction in zip(rows, predictions, strict=True):
        assert prediction is not None
        truth = set(row.categories)
        guessed = set(prediction.categories)
        top1 += prediction.primary == row.primary_category
        in_categories += prediction.primary in truth
        archive += prediction.primary.split(".")[0] == row.primary_category.split(".")[0]
        precision += len(guessed & truth) / len(guessed)
        recall += len(guessed & truth) / len(truth)
    common, count = Counter(r.primary_category for r in rows).most_common(1)[0]
    result = {
        "embedder": embedder.name,
        "papers": n,
        "k": K,
        "primary_top1": round(top1 / n, 4),
        "primary_in_categories": round(in_categories / n, 4),
        "set_precision": round(precision / n, 4),
        "set_recall": round(recall / n, 4),
        "archive_top1": round(archive / n, 4),
        "mean_predicted_categories": round(sum(len(p.categories) for p in predictions if p) / n, 2),
        "most_common_primary": common,
        "most_common_primary_share": round(count / n, 4),
        "distinct_primaries": len({r.primary_category for r in rows}),
        "embed_seconds": round(embed_seconds, 1),
        "vote_seconds": round(vote_seconds, 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    return 0
