"""The "For you" Recommender over a real catalog: the 200 records of the Kaggle snapshot head,
imported and embedded with the real model (MiniLM)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa

from paperfeed.db.schema import papers
from paperfeed.recommend.categories import CategoryTable
from paperfeed.recommend.service import Recommender, Weights
from paperfeed.runtime import Runtime
from tests.support.cli import Cli


@pytest.fixture
def ranked(imported: Cli, runtime: Runtime) -> Runtime:
    """The runtime over the imported catalog (the same data directory and database)."""
    assert runtime.recommender.ready()
    return runtime


def _ids(runtime: Runtime, *arxiv: str) -> list[int]:
    found = runtime.catalog.ids_for_arxiv(list(arxiv))
    return [found[a] for a in arxiv]


def _categories(runtime: Runtime) -> dict[int, str]:
    rows = runtime.catalog.get_many(_all(runtime), ("primary_category",))
    return {pid: row["primary_category"] for pid, row in rows.items()}


def _all(runtime: Runtime) -> list[int]:
    return sorted(runtime.search_store.lexical.all_ids())


def _vectors(runtime: Runtime, ids: list[int]) -> np.ndarray:
    store = runtime.search_store
    assert store.meta.dim is not None
    found, rows = store.vectors(store.meta.dim).rows(ids)
    assert found.tolist() == ids
    return np.asarray(rows, np.float32)


def test_each_recommendation_names_the_liked_paper_it_is_closest_to(ranked: Runtime) -> None:
    category = _categories(ranked)
    liked = [pid for pid in _all(ranked) if category[pid] == "hep-ph"][:3]
    liked += [pid for pid in _all(ranked) if category[pid] == "astro-ph"][:3]
    candidates = [pid for pid in _all(ranked) if pid not in liked]
    found = ranked.recommender.rank(liked, [], candidates, limit=200)
    assert len(found) == len(candidates)
    liked_rows = _vectors(ranked, liked)
    for rec in found:
        cosines = liked_rows @ _vectors(ranked, [rec.paper_id])[0]
        assert rec.because == liked[int(np.argmax(cosines))]
        assert rec.similarity == pytest.approx(float(cosines.max()), abs=1e-3)
    scores = [r.score for r in found]
    assert scores == sorted(scores, reverse=True)
    # The reader likes particle physics and astrophysics: the top ten are mostly of those.
    top = [category[r.paper_id] for r in found[:10]]
    assert sum(c in ("hep-ph", "astro-ph") for c in top) >= 7, top


def test_rated_and_excluded_papers_never_come_back(ranked: Runtime) -> None:
    every = _all(ranked)
    liked, disliked, seen = every[:5], every[5:8], every[8:30]
    found = ranked.recommender.rank(liked, disliked, every, exclude=seen, limit=500)
    returned = {r.paper_id for r in found}
    assert returned == set(every[30:])
    assert len(ranked.recommender.rank(liked, disliked, every, exclude=seen, limit=7)) == 7


def test_the_same_reader_gets_the_same_order_every_time(ranked: Runtime) -> None:
    every = _all(ranked)
    liked, candidates = every[10:14], every[20:]
    first = ranked.recommender.rank(liked, every[:3], candidates, limit=50)
    again = Recommender(lambda: ranked.search_store, ranked.catalog).rank(
        liked, every[:3], list(reversed(candidates)), limit=50
    )
    assert [(r.paper_id, r.because) for r in first] == [(r.paper_id, r.because) for r in again]
    assert [r.score for r in first] == pytest.approx([r.score for r in again])


def test_a_reader_without_likes_gets_nothing_ranked_by_taste(ranked: Runtime) -> None:
    every = _all(ranked)
    assert ranked.recommender.rank([], every[:5], every[5:], limit=10) == []
    assert ranked.recommender.rank([], [], every, limit=10) == []


def test_a_dislike_pushes_papers_like_it_down(ranked: Runtime) -> None:
    category = _categories(ranked)
    hep = [pid for pid in _all(ranked) if category[pid] == "hep-ph"]
    astro = [pid for pid in _all(ranked) if category[pid] == "astro-ph"]
    liked = [hep[0], astro[0]]
    disliked = astro[1:4]
    candidates = hep[1:] + astro[4:]
    service = Recommender(lambda: ranked.search_store, ranked.catalog, weights=Weights(words=0.0))

    def astro_rank(dislikes: list[int]) -> float:
        order = [r.paper_id for r in service.rank(liked, dislikes, candidates, limit=100)]
        return float(np.mean([order.index(pid) for pid in astro[4:]]))

    assert astro_rank(disliked) > astro_rank([]) + 3


def test_papers_without_a_vector_are_not_ranked(ranked: Runtime) -> None:
    every = _all(ranked)
    missing = max(every) + 1000  # no such paper
    found = ranked.recommender.rank(every[:3], [], [missing, *every[3:10]], limit=20)
    assert {r.paper_id for r in found} == set(every[3:10])
    assert ranked.recommender.rank([missing], [], every, limit=20) == []


def test_the_categories_signal_alone_ranks_the_liked_papers_fields_first(ranked: Runtime) -> None:
    """Meaning and words weighted 0: candidates of the primary category most of the liked
    papers have come first, then those of the next one, then the others (by paper id)."""
    category = _categories(ranked)
    every = _all(ranked)
    hep = [pid for pid in every if category[pid] == "hep-ph"]
    astro = [pid for pid in every if category[pid] == "astro-ph"]
    liked = [*hep[:2], astro[0]]
    candidates = [pid for pid in every if pid not in liked]
    only = Weights(meaning=0.0, words=0.0, categories=1.0)
    service = Recommender(lambda: ranked.search_store, ranked.catalog, weights=only)
    order = [r.paper_id for r in service.rank(liked, [], candidates, limit=500)]
    assert len(order) == len(candidates)
    first, second = hep[2:], astro[1:]
    assert order[: len(first)] == first
    assert order[len(first) : len(first) + len(second)] == second
    rest = [pid for pid in candidates if pid not in first and pid not in second]
    assert order[len(first) + len(second) :] == rest
    # The reason is still the closest liked paper (by meaning), whatever the signal.
    liked_rows = _vectors(ranked, liked)
    for rec in service.rank(liked, [], candidates, limit=20):
        cosines = liked_rows @ _vectors(ranked, [rec.paper_id])[0]
        assert rec.because == liked[int(np.argmax(cosines))]


def test_the_categories_signal_lifts_the_liked_field_in_the_blend(ranked: Runtime) -> None:
    category = _categories(ranked)
    every = _all(ranked)
    liked = [pid for pid in every if category[pid] == "hep-ph"][:3]
    candidates = [pid for pid in every if pid not in liked]

    def share(weights: Weights) -> int:
        service = Recommender(lambda: ranked.search_store, ranked.catalog, weights=weights)
        top = service.rank(liked, [], candidates, limit=20)
        return sum(category[r.paper_id] == "hep-ph" for r in top)

    assert share(Weights()) > share(Weights(categories=0.0))


def test_papers_without_categories_count_for_nothing(ranked: Runtime) -> None:
    """Papers without categories (as some sources give them): as liked papers they add no
    categories score (the ranking is that of the model without the signal), as candidates
    they are ranked like any other (a categories score of 0)."""
    category = _categories(ranked)
    every = _all(ranked)
    bare = every[::7]  # 33 papers of every field lose their categories
    with ranked.engine.begin() as conn:
        conn.execute(
            sa.update(papers)
            .where(papers.c.id.in_(bare))
            .values(categories=[], primary_category=None)
        )
    with_signal = Recommender(lambda: ranked.search_store, ranked.catalog)
    without = Recommender(
        lambda: ranked.search_store, ranked.catalog, weights=Weights(categories=0.0)
    )
    liked = bare[:3]
    candidates = [pid for pid in every if pid not in liked]
    a = with_signal.rank(liked, [], candidates, limit=500)
    b = without.rank(liked, [], candidates, limit=500)
    assert len(a) == len(candidates)
    assert [(r.paper_id, r.because) for r in a] == [(r.paper_id, r.because) for r in b]
    assert [r.score for r in a] == pytest.approx([r.score for r in b], abs=1e-5)
    # Liked papers of a field and one without categories: every candidate comes back, those
    # of the field (that kept their categories) first when only the categories signal counts.
    hep = [pid for pid in every if category[pid] == "hep-ph" and pid not in bare]
    liked = [hep[0], hep[1], bare[0]]
    candidates = [pid for pid in every if pid not in liked]
    only = Recommender(
        lambda: ranked.search_store,
        ranked.catalog,
        weights=Weights(meaning=0.0, words=0.0, categories=1.0),
    )
    order = [r.paper_id for r in only.rank(liked, [], candidates, limit=1000)]
    assert sorted(order) == sorted(candidates)
    assert order[: len(hep) - 2] == hep[2:]
    assert len(with_signal.rank(liked, [], candidates, limit=1000)) == len(candidates)


def test_the_category_table_follows_the_catalogs_changes(ranked: Runtime) -> None:
    every = _all(ranked)
    category = _categories(ranked)
    table = CategoryTable(ranked.catalog, every=10.0)
    table.refresh(now=0.0)
    ids = np.asarray(every, np.int64)
    codes = table.primary(ids)
    names = {code: name for name, code in table.codes.items()}
    assert [names[int(c)] for c in codes] == [category[pid] for pid in every]
    outside = np.asarray([-1, 0, max(every) + 1, 10**9], np.int64)
    assert table.primary(outside).tolist() == [-1, -1, -1, -1]
    # A paper moved to another category, one that lost its categories: seen at the next look.
    moved, emptied = every[0], every[1]
    later = dt.datetime(2100, 1, 1)
    with ranked.engine.begin() as conn:
        conn.execute(
            sa.update(papers)
            .where(papers.c.id == moved)
            .values(primary_category="cs.DL", categories=["cs.DL"], modified_at=later)
        )
        conn.execute(
            sa.update(papers)
            .where(papers.c.id == emptied)
            .values(primary_category=None, categories=[], modified_at=later)
        )
    table.refresh(now=5.0)  # (within 10 s of the last look: not looked)
    assert table.primary(ids[:2]).tolist() == codes[:2].tolist()
    table.refresh(now=11.0)
    found = table.primary(ids[:3])
    assert found[0] == table.codes["cs.DL"]
    assert found[1] == -1 and found[2] == codes[2]
    # A new paper (a catalog's new id, past the table's end) seen at a forced look.
    newest = max(every) + 5000
    with ranked.engine.begin() as conn:
        row = dict(conn.execute(sa.select(papers).where(papers.c.id == every[2])).mappings().one())
        row.update(id=newest, arxiv_id="2101.99999", modified_at=later + dt.timedelta(days=1))
        conn.execute(papers.insert().values(**row))
    table.refresh(now=12.0)  # (within 10 s)
    assert table.primary(np.asarray([newest], np.int64)).tolist() == [-1]
    table.refresh(now=12.0, force=True)
    assert table.primary(np.asarray([newest], np.int64)).tolist() == [codes[2]]
