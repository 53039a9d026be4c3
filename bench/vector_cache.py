"""An embedder that keeps every vector it computed, by model and text, in a SQLite file of the
bench cache folder: a benchmark that loads the same papers into a fresh catalog again (as
`paperfeed eval recsys` does on every run) embeds each text once. The model's vectors do not
depend on the other texts of a batch (tests/search/test_embedder.py), so a vector read back
is the one the model would compute again."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from paperfeed.search.embedder import Embedder, Vectors


class CachedEmbedder:
    def __init__(self, model: Embedder, path: Path) -> None:
        self.model = model
        self.name = model.name
        self.dim = model.dim
        self.fusion_weight = model.fusion_weight
        self.documents_per_second = model.documents_per_second
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("CREATE TABLE IF NOT EXISTS v (key TEXT PRIMARY KEY, vector BLOB)")

    def _key(self, kind: str, text: str) -> str:
        return hashlib.blake2b(f"{self.name}\0{kind}\0{text}".encode(), digest_size=20).hexdigest()

    def _vectors(self, kind: str, texts: Sequence[str]) -> Vectors:
        keys = [self._key(kind, t) for t in texts]
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                self._conn.execute(f"SELECT key, vector FROM v WHERE key IN ({marks})", chunk)
            )
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
            self._conn.executemany("INSERT OR IGNORE INTO v VALUES (?, ?)", rows)
            found.update(rows)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = np.frombuffer(found[key], dtype=np.float32)
        return out

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self._vectors("document", texts) if texts else self.model.embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self._vectors("query", [text])[0]
        return vector
