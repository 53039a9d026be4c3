"""The words signal and the centres of interest (recommend/words.py, recommend/model.py) on
small inputs computed by hand, and the Recommender's kept pools and papers' words made again
when a vector or a paper's text changes (over the imported catalog of test_service.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import math

import numpy as np
import pytest
import sqlalchemy as sa

from paperfeed.db.schema import papers
from paperfeed.recommend import model
from paperfeed.recommend.service import Recommender, Weights
from paperfeed.recommend.words import PROFILE_POWER, Columns, Terms, WordPool
from paperfeed.runtime import Runtime
from paperfeed.search.terms import pair_numbers, paper_terms, word_number
from tests.recommend.test_service import _all, _vectors, ranked  # noqa: F401
from tests.support.index import forget_terms


def test_a_paper_s_terms_are_its_content_words_and_their_adjacent_pairs() -> None:
    found = paper_terms("The dark matter", "of a galaxy: 2 x dark matter")
    word = {w: word_number(w) for w in ("dark", "matter", "galaxi")}
    pairs = [("dark", "matter"), ("matter", "galaxi"), ("galaxi", "dark")]
    pair = {
        p: int(
            pair_numbers(np.asarray([word[p[0]]], np.uint64), np.asarray([word[p[1]]], np.uint64))[
                0
            ]
        )
        for p in pairs
    }
    expected = {word["dark"]: 2, word["matter"]: 2, word["galaxi"]: 1}
    expected |= {pair[("dark", "matter")]: 2, pair[("matter", "galaxi")]: 1}
    expected[pair[("galaxi", "dark")]] = 1
    assert dict(zip(found.numbers.tolist(), found.counts.tolist(), strict=True)) == expected
    assert found.numbers.tolist() == sorted(expected)
    # Stable across processes and versions (the stored numbers mean this): BLAKE2b's first
    # 8 bytes, and a pair is not its reverse.
    assert word_number("dark") == int.from_bytes(
        hashlib.blake2b(b"dark", digest_size=8).digest(), "little"
    )
    assert pair[("dark", "matter")] != int(
        pair_numbers(
            np.asarray([word["matter"]], np.uint64), np.asarray([word["dark"]], np.uint64)
        )[0]
    )


def _terms(counts: dict[int, int]) -> Terms:
    ids = np.asarray(sorted(counts), np.uint64)
    weights = np.asarray([1 + math.log(counts[i]) for i in sorted(counts)], np.float32)
    return Terms(ids, weights)


def test_word_scores_are_the_tf_idf_dot_products_computed_by_hand() -> None:
    candidates = [{1: 2, 2: 1}, {2: 1, 3: 3}, {4: 1}, {}]
    # term 9: no candidate holds it; term 1: in both liked papers (their sum saturated)
    liked = [{1: 1, 3: 1, 9: 5}, {2: 2, 1: 1}]
    pool = WordPool.of([_terms(c) for c in candidates])
    reader = pool.profile(pool.vectors([_terms(c) for c in liked]))
    found = pool.scores(reader, np.arange(len(candidates)))

    n = len(candidates)
    df = {t: sum(t in c for c in candidates) for t in (1, 2, 3, 4)}
    idf = {t: math.log((1 + n) / (1 + d)) + 1 for t, d in df.items()}

    def unit(counts: dict[int, int]) -> dict[int, float]:
        w = {t: (1 + math.log(k)) * idf[t] for t, k in counts.items() if t in idf}
        norm = math.sqrt(sum(v * v for v in w.values())) or 1.0
        return {t: v / norm for t, v in w.items()}

    profile: dict[int, float] = {}
    for counts in liked:
        for t, v in unit(counts).items():
            profile[t] = profile.get(t, 0.0) + v
    expected = [
        sum(v * idf[t] * profile.get(t, 0.0) ** PROFILE_POWER for t, v in unit(c).items())
        for c in candidates
    ]
    assert found.tolist() == pytest.approx(expected, rel=1e-5)
    assert found[2] == 0 and found[3] == 0  # nothing shared; no words at all
    assert pool.scores(reader, np.asarray([1, 0])).tolist() == pytest.approx(expected[1::-1])


def test_columns_number_term_numbers_as_they_come_and_find_them_again() -> None:
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 2**64 - 1, 5_000, dtype=np.uint64)
    columns = Columns(capacity=8)  # grown many times on the way
    first = columns.add(np.concatenate([keys[:10], keys[:10]]))  # repeats: one column each
    assert first[:10].tolist() == first[10:].tolist() and sorted(first[:10]) == list(range(10))
    every = columns.add(keys)
    assert len(columns) == 5_000 and sorted(every.tolist()) == list(range(5_000))
    assert every[:10].tolist() == first[:10].tolist()  # kept their columns
    # Keys sharing their low bits (one slot) and a key of 0.
    crowd = np.asarray([0, 1 << 40, 2 << 40, 3 << 40], np.uint64)
    placed = columns.add(crowd)
    assert placed.tolist() == list(range(5_000, 5_004))
    assert columns.find(crowd).tolist() == placed.tolist()
    assert columns.find(keys[::-1]).tolist() == every[::-1].tolist()
    unknown = rng.integers(0, 2**64 - 1, 100, dtype=np.uint64)
    assert (columns.find(unknown[~np.isin(unknown, keys)]) == -1).all()
    copy = columns.copy()
    copy.add(unknown)
    assert len(columns) == 5_004 and (columns.find(unknown[~np.isin(unknown, keys)]) == -1).all()


def test_a_moved_pool_scores_as_one_made_afresh() -> None:
    rng = np.random.default_rng(9)
    papers = [
        {int(t): int(rng.integers(1, 4)) for t in rng.choice(60, rng.integers(0, 12), False)}
        for _ in range(40)
    ]
    first = [_terms(c) for c in papers[:30]]
    second = [_terms(c) for c in [*papers[25:40], *papers[5:12], {}, papers[2], papers[0]]]
    kept = np.asarray([*range(25, 30), *[-1] * 10, *range(5, 12), -1, 2, 0])
    new = [second[i] for i in np.flatnonzero(kept < 0)]
    moved = WordPool.of(first).moved(kept, new)
    fresh = WordPool.of(second)
    liked = [_terms(c) for c in ({1: 2, 7: 1, 55: 1}, {3: 1, 99: 2}, papers[0])]
    rows = np.arange(len(second))
    assert moved.scores(moved.profile(moved.vectors(liked)), rows).tolist() == pytest.approx(
        fresh.scores(fresh.profile(fresh.vectors(liked)), rows).tolist(), abs=1e-6
    )
    assert moved.held == fresh.held


def test_centres_keep_each_paper_when_few_and_are_deterministic() -> None:
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(40, 8)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    few = model.centres(rows[:5], 16)
    assert np.array_equal(few.vectors, rows[:5]) and few.sizes.tolist() == [1.0] * 5
    many = model.centres(rows, 6)
    assert len(many.vectors) <= 6 and many.sizes.sum() == 40
    assert np.allclose(np.linalg.norm(many.vectors, axis=1), 1.0, atol=1e-5)
    again = model.centres(rows.copy(), 6)
    assert np.array_equal(many.vectors, again.vectors)
    # The smooth maximum over each paper as its own centre is the plain one.
    sims = rows[20:] @ rows[:5].T
    assert model.soft_max_centres(sims.T.copy(), few.sizes, 20.0) == pytest.approx(
        model.soft_max(sims, 20.0), abs=1e-5
    )


def test_reasons_stay_exact_with_fewer_centres_than_liked_papers(ranked: Runtime) -> None:  # noqa: F811
    every = _all(ranked)
    liked, candidates = every[:12], every[12:]
    service = Recommender(lambda: ranked.search_store, ranked.catalog, weights=Weights(centres=3))
    found = service.rank(liked, [], candidates, limit=30)
    assert len(found) == 30
    liked_rows = _vectors(ranked, liked)
    for rec in found:
        cosines = liked_rows @ _vectors(ranked, [rec.paper_id])[0]
        assert rec.because == liked[int(np.argmax(cosines))]
        assert rec.similarity == pytest.approx(float(cosines.max()), abs=1e-3)


def test_a_changed_vector_is_ranked_by_its_new_value(ranked: Runtime) -> None:  # noqa: F811
    every = _all(ranked)
    liked, candidates = every[:3], every[3:]
    service = Recommender(lambda: ranked.search_store, ranked.catalog, weights=Weights(words=0.0))
    before = service.rank(liked, [], candidates, limit=len(candidates))
    last = before[-1].paper_id  # the candidate least like the reader
    store = ranked.search_store
    assert store.meta.dim is not None
    # The candidate now has the first liked paper's vector (the index changed in place).
    store.vectors(store.meta.dim).upsert([last], _vectors(ranked, liked[:1]))
    after = service.rank(liked, [], candidates, limit=3)
    assert after[0].paper_id == last
    assert after[0].because == liked[0] and after[0].similarity == pytest.approx(1.0, abs=1e-3)


def test_a_changed_text_is_read_again(ranked: Runtime) -> None:  # noqa: F811
    every = _all(ranked)
    liked, candidates = every[:2], every[2:]
    words = Recommender(
        lambda: ranked.search_store,
        ranked.catalog,
        weights=Weights(meaning=0.0, dislikes=0.0, categories=0.0),
    )
    words.terms.changes.every = 0.0  # look at the catalog's changes on every call
    before = [r.paper_id for r in words.rank(liked, [], candidates, limit=len(candidates))]
    last = before[-1]
    text = ranked.catalog.get_many([liked[0]], ("title", "abstract"))[liked[0]]
    with ranked.engine.begin() as conn:
        newest = conn.execute(sa.select(sa.func.max(papers.c.modified_at))).scalar_one()
        conn.execute(
            papers.update()
            .where(papers.c.id == last)
            .values(
                title=text["title"],
                abstract=text["abstract"],
                modified_at=newest + dt.timedelta(seconds=1),
            )
        )
    after = [r.paper_id for r in words.rank(liked, [], candidates, limit=3)]
    assert after[0] == last  # now the liked paper's own words


def test_a_moved_list_ranks_as_a_fresh_one(ranked: Runtime) -> None:  # noqa: F811
    """The next list (papers in, papers out) reuses the rows and words kept for the last one
    and ranks exactly as a process that never saw it."""
    every = _all(ranked)
    liked, disliked = every[:4], every[4:6]
    first, moved = every[6:150], [*every[20:], max(every) + 1000]  # (no such paper)
    kept = Recommender(lambda: ranked.search_store, ranked.catalog)
    kept.rank(liked, disliked, first, limit=10)
    again = kept.rank(liked, disliked, moved, limit=60)
    fresh = Recommender(lambda: ranked.search_store, ranked.catalog).rank(
        liked, disliked, moved, limit=60
    )
    assert [(r.paper_id, r.because) for r in again] == [(r.paper_id, r.because) for r in fresh]
    assert [r.score for r in again] == pytest.approx([r.score for r in fresh], abs=1e-5)


def test_a_ranking_reads_each_paper_s_stored_terms_not_its_text(ranked: Runtime) -> None:  # noqa: F811
    """The words come from the index's term store: with every text in the catalog replaced
    behind the index's back, a new process ranks as before; an index without the store (as
    older versions wrote it) falls back to the catalog's text."""
    every = _all(ranked)
    liked, candidates = every[:3], every[3:]

    def order() -> list[int]:
        words = Recommender(
            lambda: ranked.search_store,
            ranked.catalog,
            weights=Weights(meaning=0, dislikes=0, categories=0),
        )
        return [r.paper_id for r in words.rank(liked, [], candidates, limit=len(candidates))]

    before = order()
    assert before != candidates  # (the words tell the candidates apart)
    with ranked.engine.begin() as conn:  # the same text everywhere, modified_at kept
        conn.execute(papers.update().values(title="Nothing", abstract=""))
    assert order() == before
    forget_terms(ranked.search_store.terms)
    assert order() == candidates  # every candidate alike: ties by paper id
