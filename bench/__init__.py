"""Benchmarks: `python -m bench` (see bench/README.md)."""

# paperfeed first: its package sets one OpenBLAS thread per process (unless the environment
# says otherwise) before numpy loads, as in the product; a bench that imported numpy first
# measured OpenBLAS's default threads (bench foryou's digests: 2.5x the CPU on 2 cores).
import paperfeed  # noqa: F401
