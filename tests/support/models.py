"""The embedding models, loaded once per test session instead of once per data directory.

paperfeed prepares MiniLM on first use in a data directory (it re-quantises the shipped graph,
5-10 s, and caches the result in `<home>/models`), then loads it (~0.5 s) in every process.
Every test has a data directory of its own, so the tests would pay that again and again. In
the test processes the runtime's loader (`paperfeed.runtime.load_embedder`) is replaced by
`SessionModels.load`: the real loader runs once per model and process, its files are prepared
once for the whole run (in a folder the xdist workers share, under a lock), and every data
directory that asks for the model gets those files (hard links, as if it had prepared them
itself) and the same loaded model. Tests of the loader itself call
`paperfeed.search.embedder.load_embedder`, which is left alone."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from paperfeed.search.embedder import Embedder, load_embedder


class SessionModels:
    def __init__(self, folder: Path) -> None:
        """`folder`: where the models are prepared, shared by the processes of one run."""
        self.folder = folder
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple[Embedder | None, list[Path]]] = {}

    def load(self, name: str, cache_dir: Path) -> Embedder | None:
        """`load_embedder(name, cache_dir)`, with the model loaded once per process."""
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
            embedder, files = self._loaded[name]
        if files:
            cache_dir.mkdir(parents=True, exist_ok=True)
            for path in files:
                target = cache_dir / path.name
                if not target.exists():
                    os.link(path, target)
        return embedder

    def _load(self, name: str) -> tuple[Embedder | None, list[Path]]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f".{name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process prepares, the others wait for it
            embedder = load_embedder(name, self.folder)  # raises as the real loader does
        # What the model keeps in a data directory (MiniLM: `minilm-l6-dynint8-<...>.onnx`).
        files = sorted(p for p in self.folder.iterdir() if p.name.startswith(f"{name}-"))
        return embedder, files
