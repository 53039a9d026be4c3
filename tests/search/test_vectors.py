"""The vector index (usearch): what search promises beyond approximate neighbours."""

import os
from pathlib import Path

import numpy as np
import onnxruntime  # noqa: F401  (must load before usearch; see paperfeed.search.vectors)
import pytest

from paperfeed.search import vectors
from paperfeed.search.vectors import EXACT_SEARCH_LIMIT, VectorIndex


def _clustered(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    vectors = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.normal(size=(n, 384))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_a_small_index_returns_every_vector_in_exact_order(tmp_path: Path) -> None:
    """Asked for at least as many neighbours as it holds, a small index returns all of them,
    best first, also after papers were re-embedded (removed and added again). An HNSW graph
    alone lost up to 1.6% of a 250-vector index this way, varying from run to run."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(20, 384))
    index = VectorIndex(tmp_path / "v.usearch", 384)
    ids = list(range(1, 301))
    index.upsert(ids, _clustered(rng, centres, len(ids)))
    for _ in range(3):
        changed = [int(i) for i in rng.choice(ids, 60, replace=False)]
        index.upsert(changed, _clustered(rng, centres, len(changed)))
    stored = np.stack([index.get(pid) for pid in ids])  # type: ignore[misc]
    assert len(index) <= EXACT_SEARCH_LIMIT
    for query in _clustered(rng, centres, 40):
        found = index.search(query, 1000)
        assert sorted(pid for pid, _ in found) == ids
        expected = stored @ query
        scores = [score for _, score in found]
        assert scores == sorted(scores, reverse=True)
        assert abs(scores[0] - expected.max()) < 2e-3  # f16 storage


def test_exact_similarities_by_paper_id_follow_changes_and_survive_a_reload(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(5, 384))
    path = tmp_path / "v.usearch"
    index = VectorIndex(path, 384)
    vectors = _clustered(rng, centres, 40)
    index.upsert(list(range(1, 41)), vectors)
    index.upsert([500], _clustered(rng, centres, 1))  # past the table's end: it grows
    query = _clustered(rng, centres, 1)[0]

    ids, scores = index.similarities(query, [7, 3, 9999, -1, 500, 41])
    assert ids.tolist() == [7, 3, 500]  # unknown ids left out, order kept
    assert scores[:2] == pytest.approx(vectors[[6, 2]] @ query, abs=2e-3)  # f16 storage

    index.remove([3])
    changed = _clustered(rng, centres, 1)
    index.upsert([7], changed)
    ids, scores = index.similarities(query, [7, 3])
    assert ids.tolist() == [7]
    assert scores[0] == pytest.approx(float(changed[0] @ query), abs=2e-3)
    index.save()

    reloaded = VectorIndex(path, 384)
    assert reloaded.table_path.exists()
    ids2, scores2 = reloaded.similarities(query, [7, 3, 500, 12])
    assert ids2.tolist() == [7, 500, 12]
    assert dict(zip(ids2.tolist(), scores2.tolist(), strict=True))[7] == pytest.approx(scores[0])
    # The search's own scores and the exact ones agree.
    for pid, score in reloaded.search(query, 5):
        assert reloaded.similarities(query, [pid])[1][0] == pytest.approx(score, abs=2e-3)

    # An index saved before the table existed: the table is rebuilt from the graph.
    reloaded.table_path.unlink()
    rebuilt = VectorIndex(path, 384)
    ids3, scores3 = rebuilt.similarities(query, [7, 3, 500, 12])
    assert ids3.tolist() == ids2.tolist()
    assert scores3 == pytest.approx(scores2, abs=2e-3)  # the graph's bfloat16 values


def test_a_table_without_its_graph_is_not_used_and_delete_files_removes_both(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(5)
    path = tmp_path / "v.usearch"
    index = VectorIndex(path, 384)
    index.upsert([1, 2, 3], _clustered(rng, rng.normal(size=(2, 384)), 3))
    index.save()
    query = _clustered(rng, rng.normal(size=(2, 384)), 1)[0]
    path.unlink()  # e.g. a model change dropped the graph: its vectors must not linger
    assert VectorIndex(path, 384).similarities(query, [1, 2, 3])[0].tolist() == []
    index.save()
    VectorIndex.delete_files(path)
    assert not path.exists() and not index.table_path.exists()


def test_a_few_changes_to_a_mapped_table_are_kept_aside_and_saved(tmp_path: Path) -> None:
    """A server process that indexes one submitted paper must not copy the whole table: its
    changes stay beside the memory-mapped table until it is saved."""
    rng = np.random.default_rng(9)
    centres = rng.normal(size=(3, 384))
    path = tmp_path / "v.usearch"
    index = VectorIndex(path, 384)
    index.upsert(list(range(1, 101)), _clustered(rng, centres, 100))
    index.save()
    serving = VectorIndex(path, 384)
    assert isinstance(serving._table, np.memmap)
    new = _clustered(rng, centres, 2)
    serving.upsert([5, 400], new)  # one changed, one past the table's end
    serving.remove([6])
    assert isinstance(serving._table, np.memmap)  # no private copy
    query = _clustered(rng, centres, 1)[0]
    ids, scores = serving.similarities(query, [400, 6, 5, 7])
    assert ids.tolist() == [400, 5, 7]
    assert scores[:2] == pytest.approx(new[[1, 0]] @ query, abs=2e-3)
    serving.save()
    reloaded = VectorIndex(path, 384)
    ids2, scores2 = reloaded.similarities(query, [400, 6, 5, 7])
    assert ids2.tolist() == [400, 5, 7]
    assert scores2 == pytest.approx(scores)
    assert len(reloaded._table) == 401


def test_an_opened_index_is_mapped_and_loaded_only_to_change_it(tmp_path: Path) -> None:
    """Readers map the graph (shared, instant); the first change loads it: usearch cannot
    change a mapped graph (removing from one crashed the process). Saving an unchanged index
    rewrites nothing; readers that mapped the old files keep answering after a save."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(4, 384))
    path = tmp_path / "v.usearch"
    writer = VectorIndex(path, 384)
    first = _clustered(rng, centres, 50)
    writer.upsert(list(range(1, 51)), first)
    writer.save()

    reader = VectorIndex(path, 384)
    early = VectorIndex(path, 384)
    assert reader._mapped and early._mapped and len(reader) == 50
    stamp = path.stat().st_mtime_ns
    reader.save()
    assert path.stat().st_mtime_ns == stamp

    changed = _clustered(rng, centres, 2)
    reader.remove([1])
    reader.upsert([2, 99], changed)
    assert not reader._mapped
    assert 1 not in reader and 99 in reader and len(reader) == 50
    reader.save()

    again = VectorIndex(path, 384)
    assert again._mapped and 1 not in again and len(again) == 50
    found = dict(again.search(changed[1], 3))
    assert found[99] == pytest.approx(1.0, abs=2e-3)
    assert again.get(2) == pytest.approx(changed[0], abs=2e-3)
    # A reader opened before the save still answers from the files it mapped.
    assert early._mapped and 1 in early
    assert early.search(first[0], 1)[0][0] == 1
    assert early.similarities(first[0], [1])[1][0] == pytest.approx(1.0, abs=2e-3)


def test_new_graphs_store_bfloat16_and_older_float16_graphs_keep_working(tmp_path: Path) -> None:
    from usearch.compiled import ScalarKind
    from usearch.index import Index

    rng = np.random.default_rng(5)
    centres = rng.normal(size=(4, 384))
    vectors = _clustered(rng, centres, 50)
    fresh = VectorIndex(tmp_path / "new.usearch", 384)
    fresh.upsert(list(range(50)), vectors)
    fresh.save()
    reopened = VectorIndex(tmp_path / "new.usearch", 384)
    assert reopened.index.dtype == ScalarKind.BF16
    assert reopened.index.expansion_search == 400

    old = Index(ndim=384, metric="cos", dtype="f16", connectivity=32)
    old.add(np.arange(50, dtype=np.uint64), vectors)
    old.save(str(tmp_path / "old.usearch"))
    opened = VectorIndex(tmp_path / "old.usearch", 384)  # mapped, no by-id table yet
    assert opened.index.dtype == ScalarKind.F16
    assert opened.index.expansion_search == 256
    found = opened.search(vectors[7], 3)
    assert found[0][0] == 7 and found[0][1] == pytest.approx(1.0, abs=2e-3)
    opened.upsert([60], vectors[:1])  # loaded to change it: still float16, same beam
    assert opened.index.dtype == ScalarKind.F16
    assert opened.index.expansion_search == 256
    assert [pid for pid, _ in opened.search(vectors[0], 2)] in ([0, 60], [60, 0])


def test_a_search_with_its_own_beam_searches_a_second_view_of_the_mapped_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The beam is a setting of a graph, not of one search: a narrower one is a second view of
    the mapped file, and the first keeps its own. A graph this process changed, or a file
    replaced since it was mapped, is searched with the graph's own beam."""
    monkeypatch.setattr(vectors, "EXACT_SEARCH_LIMIT", 0)  # the graph, not exact search
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(10, 384))
    path = tmp_path / "v.usearch"
    built = VectorIndex(path, 384)
    stored = _clustered(rng, centres, 500)
    built.upsert(list(range(1, 501)), stored)
    built.save()
    index = VectorIndex(path, 384)
    query = _clustered(rng, centres, 1)[0]
    best = {int(i) + 1 for i in np.argsort(-(stored @ query))[:10]}
    narrow = index.search(query, 10, beam=64)
    assert len(narrow) == 10 and len(best & {pid for pid, _ in narrow}) >= 8
    view = index._with_beam(64)
    assert view is not index.index and view is index._with_beam(64)
    assert view.expansion_search == 64
    assert index.index.expansion_search == vectors.EXPANSION_SEARCH[vectors.DTYPE]
    other = VectorIndex(tmp_path / "w.usearch", 384)
    other.upsert([1], _clustered(rng, centres, 1))
    other.save()
    os.replace(tmp_path / "w.usearch", path)  # an indexer wrote a new graph
    assert index._with_beam(32) is index.index
    assert len(index.search(query, 10, beam=32)) == 10  # the mapped graph, its own beam
    changed = VectorIndex(tmp_path / "w.usearch", 384)
    changed.upsert([1, 2], _clustered(rng, centres, 2))
    assert changed._with_beam(16) is changed.index  # in memory, not mapped


def test_threads_opening_a_store_s_vector_index_at_once_share_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two rankings starting together (a process's first two requests) must not each open an
    index of their own: what is kept per index version (For you's pools) was made twice. The
    first opening is held until a second one starts or 0.3 s have passed: with the store's
    lock, none does."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from paperfeed.search import store as store_module
    from paperfeed.search.store import IndexMeta, SearchStore

    opened: list[VectorIndex] = []
    second = threading.Event()

    class Counted(VectorIndex):
        def __init__(self, path: Path, dim: int) -> None:
            opened.append(self)
            if len(opened) == 1:
                second.wait(timeout=0.3)
            else:
                second.set()
            super().__init__(path, dim)

    monkeypatch.setattr(store_module, "VectorIndex", Counted)
    store = SearchStore(tmp_path, "gen", IndexMeta(generation="gen", dim=4))
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda _: store.vectors(4), range(4)))
    assert len(opened) == 1
    assert all(index is opened[0] for index in found)
