"""The on-disk search index of one catalog: a lexical index, a vector index and the papers'
terms (search/terms.py) in a generation directory, named by the CURRENT file. A rebuild
writes a new generation and swaps CURRENT atomically, so readers never see a half-built
index."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import uuid
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from paperfeed.search import terms
from paperfeed.search.lexical import SCHEMA_VERSION, LexicalIndex
from paperfeed.search.vectors import VectorIndex

_CURRENT = "CURRENT"


@dataclass
class IndexMeta:
    schema: int = SCHEMA_VERSION
    generation: str = ""
    # Catalog changes up to this `papers.modified_at` are in the lexical index.
    lexical_watermark: str | None = None
    # How many papers changed within the overlap before that watermark when the lexical index
    # last took the catalog's changes (search/follow.py: a count that changes means a late
    # commit; a process that starts finds here whether anything changed since).
    lexical_recent: int | None = None
    # Embeddings of `model` updated up to this time are in the vector index.
    model: str | None = None
    dim: int | None = None
    vector_watermark: str | None = None
    created_at: str = ""

    @classmethod
    def read(cls, path: Path) -> IndexMeta:
        """A generation's meta.json; keys this version does not know are ignored (a newer
        version's, on a directory it shares or left behind)."""
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a JSON object")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class SearchStore:
    def __init__(self, root: Path, generation: str, meta: IndexMeta) -> None:
        self.root = root
        self.generation = generation
        self.meta = meta
        self.lexical = LexicalIndex(self.directory / "lexical")
        self.terms = terms.TermStore(self.directory / terms.FILE)  # papers' terms (For you)
        self._vectors: VectorIndex | None = None
        self._opening = threading.Lock()  # one VectorIndex per store, however many threads ask

    @property
    def directory(self) -> Path:
        return self.root / self.generation

    def vectors(self, dim: int) -> VectorIndex:
        """The vector index, opened on first use: one object for every thread (two opened at
        once had versions of their own, so what was kept per version was made twice)."""
        found = self._vectors
        if found is not None and found.ndim == dim:
            return found
        with self._opening:
            if self._vectors is None or self._vectors.ndim != dim:
                self._vectors = VectorIndex(self._vectors_path, dim)
            return self._vectors

    def delete_vectors(self) -> None:
        """Drop the vector index (its model changed): every paper is loaded again."""
        with self._opening:
            VectorIndex.delete_files(self._vectors_path)
            self._vectors = None

    def has_vectors(self) -> bool:
        return self._vectors_path.exists()

    @property
    def _vectors_path(self) -> Path:
        return self.directory / "vectors.usearch"

    def save_meta(self) -> None:
        path = self.directory / "meta.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self.meta), indent=2))
        os.replace(tmp, path)

    # -- generations ---------------------------------------------------------------------------

    @classmethod
    def exists(cls, root: Path) -> bool:
        return (root / _CURRENT).is_file()

    @staticmethod
    def current_meta(root: Path) -> IndexMeta | None:
        """The current generation's metadata, read without opening the index (None: none)."""
        try:
            generation = (root / _CURRENT).read_text().strip()
            return IndexMeta.read(root / generation / "meta.json")
        except (OSError, ValueError, TypeError):
            return None

    @classmethod
    def open(cls, root: Path) -> SearchStore:
        """The current generation, created empty when there is none."""
        current = root / _CURRENT
        if current.is_file():
            generation = current.read_text().strip()
            meta_path = root / generation / "meta.json"
            if meta_path.is_file():
                meta = IndexMeta.read(meta_path)
                if meta.schema == SCHEMA_VERSION:
                    return cls(root, generation, meta)
        store = cls.new_generation(root)
        store.activate()
        return store

    @classmethod
    def new_generation(cls, root: Path) -> SearchStore:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        generation = f"gen-{stamp}-{uuid.uuid4().hex[:6]}"
        (root / generation).mkdir(parents=True)
        store = cls(
            root,
            generation,
            IndexMeta(generation=generation, created_at=dt.datetime.now(dt.UTC).isoformat()),
        )
        store.save_meta()
        return store

    def refreshed(self) -> SearchStore:
        """This store brought up to date with what other processes wrote: a new generation
        (after `index build`) is opened afresh; within a generation, the lexical index is
        reloaded and the vector index re-read when their files changed."""
        current = self.root / _CURRENT
        try:
            generation = current.read_text().strip()
        except OSError:
            return self
        if generation != self.generation:
            return SearchStore.open(self.root)
        meta_path = self.directory / "meta.json"
        try:
            meta = IndexMeta.read(meta_path)
        except (OSError, ValueError, TypeError):
            return self
        if meta != self.meta:
            self.meta = meta
            self.lexical.index.reload()
            self._vectors = None
        return self

    def activate(self) -> None:
        """Point CURRENT at this generation (atomic rename) and remove older generations."""
        tmp = self.root / f"{_CURRENT}.tmp"
        tmp.write_text(self.generation)
        os.replace(tmp, self.root / _CURRENT)
        for entry in self.root.iterdir():
            if entry.is_dir() and entry.name.startswith("gen-") and entry.name != self.generation:
                shutil.rmtree(entry, ignore_errors=True)
