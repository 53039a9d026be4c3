"""Search benchmarks: index build, query latency, serving memory, embedding throughput.

    python -m bench search                       # 100k and 1M papers (see bench/README.md)
    python -m bench search --sizes 100k --queries 300 --no-embed-bench

For each size a catalog is built once and cached in ~/.cache/paperfeed-bench/search-N-seedS/
(`--rebuild` starts over): `paperfeed import snapshot` of the generated file, then
`paperfeed index update --no-embed` (lexical build), then the vector index: a real sample of
the catalog embedded with the real model, the rest synthesised as noisy mixtures of those real
vectors (embedding 1M abstracts would take hours on 2 cores), built into the usearch HNSW index
and registered in meta.json under the real embedder's name, so SearchService uses it. Build
steps are timed when they run; the table shows those recorded timings.

Query latency is measured in a fresh `bench.search_worker serve` process: open the runtime,
warm up, then every query in lexical, dense and hybrid mode (rotating the order), one query at
a time through `runtime.search.search(q, limit=10)`. Peak RSS of that process is the serving
memory. Ratios are against lexical mode at the same size, in the same process.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import cache_dir, shared_data_dir
from bench.generate_snapshot import ensure_snapshot
from bench.run import base_env, machine, measure, paperfeed_cmd, parse_size, size_label

TARGETS = {
    "hybrid_p50": 30.0,
    "hybrid_p95": 60.0,
    "lexical_p95": 15.0,
    "serving_rss_mb": 4096.0,
    "embed_rate": 100.0,
    "fast_embed_rate": 2000.0,
}
SAMPLE_FIRST = 100_000  # real sample drawn from the first 100k papers: shared by all sizes
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]*")


def worker(*args: str | Path) -> tuple[dict[str, Any], float, float, int]:
    """Run a bench.search_worker command: (its JSON, wall s, CPU s, peak RSS KiB)."""
    cmd = [sys.executable, "-m", "bench.search_worker", *map(str, args)]
    seconds, cpu, rss, stdout = measure(cmd, base_env())
    return json.loads(stdout.strip().splitlines()[-1]), seconds, cpu, rss


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- queries ------------------------------------------------------------------------------------


def _window(rng: random.Random, words: list[str]) -> str:
    k = min(len(words), rng.randint(3, 8))
    start = rng.randrange(len(words) - k + 1)
    return " ".join(words[start : start + k])


def build_queries(n: int, warmup: int, seed: int) -> dict[str, list[str]]:
    """Half SciFact claims (their first 3-8 words), half 3-8 word windows of real arXiv titles
    (the generated catalog's vocabulary comes from the same records). Only plain words: no
    query syntax (quotes, -, field:) and no arXiv ids."""
    rng = random.Random(seed)
    data = shared_data_dir()
    claims: list[list[str]] = []
    with (data / "beir" / "scifact" / "queries.jsonl").open() as fh:
        for line in fh:
            words = _WORD.findall(json.loads(line)["text"])
            if len(words) >= 3:
                claims.append(words)
    titles: list[list[str]] = []
    for path in sorted((data / "arxiv").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as fh:
            for line in fh:
                title = re.sub(r"\$[^$]*\$", " ", json.loads(line).get("title") or "")
                words = _WORD.findall(title)
                if len(words) >= 3:
                    titles.append(words)
    rng.shuffle(claims)
    rng.shuffle(titles)
    half = n // 2
    queries = [" ".join(w[: rng.randint(3, 8)]) for w in claims[:half]]
    queries += [_window(rng, w) for w in titles[: n - half]]
    rng.shuffle(queries)
    warm = [" ".join(w[: rng.randint(3, 8)]) for w in claims[half : half + warmup]]
    return {"queries": queries, "warmup": warm}


# -- building a catalog and its indexes ---------------------------------------------------------


def workdir(size: int, seed: int) -> Path:
    return cache_dir() / f"search-{size_label(size)}-seed{seed}"


def load_record(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def prepare(
    size: int, seed: int, sample_n: int, rebuild: bool, hnsw_deadline: float = 0.0
) -> dict[str, Any]:
    """Build (or reuse) the catalog and indexes for `size` papers; returns the build record."""
    work = workdir(size, seed)
    record_path = work / "build.json"
    if rebuild and work.exists():
        import shutil

        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    record = load_record(record_path)
    env = {**base_env(), "PAPERFEED_HOME": str(home), "PAPERFEED_EMBEDDER": "minilm"}

    def save() -> None:
        record_path.write_text(json.dumps(record, indent=2))

    if "import" not in record:
        snapshot = ensure_snapshot(size, seed)
        log(f"{size_label(size)}: importing {snapshot.name} ...")
        home.mkdir(exist_ok=True)
        cmd: list[str | Path] = [*paperfeed_cmd(), "import", "snapshot", snapshot]
        cmd += ["--no-progress", "--json", "--no-index"]
        s, cpu, rss, out = measure(cmd, env)
        record["import"] = {"seconds": s, "cpu_seconds": cpu, "peak_rss_kb": rss}
        record["import"]["records"] = json.loads(out)["total"]["records"]
        save()
    if "lexical" not in record:
        log(f"{size_label(size)}: building the lexical index ...")
        s, cpu, rss, _ = measure(
            [*paperfeed_cmd(), "index", "update", "--no-embed", "--no-progress"], env
        )
        record["lexical"] = {"seconds": s, "cpu_seconds": cpu, "peak_rss_kb": rss}
        save()
    sample = cache_dir() / f"search-sample-{sample_n}-seed{seed}.npz"
    if not sample.is_file():
        log(f"embedding a real sample of {sample_n:,} papers ...")
        tmp = sample.with_name(f"tmp-{sample.name}")
        sampled, s, cpu, rss = worker(
            "sample", home, tmp, "--n", str(sample_n), "--first", str(SAMPLE_FIRST),
            "--seed", str(seed),
        )  # fmt: skip
        tmp.rename(sample)
        sample.with_suffix(".json").write_text(json.dumps(sampled))
    if "vectors" not in record:
        log(f"{size_label(size)}: synthesising vectors and building the HNSW index ...")
        built, s, cpu, rss = worker(
            "vectors", home, sample, "--seed", str(seed), "--deadline", str(hnsw_deadline)
        )
        record["vectors"] = {**built, "seconds": s, "process_cpu_seconds": cpu, "peak_rss_kb": rss}
        save()
    record["sample"] = load_record(sample.with_suffix(".json"))
    record["disk_mb"] = {
        "catalog": sum(p.stat().st_size for p in home.glob("catalog.sqlite3*")) / 1e6,
        "lexical": sum(f.stat().st_size for f in home.glob("search/gen-*/lexical/*")) / 1e6,
        "vectors": sum(f.stat().st_size for f in home.glob("search/gen-*/vectors.usearch")) / 1e6,
    }
    record["home"] = str(home)
    return record


# -- report -------------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([fmt(headers), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def render(results: dict[str, Any]) -> str:
    out: list[str] = []
    builds = results["builds"]
    if builds:
        rows = []
        for label, b in builds.items():
            v = b["vectors"]
            rows.append(
                [
                    label,
                    f"{b['import']['seconds']:.0f} ({b['import']['cpu_seconds']:.0f})",
                    f"{b['lexical']['seconds']:.0f} ({b['lexical']['cpu_seconds']:.0f})",
                    f"{b['lexical']['peak_rss_kb'] / 1024:,.0f}",
                    f"{v['vectors']:,}",
                    f"{v['hnsw_seconds']:.0f} ({v['process_cpu_seconds']:.0f})",
                    f"{v['rss_built_mb'] - v['rss_before_mb']:,.0f}",
                    f"{b['disk_mb']['catalog']:,.0f}",
                    f"{b['disk_mb']['lexical']:,.0f}",
                    f"{b['disk_mb']['vectors']:,.0f}",
                ]
            )
        out.append("Build (wall s, CPU s in brackets; MB):")
        out.append(
            table(
                [
                    "papers",
                    "import s",
                    "lexical index s",
                    "lexical RSS",
                    "vectors",
                    "HNSW build s",
                    "HNSW RSS",
                    "catalog MB",
                    "lexical MB",
                    "vectors MB",
                ],
                rows,
            )
        )
        out.append("")
    serves = results["serve"]
    if serves:
        rows = []
        for label, s in serves.items():
            base = s["modes"]["lexical"]["p50"]
            for mode in ("lexical", "dense", "hybrid"):
                m = s["modes"][mode]
                rows.append(
                    [
                        label,
                        f"{s['vectors']:,}",
                        mode,
                        str(m["n"]),
                        f"{m['p50']:.1f}",
                        f"{m['p95']:.1f}",
                        f"{m['p99']:.1f}",
                        f"{m['cpu_p50']:.1f}",
                        f"{m['p50'] / base:.2f}",
                    ]
                )
        out.append("Query latency, one query at a time, limit=10 (ms):")
        headers = ["papers", "vectors", "mode", "queries", "p50", "p95", "p99", "CPU p50"]
        out.append(table([*headers, "x lexical"], rows, left=3))
        out.append("")
        # The query's embedding and the graph search run beside the word search, in a
        # helper thread ("(beside)"); "other" includes the wait for them.
        parts = [
            "embed_query (beside)",
            "ann (beside)",
            "tantivy",
            "restrict",
            "fusion",
            "every word",
            "count",
            "fetch+snippets",
        ]
        rows = []
        for label, s in serves.items():
            b = s["breakdown"]
            cells = [f"{b[p]['p50']:.1f} / {b[p]['p95']:.1f}" if p in b else "-" for p in parts]
            other = f"{b['other']['p50']:.1f}" if "other" in b else "-"
            rows.append([label, *cells, other, f"{s['breakdown_total_p50']:.1f}"])
        out.append("Hybrid breakdown, ms p50 / p95 (second pass over the same queries):")
        out.append(table(["papers", *parts, "other p50", "total p50"], rows))
        out.append("")
        names = list(next(iter(serves.values()))["knobs"])
        names = [n for n in names if not n.endswith(" p95")]
        rows = [
            [
                name,
                *(
                    f"{s['knobs'][name]:.1f} / {s['knobs'][name + ' p95']:.1f}"
                    for s in serves.values()
                ),
            ]
            for name in names
        ]
        out.append(
            "Parts at other depths, ms p50 / p95 (200 queries; ef = usearch expansion_search):"
        )
        out.append(table(["part", *serves], rows))
        out.append("")
        rows = [
            [
                label,
                f"{s['open_seconds']:.1f}",
                f"{s['rss_open_mb']:,.0f}",
                f"{s['peak_rss_mb']:,.0f}",
                f"{s['process_peak_rss_kb'] / 1024:,.0f}",
                f"{s['process_cpu_seconds']:.0f}",
            ]
            for label, s in serves.items()
        ]
        out.append("Serving process (fresh interpreter: open runtime, warm-up, all queries):")
        headers = ["papers", "open s", "RSS after open MB", "peak RSS MB", "wait4 maxrss MB"]
        out.append(table([*headers, "CPU s"], rows))
        out.append("")
    embeds = results["embed"]
    if embeds:
        base = embeds[0]["rate"]
        rows = [
            [
                e["variant"],
                str(e["docs"]),
                f"{e['mean_tokens']:.0f}",
                f"{e['seconds']:.1f}",
                f"{e['cpu_seconds']:.1f}",
                f"{e['rate']:.0f}",
                f"{e['rate'] / base:.2f}",
            ]
            for e in embeds
        ]
        out.append("Document embedding (SciFact abstracts, title + abstract):")
        headers = ["variant", "docs", "tokens", "s", "CPU s", "docs/s", "x default"]
        out.append(table(headers, rows))
        out.append("")
    out.extend(verdicts(results))
    return "\n".join(out)


def verdicts(results: dict[str, Any]) -> list[str]:
    lines = []
    serves = results["serve"]
    if serves:
        label, s = max(serves.items(), key=lambda kv: kv[1]["papers"])
        h, lx = s["modes"]["hybrid"], s["modes"]["lexical"]
        checks = [
            ("hybrid p50", h["p50"], TARGETS["hybrid_p50"], "ms"),
            ("hybrid p95", h["p95"], TARGETS["hybrid_p95"], "ms"),
            ("lexical p95", lx["p95"], TARGETS["lexical_p95"], "ms"),
            ("serving RSS", s["process_peak_rss_kb"] / 1024, TARGETS["serving_rss_mb"], "MB"),
        ]
        for name, value, target, unit in checks:
            ok = "MET" if value <= target else "NOT MET"
            lines.append(f"target {name} <= {target:,.0f} {unit} at {label}: {ok} ({value:,.1f})")
    if results["embed"]:
        rate = results["embed"][0]["rate"]
        ok = "MET" if rate >= TARGETS["embed_rate"] else "NOT MET"
        lines.append(f"target embedding >= {TARGETS['embed_rate']:.0f} docs/s: {ok} ({rate:.0f})")
        fast = [e["rate"] for e in results["embed"] if e["variant"] == "wordllama"]
        if fast:
            ok = "MET" if fast[0] >= TARGETS["fast_embed_rate"] else "NOT MET"
            target = TARGETS["fast_embed_rate"]
            lines.append(f"target fast mode >= {target:.0f} docs/s: {ok} ({fast[0]:.0f})")
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench search",
        description="paperfeed search benchmarks; prints tables (see bench/README.md).",
    )
    parser.add_argument("--sizes", default="100k,1m", help="catalog sizes (default: 100k,1m)")
    parser.add_argument("--queries", type=int, default=400, help="measured queries (default 400)")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up queries (default 30)")
    parser.add_argument(
        "--sample", type=int, default=10_000, help="real papers embedded for the vectors"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached catalogs")
    parser.add_argument("--embed-docs", type=int, default=2000, help="abstracts per embed run")
    parser.add_argument(
        "--embed-variants",
        default="int8-t128,int8-t256,fp32-t128,shipped-t128,wordllama",
        help="first is the default model (the baseline of the x column)",
    )
    parser.add_argument("--no-embed-bench", action="store_true", help="skip the embedding runs")
    parser.add_argument("--no-build", action="store_true", help="only serve the cached catalogs")
    parser.add_argument(
        "--hnsw-deadline",
        type=float,
        default=0.0,
        metavar="S",
        help="stop adding vectors after S seconds (a partial index, reported as such)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write raw results here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    log(f"machine: {machine()}")
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "builds": {}, "serve": {}, "embed": []}
    spec = build_queries(args.queries, args.warmup, args.seed)
    queries_file = cache_dir() / f"search-queries-{args.queries}-seed{args.seed}.json"
    queries_file.write_text(json.dumps(spec, indent=1))
    for size in sizes:
        label = size_label(size)
        if args.no_build and not (workdir(size, args.seed) / "build.json").is_file():
            log(f"{label}: no cached catalog; skipped")
            continue
        record = prepare(size, args.seed, args.sample, args.rebuild, args.hnsw_deadline)
        results["builds"][label] = record
        log(f"{label}: serving {len(spec['queries'])} queries x 3 modes ...")
        out, s, cpu, rss = worker(
            "serve", record["home"], queries_file, "--warmup", str(args.warmup)
        )
        out.update(process_seconds=s, process_cpu_seconds=cpu, process_peak_rss_kb=rss)
        results["serve"][label] = out
        h = out["modes"]["hybrid"]
        log(f"  hybrid p50 {h['p50']:.1f} ms, p95 {h['p95']:.1f} ms, peak RSS {rss / 1024:.0f} MB")
    if not args.no_embed_bench:
        corpus = shared_data_dir() / "beir" / "scifact" / "corpus.jsonl.gz"
        for variant in [v.strip() for v in args.embed_variants.split(",") if v.strip()]:
            docs = args.embed_docs if not results["embed"] else max(500, args.embed_docs // 2)
            if variant == "wordllama":  # ~28x faster: all of SciFact, to time more than 1 s
                docs = 10 * args.embed_docs
            log(f"embedding {docs} abstracts with {variant} ...")
            try:
                out, *_ = worker(
                    "embed", corpus, "--docs", str(docs), "--variant", variant,
                    "--cache", cache_dir() / "models",
                )  # fmt: skip
            except RuntimeError as exc:
                log(f"  {variant} failed: {exc}")
                continue
            results["embed"].append(out)
            log(f"  {out['rate']:.0f} docs/s")
    print()
    print(render(results))
    print(f"({machine()}; bench took {time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0
