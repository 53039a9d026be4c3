"""Baseline for the import benchmarks: read and parse the files exactly as `paperfeed import`
does (same opener, same parser), but write nothing. Prints a JSON summary.

    python -m bench.parse_only FORMAT FILE...
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from paperfeed.ingest.base import Rejection, open_input
from paperfeed.ingest.formats import FORMATS


def parse_files(fmt: str, paths: list[Path]) -> dict[str, float | int]:
    parser = FORMATS[fmt].parser()
    records = rejected = 0
    started = time.perf_counter()
    for path in paths:
        with open_input(path).stream as stream:
            for item in parser(stream, str(path), 0):
                records += 1
                if isinstance(item, Rejection):
                    rejected += 1
    return {"records": records, "rejected": rejected, "seconds": time.perf_counter() - started}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in FORMATS:
        print(f"usage: python -m bench.parse_only {{{','.join(FORMATS)}}} FILE...", file=sys.stderr)
        return 2
    print(json.dumps(parse_files(argv[0], [Path(p) for p in argv[1:]])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
