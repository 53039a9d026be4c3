"""The embedding models, loaded once per test session instead of once per data directory, and
each text embedded once per test run.

paperfeed prepares MiniLM on first use in a data directory (it re-quantises the shipped graph,
5-10 s, and caches the result in `<home>/models`), then loads it (~0.5 s) in every process.
Every test has a data directory of its own, so the tests would pay that again and again. In
the test processes the runtime's loader (`paperfeed.runtime.load_embedder`) is replaced by
`SessionModels.load`: the real loader runs once per model and process, its files are prepared
once for the whole run (in a folder the xdist workers and both legs of `scripts/test` share,
under a lock), and every data directory that asks for the model gets those files (hard links,
as if it had prepared them itself).

The loaded model is wrapped in a `RunEmbedder`: many tests import the same real records (the
200-record snapshot head alone a dozen times per leg), and embedding them is most of what such
a test costs. A `RunEmbedder` keeps every vector the real model computed, by model name and
text, in a SQLite file of the run's folder; a text is embedded by the real model the first
time any test process of the run asks for it, and read back after that. The model's vectors
do not depend on the other texts of a batch (tests/search/test_embedder.py), so what a test
reads back is exactly what the model would compute again. Tests of the loader and the model
themselves call `paperfeed.search.embedder.load_embedder`, which is left alone.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from paperfeed.search.embedder import Embedder, Vectors, load_embedder


class VectorStore:
    """Vectors by (model, kind, text digest) in a SQLite file that several processes share."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    def get(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        with self._connect() as conn:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk
                )
                found.update(rows)
        return found

    def put(self, items: Sequence[tuple[str, bytes]]) -> None:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)", items)
            conn.execute("COMMIT")


class RunEmbedder:
    """The real embedder, each text embedded once per test run (see the module's docstring)."""

    def __init__(self, model: Embedder, store: VectorStore, lock_path: Path) -> None:
        self.model = model
        self.name = model.name
        self.dim = model.dim
        self.fusion_weight = model.fusion_weight
        self.documents_per_second = model.documents_per_second
        self._store = store
        self._lock_path = lock_path

    def _keys(self, kind: str, texts: Sequence[str]) -> list[str]:
        prefix = f"{self.name}\0{kind}\0".encode()
        return [hashlib.blake2b(prefix + t.encode(), digest_size=20).hexdigest() for t in texts]

    def _vectors(self, kind: str, texts: Sequence[str]) -> Vectors:
        keys = self._keys(kind, texts)
        found = self._store.get(keys)
        if len(found) < len(set(keys)):
            # One process of the run embeds a missing text; the others wait and read it back.
            with self._lock_path.open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                found = self._store.get(keys)
                missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
                if missing:
                    if kind == "query":
                        computed = np.vstack([self.model.embed_query(t) for t in missing.values()])
                    else:
                        computed = self.model.embed_documents(list(missing.values()))
                    rows = [
                        (k, np.ascontiguousarray(v, dtype=np.float32).tobytes())
                        for k, v in zip(missing, computed, strict=True)
                    ]
                    self._store.put(rows)
                    found.update(rows)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = np.frombuffer(found[key], dtype=np.float32)
        return out

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return self.model.embed_documents(texts)
        return self._vectors("document", texts)

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self._vectors("query", [text])[0]
        return vector


class SessionModels:
    def __init__(self, folder: Path) -> None:
        """`folder`: where the models are prepared, shared by the processes of one run."""
        self.folder = folder
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple[Embedder | None, list[Path]]] = {}

    def real(self, name: str) -> Embedder | None:
        """The model itself, as the real loader gives it (no vectors kept for the run)."""
        embedder = self.load(name, self.folder)
        return embedder.model if isinstance(embedder, RunEmbedder) else embedder

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
        if embedder is not None:
            store = VectorStore(self.folder / "vectors.sqlite3")
            embedder = RunEmbedder(embedder, store, self.folder / ".vectors.lock")
        return embedder, files
