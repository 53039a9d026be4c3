"""The vector index: approximate nearest neighbours (HNSW, usearch) over paper embeddings,
and a table of the same vectors by paper id for exact similarities of given papers.

Vectors are L2-normalised, so cosine similarity = 1 - cosine distance = a dot product. Both
files are derived data: `paperfeed index build` recreates them from the embeddings in the
catalog."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numkong
import numpy as np
import numpy.typing as npt

# usearch's compiled module makes a later `import onnxruntime` crash the process (segfault;
# usearch 2.26, onnxruntime 1.32): onnxruntime must be loaded first. The numkong package
# alone, imported above, does not.
import onnxruntime  # noqa: F401
from usearch.compiled import ScalarKind
from usearch.index import Index

Vectors = npt.NDArray[np.float32]

# HNSW parameters, measured at a million generated papers for the 300 neighbours a hybrid
# search asks for (bench/README.md): the graph stores bfloat16, whose dot products run on
# AVX-512 BF16 (Zen 4, Sapphire Rapids) and elsewhere still in SIMD. Against float16 with a
# beam of 256 it searches a beam of 400 faster (1.7 against 2.1 ms) with better recall (top
# 10: 0.81 against 0.80; top 300: 0.64 against 0.62) and builds in about half the time;
# inside a whole hybrid search the step costs about the same either way. Graphs written
# before keep their float16 and their beam until `paperfeed index build` rewrites them.
CONNECTIVITY = 32
EXPANSION_ADD = 128
DTYPE = ScalarKind.BF16
EXPANSION_SEARCH = {ScalarKind.BF16: 400, ScalarKind.F16: 256}  # by the graph's scalar type
# Below this many vectors, search compares the query with every vector. HNSW is approximate
# even when asked for more neighbours than the index holds (a 250-vector graph, built by
# several threads, returned as little as 98.4% of itself, so a paper could vanish from the
# candidates by chance), and for 1,000 candidates exact search is faster anyway up to ~100k
# vectors (50k: 3.5 ms against 8.5 ms; bench/README.md).
EXACT_SEARCH_LIMIT = 50_000
_GROWTH = 1.25  # the by-id table grows by a quarter when an id falls past its end
# Changes to a memory-mapped table are kept aside up to this many papers (a web process that
# indexes one submitted paper must not copy a table of millions of rows); past it, the
# process takes a private copy of the table (an indexer loading many vectors).
_OVERLAY_LIMIT = 20_000
_VERSIONS = itertools.count()


def _table_path(path: Path) -> Path:
    return path.with_name(path.name + ".byid.npy")


def _new_index(ndim: int) -> Index:
    return Index(
        ndim=ndim,
        metric="cos",
        dtype=DTYPE,
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH[DTYPE],
    )


def _set_beam(index: Index) -> None:
    """The search beam for the graph's own scalar type (a file keeps the type it was written
    with, whatever the Index object asked for)."""
    beam = EXPANSION_SEARCH.get(index.dtype, EXPANSION_SEARCH[ScalarKind.F16])
    index.expansion_search = beam  # type: ignore[misc]  # has a setter


class VectorIndex:
    """`path` holds the HNSW graph (usearch); `<path>.byid.npy` the vectors in float16, row =
    paper id, a zero row where a paper has none.

    Both files are memory-mapped read-only, so server processes share one copy in the page
    cache and a process opens a million-vector graph in ~0.2 s (reading it in took ~1 s and
    1.1 GB of private memory per process). The first change loads the graph into memory
    (`_writable`: usearch cannot change a mapped graph, and removing from one crashes the
    process); changes to the table are kept aside until they are many (see _OVERLAY_LIMIT).
    Gathering and scoring a thousand rows takes ~0.4 ms at a million papers; usearch's `get`
    alone takes ~2 ms for them."""

    def __init__(self, path: Path, ndim: int) -> None:
        self.path = path
        self.ndim = ndim
        self.table_path = _table_path(path)
        self.index = _new_index(ndim)
        self._mapped = path.exists()
        self._beams: dict[int, Index] = {}  # other views of the mapped graph, by their beam
        self._mapped_inode = 0
        if self._mapped:
            self._mapped_inode = path.stat().st_ino
            self.index.view(str(path))
            if self.index.ndim != ndim:
                raise ValueError(f"{path} holds {self.index.ndim}-d vectors, expected {ndim}")
            _set_beam(self.index)
        self._table = self._load_table()
        self._table_private = False
        self._overlay: dict[int, npt.NDArray[np.float16] | None] = {}  # None: removed
        # Another number after every change of a vector, unique among VectorIndex objects
        # of the process: what was read from one is still true while its version is.
        self.version = next(_VERSIONS)

    def _load_table(self) -> npt.NDArray[np.float16]:
        keys = np.asarray(self.index.keys, dtype=np.int64) if len(self.index) else None
        if self.table_path.exists() and self.path.exists():
            table: npt.NDArray[np.float16] = np.load(self.table_path, mmap_mode="r")
            if (
                table.ndim == 2
                and table.shape[1] == self.ndim
                and table.dtype == np.float16
                and (keys is None or int(keys.max()) < len(table))
            ):
                return table
        # An index saved before the table existed (or a table that does not fit the graph):
        # rebuild it from the graph's own vectors, ~6 s per million; the next save writes it.
        table = np.zeros((0, self.ndim), dtype=np.float16)
        if keys is not None:
            table = np.zeros((int(keys.max()) + 1, self.ndim), dtype=np.float16)
            for start in range(0, len(keys), 65_536):
                chunk = keys[start : start + 65_536]
                table[chunk] = np.asarray(self.index.get(chunk.astype(np.uint64)), np.float16)
        return table

    def _set_rows(self, paper_ids: Sequence[int], rows: npt.NDArray[np.float16] | None) -> None:
        """Record the papers' vectors (None: they have none any more) in the by-id table."""
        self.version = next(_VERSIONS)
        if not self._table_private and len(self._overlay) + len(paper_ids) <= _OVERLAY_LIMIT:
            for n, pid in enumerate(paper_ids):
                self._overlay[pid] = None if rows is None else rows[n]
            return
        table = self._private_table(max(paper_ids))
        table[np.asarray(paper_ids, dtype=np.int64)] = 0 if rows is None else rows

    def _private_table(self, top_id: int) -> npt.NDArray[np.float16]:
        top_id = max(top_id, *self._overlay) if self._overlay else top_id
        if not self._table_private or top_id >= len(self._table):
            rows = max(len(self._table), top_id + 1)
            if top_id >= len(self._table):
                rows = max(rows, int(len(self._table) * _GROWTH))
            table = np.zeros((rows, self.ndim), dtype=np.float16)
            table[: len(self._table)] = self._table
            self._table, self._table_private = table, True
        self._apply_overlay(self._table)
        self._overlay.clear()
        return self._table

    def _apply_overlay(self, table: npt.NDArray[np.float16]) -> None:
        for pid, row in self._overlay.items():
            table[pid] = 0 if row is None else row

    def _write_table(self, path: Path) -> None:
        """The table with the changes kept aside applied, written in slices: a process that
        changed a few rows of a memory-mapped table never holds a copy of all of it."""
        rows = max(len(self._table), max(self._overlay, default=-1) + 1)
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(rows, self.ndim))
        for start in range(0, len(self._table), 65_536):
            part = self._table[start : start + 65_536]
            out[start : start + len(part)] = part
        self._apply_overlay(out)
        out.flush()
        del out

    @staticmethod
    def delete_files(path: Path) -> None:
        """Remove an index's files (the graph and the by-id table)."""
        path.unlink(missing_ok=True)
        _table_path(path).unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, paper_id: int) -> bool:
        return bool(self.index.contains(paper_id))

    def _writable(self) -> Index:
        """The graph, loaded into memory before its first change (see the class docstring)."""
        if self._mapped:
            loaded = _new_index(self.ndim)
            loaded.load(str(self.path))
            _set_beam(loaded)
            self.index, self._mapped = loaded, False
        return self.index

    def upsert(self, paper_ids: Sequence[int], vectors: Vectors) -> None:
        if not len(paper_ids):
            return
        self.remove(paper_ids)
        ids = np.asarray(paper_ids, dtype=np.uint64)
        self._writable().add(ids, vectors.astype(np.float32))
        self._set_rows(list(paper_ids), vectors.astype(np.float16))

    def holding(
        self, paper_ids: Sequence[int], rows: npt.NDArray[np.float16]
    ) -> npt.NDArray[np.bool_]:
        """Which of the papers the index holds with exactly these vectors (float16 rows, as
        the catalog stores them): what loading them again would not change. (A process
        killed between the two renames of `save` leaves the new table beside the old graph:
        a paper then keeps its old place in the graph, and is scored by its new vector.)"""
        ids, held = self._gather(paper_ids)
        same: npt.NDArray[np.bool_] = (held.view(np.uint16) == rows.view(np.uint16)).all(axis=1)
        if same.any():
            inside = np.asarray(self.index.contains(ids.astype(np.uint64)), dtype=bool)
            same &= inside.reshape(-1)
        return same

    def remove(self, paper_ids: Iterable[int]) -> None:
        present = [pid for pid in paper_ids if self.index.contains(pid)]
        if present:
            self._writable().remove(np.asarray(present, dtype=np.uint64))
            self._set_rows(present, None)

    def ids(self) -> set[int]:
        return {int(k) for k in self.index.keys}

    def get(self, paper_id: int) -> Vectors | None:
        if not self.index.contains(paper_id):
            return None
        vector = self.index.get(paper_id)
        return None if vector is None else np.asarray(vector, dtype=np.float32).reshape(-1)

    def search(
        self, vector: Vectors, k: int, *, beam: int | None = None
    ) -> list[tuple[int, float]]:
        """(paper_id, cosine similarity), best first. `beam`: a search beam other than the
        graph's own for this search (a few neighbours need a narrower one)."""
        if len(self.index) == 0 or k <= 0:
            return []
        size = len(self.index)
        graph = self.index if beam is None else self._with_beam(beam)
        matches = graph.search(
            vector.astype(np.float32), min(k, size), exact=size <= EXACT_SEARCH_LIMIT
        )
        similarities = 1.0 - np.asarray(matches.distances, dtype=np.float64)
        return list(zip(np.asarray(matches.keys).tolist(), similarities.tolist(), strict=True))

    def _with_beam(self, beam: int) -> Index:
        """The graph searched with `beam`: a second read-only view of the mapped file, made
        once (the beam is a setting of the view, not of one search, and other threads search
        the first view at the same time). A graph this process changed, or a file replaced
        since it was mapped, is searched with its own beam."""
        if not self._mapped:
            return self.index
        graph = self._beams.get(beam)
        if graph is None:
            graph = _new_index(self.ndim)
            try:
                if self.path.stat().st_ino != self._mapped_inode:
                    return self.index
                graph.view(str(self.path))
                if self.path.stat().st_ino != self._mapped_inode:  # replaced meanwhile
                    return self.index
            except (OSError, RuntimeError):
                return self.index
            graph.expansion_search = beam  # type: ignore[misc]  # has a setter
            self._beams[beam] = graph
        return graph

    def rows(
        self, paper_ids: Sequence[int]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float16]]:
        """The stored vectors of the given papers that have one: the papers (in the given
        order, those without a vector left out) and their rows (float16, L2-normalised)."""
        ids, rows = self._gather(paper_ids)
        present = rows.view(np.uint16).any(axis=1)  # (on the raw bits: 3x faster than floats)
        return ids[present], rows[present]

    def _gather(
        self, paper_ids: Sequence[int]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float16]]:
        """The given papers' rows of the table (zero rows for papers without a vector)."""
        ids = np.fromiter(paper_ids, np.int64, len(paper_ids))
        ids = ids[ids >= 0]
        inside = ids < len(self._table)
        if inside.all():
            rows = self._table[ids]
        else:
            rows = np.zeros((len(ids), self.ndim), dtype=np.float16)
            rows[inside] = self._table[ids[inside]]
        if self._overlay:
            for n, pid in enumerate(ids.tolist()):
                if pid in self._overlay:
                    row = self._overlay[pid]
                    rows[n] = 0 if row is None else row
        return ids, rows

    def similarities(
        self, vector: Vectors, paper_ids: Sequence[int]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Exact cosine similarity of the query to each given paper that has a vector: the
        papers (in the given order, those without a vector left out) and their scores."""
        ids, rows = self._gather(paper_ids)
        if not len(rows):
            return ids, np.zeros(0, dtype=np.float64)
        present = rows.view(np.uint16).any(axis=1)  # (on the raw bits: 3x faster than floats)
        # numkong (usearch's SIMD kernels) takes the float16 rows as they are: numpy's
        # float16-to-float32 conversion alone took 0.7 ms for 1,000 rows, numkong 0.05 ms.
        query = np.asarray(vector, dtype=np.float16).reshape(1, -1)
        scores = np.asarray(numkong.cdist(rows, query, metric="dot")).reshape(-1)
        return ids[present], scores[present]

    def save(self) -> None:
        """Write atomically: readers never see a half-written file."""
        if self._mapped and isinstance(self._table, np.memmap):
            return  # unchanged: both are still the files' own maps
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        self._writable().save(str(tmp))
        table_tmp = self.table_path.with_name(self.table_path.name + ".tmp")
        self._write_table(table_tmp)
        # The table first: a reader between the two renames pairs the old graph with the new
        # table, which only scores by the newer vectors.
        os.replace(table_tmp, self.table_path)
        os.replace(tmp, self.path)
