"""The vector index: approximate nearest neighbours (HNSW, usearch) over paper embeddings.

Vectors are L2-normalised, so cosine similarity = 1 - cosine distance. The index file is
derived data: `paperfeed index build` recreates it from the embeddings in the catalog."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

# usearch's SIMD kernels (numkong) make a later `import onnxruntime` crash the process
# (segfault; usearch 2.26, onnxruntime 1.32): onnxruntime must be loaded first.
import onnxruntime  # noqa: F401
from usearch.index import Index

Vectors = npt.NDArray[np.float32]

# HNSW parameters: connectivity 32 and a wide beam keep recall@10 near exact search for
# ~1 ms per query at a million vectors; f16 storage halves memory with no measurable loss.
CONNECTIVITY = 32
EXPANSION_ADD = 128
EXPANSION_SEARCH = 256
# Below this many vectors, search compares the query with every vector. HNSW is approximate
# even when asked for more neighbours than the index holds (a 250-vector graph, built by
# several threads, returned as little as 98.4% of itself, so a paper could vanish from the
# candidates by chance), and for 1,000 candidates exact search is faster anyway up to ~100k
# vectors (50k: 3.5 ms against 8.5 ms; bench/README.md).
EXACT_SEARCH_LIMIT = 50_000


class VectorIndex:
    def __init__(self, path: Path, ndim: int) -> None:
        self.path = path
        self.ndim = ndim
        self.index = Index(
            ndim=ndim,
            metric="cos",
            dtype="f16",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        if path.exists():
            self.index.load(str(path))
            if self.index.ndim != ndim:
                raise ValueError(f"{path} holds {self.index.ndim}-d vectors, expected {ndim}")

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, paper_id: int) -> bool:
        return bool(self.index.contains(paper_id))

    def upsert(self, paper_ids: Sequence[int], vectors: Vectors) -> None:
        if not len(paper_ids):
            return
        self.remove(paper_ids)
        self.index.add(np.asarray(paper_ids, dtype=np.uint64), vectors.astype(np.float32))

    def remove(self, paper_ids: Iterable[int]) -> None:
        present = [pid for pid in paper_ids if self.index.contains(pid)]
        if present:
            self.index.remove(np.asarray(present, dtype=np.uint64))

    def ids(self) -> set[int]:
        return {int(k) for k in self.index.keys}

    def get(self, paper_id: int) -> Vectors | None:
        if not self.index.contains(paper_id):
            return None
        vector = self.index.get(paper_id)
        return None if vector is None else np.asarray(vector, dtype=np.float32).reshape(-1)

    def search(self, vector: Vectors, k: int) -> list[tuple[int, float]]:
        """(paper_id, cosine similarity), best first."""
        if len(self.index) == 0 or k <= 0:
            return []
        size = len(self.index)
        matches = self.index.search(
            vector.astype(np.float32), min(k, size), exact=size <= EXACT_SEARCH_LIMIT
        )
        similarities = 1.0 - np.asarray(matches.distances, dtype=np.float64)
        return list(zip(np.asarray(matches.keys).tolist(), similarities.tolist(), strict=True))

    def save(self) -> None:
        """Write atomically: readers never see a half-written file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        self.index.save(str(tmp))
        os.replace(tmp, self.path)
