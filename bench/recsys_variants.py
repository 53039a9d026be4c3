"""`python -m bench recsys-variants`: method variants of the "For you" model, each measured
beside the shipped model on the same readers in one process (figures in bench/README.md,
"For you, third round").

    python -m bench recsys-variants --readers 300            # the dev set's first 300
    python -m bench recsys-variants --check --only shipped,categories
    python -m bench recsys-variants --svm                    # also arxiv-sanity-lite's SVM

The folder is loaded as `python -m bench recsys` loads it (`RecsysEvaluation`: a temporary
catalog, the index's MiniLM vectors, cached by text), then everything works on arrays: each
paper's terms as recommend/words.py makes them (`paper_terms` over the word index's analysis),
counted sublinearly into one sparse matrix, and its vector. `shipped` re-expresses
`Recommender.rank` on those arrays (meaning: smooth maximum, sharpness 20, of the cosines to
the liked papers; words: the sum of the liked papers' unit tf-idf vectors against each
candidate's unit tf-idf vector times idf, idf over the candidates; both z-scored over the
candidates and added), and reproduces its nDCG@10 (dev, 300 readers: 0.5378 both; since the
sixth round the shipped model is `shipped + 0.5 primary category`, 0.5518 both). Every other
variant changes one thing of it; each is reported with its mean per-reader difference from
`shipped` and that difference's standard error. Metrics: `paperfeed.recommend.evaluation`'s.
`--svm` adds arxiv-sanity-lite's tf-idf SVM (bench/recsys.py's `tfidf_svm`, slow: ~2-4 s a
reader on the 2-core box) in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from bench.common import cache_dir
from bench.recsys import _cached_loader, tfidf_svm
from paperfeed.config import Settings
from paperfeed.recommend.evaluation import RecsysEvaluation, reader_metrics
from paperfeed.search.lexical import STOP_TERMS, analyze_text

Array = np.ndarray[Any, Any]
Matrix = Any  # scipy.sparse CSR


def _matrix(terms: list[list[str]]) -> tuple[Matrix, dict[str, int]]:
    """Papers x terms, values 1 + ln(count) (recommend/words.py's `Terms`)."""
    vocabulary: dict[str, int] = {}
    indptr, indices, data = [0], [], []
    for paper in terms:
        ids, counts = np.unique(
            np.asarray([vocabulary.setdefault(t, len(vocabulary)) for t in paper], np.int64),
            return_counts=True,
        )
        indices.append(ids)
        data.append(1.0 + np.log(counts))
        indptr.append(indptr[-1] + len(ids))
    shape = (len(terms), len(vocabulary))
    matrix = sp.csr_matrix((np.concatenate(data), np.concatenate(indices), indptr), shape=shape)
    return matrix, vocabulary


def _unit_rows(m: Matrix) -> Matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.diags(1.0 / norms) @ m


def paper_terms(tokens: list[str], stop: frozenset[str]) -> list[str]:
    """A paper's terms as text, as often as they occur: its content words and each adjacent
    pair of them (what search/terms.py numbers; kept as text here to vary it)."""
    kept = [t for t in tokens if t not in stop and len(t) > 1 and not t.isdigit()]
    return kept + [f"{a} {b}" for a, b in itertools.pairwise(kept)]


def z(x: Array) -> Array:
    spread = float(x.std())
    out: Array = (x - x.mean()) / (spread if spread > 0 else 1.0)
    return out


def soft_max(sims: Array, sharpness: float, weights: Array | None = None) -> Array:
    top = sims.max(axis=1, keepdims=True)
    e = np.exp(sharpness * (sims - top))
    mean = e.mean(axis=1) if weights is None else e @ (weights / weights.sum())
    out: Array = top[:, 0] + np.log(mean) / sharpness
    return out


@dataclass
class Week:
    """One list of candidates (readers of a week share it): their terms over the columns
    they hold, idf over them, unit tf-idf rows, vectors, and what variants derive from them."""

    cols: Array
    counts: Matrix  # candidates x cols, 1 + ln(count)
    idf: Array
    unit: Matrix  # unit tf-idf rows
    vectors: Array
    derived: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reader:
    liked: Array  # paper rows
    candidates: Array
    candidate_ids: list[str]
    relevant: list[str]
    week: Week | None = None


class Data:
    def __init__(self, evaluation: RecsysEvaluation, directory: Path, n: int | None) -> None:
        self.keys = list(evaluation.papers)
        row = {k: i for i, k in enumerate(self.keys)}
        store = evaluation.runtime.search_store
        assert store.meta.dim is not None
        found, rows = store.vectors(store.meta.dim).rows(
            [evaluation.paper_id[k] for k in self.keys]
        )
        if len(found) != len(self.keys):
            raise SystemExit("some papers have no vector")
        self.vectors = np.asarray(rows, np.float32)
        self.tokens = [
            analyze_text(f"{p.title}\n{p.abstract or ''}") for p in evaluation.papers.values()
        ]
        self.title_tokens = [analyze_text(p.title) for p in evaluation.papers.values()]
        self.categories: list[list[str]] = []
        by_id: dict[str, list[str]] = {}
        with (directory / "papers.jsonl").open() as lines:
            for line in lines:
                paper = json.loads(line)
                by_id[paper["id"]] = paper.get("categories") or []
        self.categories = [by_id.get(k, []) for k in self.keys]
        self.readers = [
            Reader(
                np.array([row[p] for p in r.liked]),
                np.array([row[p] for p in r.candidates]),
                r.candidates,
                r.relevant,
            )
            for r in evaluation.readers[:n]
        ]
        self.texts = [f"{p.title}\n{p.abstract or ''}" for p in evaluation.papers.values()]
        self.features: dict[str, Any] = {}  # whole-folder representations, made when asked
        self.use_terms(paper_terms)

    def use_terms(self, make: Callable[[list[str], frozenset[str]], list[str]]) -> None:
        """(Re)build the term matrices with another way of making a paper's terms."""
        self.counts, self.vocabulary = _matrix([make(t, STOP_TERMS) for t in self.tokens])
        titles = [make(t, STOP_TERMS) for t in self.title_tokens]
        ids = [[self.vocabulary.get(t, -1) for t in paper] for paper in titles]
        title_rows = [[i for i in paper if i >= 0] for paper in ids]
        shape = self.counts.shape
        indptr = np.cumsum([0] + [len(set(p)) for p in title_rows])
        cols, vals = [], []
        for paper in title_rows:
            u, c = np.unique(np.asarray(paper, np.int64), return_counts=True)
            cols.append(u)
            vals.append(1.0 + np.log(c))
        self.title_counts = sp.csr_matrix(
            (np.concatenate(vals), np.concatenate(cols), indptr), shape=shape
        )
        self.df_catalog = np.bincount(self.counts.indices, minlength=shape[1])
        self.bigram = np.zeros(shape[1], bool)
        for term, i in self.vocabulary.items():
            self.bigram[i] = " " in term
        self.weeks: dict[tuple[int, int, int], Week] = {}
        for r in self.readers:
            r.week = None

    def week(self, r: Reader) -> Week:
        if r.week is None:
            key = (len(r.candidates), int(r.candidates[0]), int(r.candidates[-1]))
            if key not in self.weeks:
                c = self.counts[r.candidates]
                cols = np.unique(c.indices)
                c = c[:, cols].tocsr()
                n = c.shape[0]
                df = np.bincount(c.indices, minlength=c.shape[1])
                idf = np.log((1 + n) / (1 + df)) + 1
                unit = _unit_rows(c @ sp.diags(idf)).tocsr()
                self.weeks[key] = Week(cols, c, idf, unit, self.vectors[r.candidates])
            r.week = self.weeks[key]
        return r.week

    def liked_counts(self, r: Reader, matrix: Matrix | None = None) -> Matrix:
        """The liked papers' counts over the week's columns."""
        w = self.week(r)
        m = (self.counts if matrix is None else matrix)[r.liked]
        return m[:, w.cols].tocsr()


Score = Callable[[Data, Reader], Array]


# -- the shipped model's two signals and their variants ---------------------------------------


def meaning(d: Data, r: Reader, sharpness: float = 20.0, weights: Array | None = None) -> Array:
    w = d.week(r)
    return soft_max(w.vectors @ d.vectors[r.liked].T, sharpness, weights)


def profile(d: Data, r: Reader, idf: Array | None = None, weights: Array | None = None) -> Array:
    """The sum of the liked papers' unit tf-idf vectors (over the week's terms)."""
    w = d.week(r)
    liked = _unit_rows(d.liked_counts(r) @ sp.diags(w.idf if idf is None else idf))
    if weights is not None:
        liked = sp.diags(weights) @ liked
    return np.asarray(liked.sum(axis=0)).ravel()


def words(d: Data, r: Reader) -> Array:
    w = d.week(r)
    out: Array = w.unit @ (profile(d, r) * w.idf)
    return out


def shipped(d: Data, r: Reader) -> Array:
    return z(meaning(d, r)) + z(words(d, r))


def with_meaning(signal: Callable[[Data, Reader], Array]) -> Callable[[Data, Reader], Array]:
    return lambda d, r: z(meaning(d, r)) + z(signal(d, r))


def words_weighted(
    power: float = 2.0, bigram: float = 1.0, length: float = 1.0, catalog_idf: bool = False
) -> Callable[[Data, Reader], Array]:
    """Words with idf^power on the candidate side, word pairs scaled, the candidate's length
    normalised by norm^length, or idf over the whole folder rather than the candidates."""

    def signal(d: Data, r: Reader) -> Array:
        w = d.week(r)
        if catalog_idf:
            n = d.counts.shape[0]
            idf = (np.log((1 + n) / (1 + d.df_catalog)) + 1)[w.cols]
        else:
            idf = w.idf
        scale = np.where(d.bigram[w.cols], bigram, 1.0) * idf
        x = w.counts @ sp.diags(scale)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        prof = profile(d, r, scale)
        out: Array = (x @ (prof * idf ** (power - 1))) / norms**length
        return out

    return signal


def words_bm25(k1: float, b: float) -> Callable[[Data, Reader], Array]:
    """The profile against each candidate's BM25 term weights (times idf: idf² as shipped)."""

    def signal(d: Data, r: Reader) -> Array:
        w = d.week(r)
        key = f"bm25 {k1} {b}"
        if key not in w.derived:
            c = w.counts.tocoo()
            counts = np.exp(c.data - 1.0)
            length = np.bincount(c.row, counts, minlength=c.shape[0])
            tf = counts * (k1 + 1) / (counts + k1 * (1 - b + b * length[c.row] / length.mean()))
            w.derived[key] = sp.csr_matrix((tf * w.idf[c.col] ** 2, (c.row, c.col)), c.shape)
        out: Array = w.derived[key] @ profile(d, r)
        return out

    return signal


def words_title_twice(d: Data, r: Reader) -> Array:
    w = d.week(r)
    if "title" not in w.derived:
        both = w.counts + d.title_counts[r.candidates][:, w.cols]
        w.derived["title"] = _unit_rows(both @ sp.diags(w.idf)).tocsr()
    liked = d.liked_counts(r) + d.liked_counts(r, d.title_counts)
    prof = np.asarray(_unit_rows(liked @ sp.diags(w.idf)).sum(axis=0)).ravel()
    out: Array = w.derived["title"] @ (prof * w.idf)
    return out


def words_minus_mean(beta: float) -> Callable[[Data, Reader], Array]:
    """The first step of a class-balanced linear model from zero: the liked papers' mean
    minus beta times the candidates' mean (over unit tf-idf rows), scored with idf again."""

    def signal(d: Data, r: Reader) -> Array:
        w = d.week(r)
        if "mean" not in w.derived:
            w.derived["mean"] = np.asarray(w.unit.mean(axis=0)).ravel()
        direction = profile(d, r) / len(r.liked) - beta * w.derived["mean"]
        out: Array = w.unit @ (direction * w.idf)
        return out

    return signal


def linear_model(kind: str, features: str, c: float) -> Callable[[Data, Reader], Array]:
    """A per-reader scikit-learn LinearSVC ("svm") or LogisticRegression ("lr"),
    class-balanced, liked papers positive and the candidates negative, over the words (unit
    tf-idf times idf), the vectors, or both side by side."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    def signal(d: Data, r: Reader) -> Array:
        w = d.week(r)
        idf = sp.diags(w.idf)
        cand_words = (w.unit @ idf).tocsr()
        liked_words = (_unit_rows(d.liked_counts(r) @ idf) @ idf).tocsr()
        liked_vectors = d.vectors[r.liked]
        cand: Any
        liked: Any
        if features == "words":
            cand, liked = cand_words, liked_words
        elif features == "vectors":
            cand, liked = w.vectors, liked_vectors
        else:
            cand = sp.hstack([cand_words, sp.csr_matrix(w.vectors)]).tocsr()
            liked = sp.hstack([liked_words, sp.csr_matrix(liked_vectors)]).tocsr()
        x = sp.vstack([liked, cand]) if sp.issparse(cand) else np.vstack([liked, cand])
        y = np.r_[np.ones(len(r.liked)), np.zeros(len(r.candidates))]
        model: Any = (
            LinearSVC(C=c, class_weight="balanced", max_iter=10_000)
            if kind == "svm"
            else LogisticRegression(C=c, class_weight="balanced", max_iter=300)
        )
        model.fit(x, y)
        out: Array = model.decision_function(cand)
        return out

    return signal


def categories_signal(primary: bool) -> Callable[[Data, Reader], Array]:
    """How many liked papers share the candidate's primary category (`primary`), or the sum
    over the candidate's categories of the liked papers in each."""

    def signal(d: Data, r: Reader) -> Array:
        cats = d.categories
        if primary:
            count = Counter(c for i in r.liked for c in cats[i][:1])
            return np.array([count[(cats[i] or [""])[0]] for i in r.candidates], float)
        count = Counter(c for i in r.liked for c in cats[i])
        return np.array([sum(count[c] for c in cats[i]) for i in r.candidates], float)

    return signal


def categories_weighted(mode: str) -> Callable[[Data, Reader], Array]:
    """The primary-category signal in other forms: `any`: liked papers holding the
    candidate's primary category among any of theirs (cross-lists count); `rare`: the count
    times the category's idf over the candidates (a count in a small field says more)."""

    def signal(d: Data, r: Reader) -> Array:
        cats = d.categories
        firsts = [(cats[i] or [""])[0] for i in r.candidates]
        if mode == "any":
            count = Counter(c for i in r.liked for c in set(cats[i]))
            return np.array([count[c] if c else 0 for c in firsts], float)
        count = Counter(c for i in r.liked for c in cats[i][:1])
        sizes = Counter(firsts)
        n = len(firsts)
        return np.array(
            [count[c] * (np.log((1 + n) / (1 + sizes[c])) + 1) if c else 0.0 for c in firsts]
        )

    return signal


def words_profile_power(power: float) -> Callable[[Data, Reader], Array]:
    """Words with the profile's weights saturated: (sum of the liked papers' vectors)^power
    (a term in every liked paper counts less than linearly)."""

    def signal(d: Data, r: Reader) -> Array:
        w = d.week(r)
        held = profile(d, r)
        saturated = np.where(held > 0, np.maximum(held, 1e-12) ** power, 0.0)
        out: Array = w.unit @ (saturated * w.idf)
        return out

    return signal


def _mean_unit(vectors: Array) -> Array:
    centre: Array = vectors.mean(axis=0)
    out: Array = centre / max(float(np.linalg.norm(centre)), 1e-12)
    return out


def words_catalog_saturated(d: Data, r: Reader) -> Array:
    """The saturated profile (0.75) with idf over the whole folder on both sides."""
    w = d.week(r)
    n = d.counts.shape[0]
    idf = (np.log((1 + n) / (1 + d.df_catalog)) + 1)[w.cols]
    x = w.counts @ sp.diags(idf)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    held = profile(d, r, idf)
    saturated = np.where(held > 0, np.maximum(held, 1e-12) ** 0.75, 0.0)
    out: Array = (x @ (saturated * idf)) / norms
    return out


def meaning_centred(sharpness: float) -> Callable[[Data, Reader], Array]:
    """Meaning with the vectors centred on the candidates' mean (their common direction
    removed, then unit length again) before the cosines and their smooth maximum."""

    def signal(d: Data, r: Reader) -> Array:
        w = d.week(r)
        if "centre" not in w.derived:
            centre = w.vectors.mean(axis=0)
            moved = w.vectors - centre
            moved /= np.maximum(np.linalg.norm(moved, axis=1, keepdims=True), 1e-12)
            w.derived["centre"], w.derived["centred"] = centre, moved
        liked = d.vectors[r.liked] - w.derived["centre"]
        liked /= np.maximum(np.linalg.norm(liked, axis=1, keepdims=True), 1e-12)
        return soft_max(w.derived["centred"] @ liked.T, sharpness)

    return signal


def now_with(meaning_signal: Callable[[Data, Reader], Array]) -> Score:
    """Today's model (meaning, saturated words, 0.5 primary category) with another meaning."""
    return lambda d, r: (
        z(meaning_signal(d, r))
        + z(words_profile_power(0.75)(d, r))
        + 0.5 * z(categories_signal(primary=True)(d, r))
    )


def now(d: Data, r: Reader) -> Array:
    """Today's model: meaning, the saturated words profile, 0.5 primary category."""
    return now_with(meaning)(d, r)


def now_interaction(gamma: float) -> Score:
    """Today's model plus gamma x the product of the meaning and words z-scores (papers
    both signals rank high gain more than papers one of them does)."""

    def score(d: Data, r: Reader) -> Array:
        m, w = z(meaning(d, r)), z(words_profile_power(0.75)(d, r))
        return m + w + 0.5 * z(categories_signal(primary=True)(d, r)) + gamma * m * w

    return score


def words_per_liked(sharpness: float) -> Callable[[Data, Reader], Array]:
    """The smooth maximum over the liked papers of the candidate's tf-idf cosine to each
    (a reader's several interests, for the words as the meaning signal does)."""

    def signal(d: Data, r: Reader) -> Array:
        w = d.week(r)
        liked = _unit_rows(d.liked_counts(r) @ sp.diags(w.idf))
        sims = np.asarray((w.unit @ liked.T).todense())
        return soft_max(sims, sharpness)

    return signal


_WORDS = r"(?u)\b\w+\b"  # every run of letters and digits, one letter long too
_VIEWS: dict[str, dict[str, Any]] = {
    "chars": {"analyzer": "char_wb", "ngram_range": (3, 5)},
    "cased": {"lowercase": False, "ngram_range": (1, 2), "token_pattern": _WORDS},
    "cased, stopwords out": {
        "lowercase": False,
        "ngram_range": (1, 2),
        "token_pattern": _WORDS,
        "stop_words": "english",
    },
    "exact": {"ngram_range": (1, 2), "token_pattern": _WORDS},
    "content, 2+ letters": {"ngram_range": (1, 2), "stop_words": "english"},
}


def _folder_features(d: Data, name: str) -> Any:
    """A representation of every paper of the folder, made once (sublinear tf-idf over the
    folder, min_df 2, unit rows, scikit-learn's vectoriser): `lsa K` (truncated SVD, K
    dimensions, of the words' tf-idf: co-occurrence learnt from the catalog itself), `chars`
    (character 3-5-grams within words), `cased` (word 1-2-grams, case, one-letter words and
    numbers kept, not stemmed), `exact` (the same lower-cased), `exact: ...` (the columns of
    `exact` whose n-gram holds a stopword / none / ..., rows unit again) and the rest of
    `_VIEWS`."""
    if name not in d.features:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

        if name.startswith("lsa "):
            n = d.counts.shape[0]
            idf = np.log((1 + n) / (1 + d.df_catalog)) + 1
            x = _unit_rows(d.counts @ sp.diags(idf)).tocsr()
            svd = TruncatedSVD(int(name.split()[1]), algorithm="randomized", random_state=0)
            z_ = svd.fit_transform(x)
            z_ /= np.maximum(np.linalg.norm(z_, axis=1, keepdims=True), 1e-12)
            d.features[name] = z_.astype(np.float32)
        elif name.startswith("exact: "):
            x = _folder_features(d, "exact")
            grams = [gram.split() for gram in d.features["exact terms"]]
            stops = [sum(w in ENGLISH_STOP_WORDS for w in gram) for gram in grams]
            sizes = [len(gram) for gram in grams]
            keep: Callable[[int, int], bool] = {
                "no stopword": lambda k, n: k == 0,
                "a stopword": lambda k, n: k > 0,
                "only stopwords": lambda k, n: k == n,
                "one stopword in a pair": lambda k, n: n == 2 and k == 1,
            }[name.removeprefix("exact: ")]
            cols = np.flatnonzero([keep(k, n) for k, n in zip(stops, sizes, strict=True)])
            d.features[name] = _unit_rows(x[:, cols]).tocsr()
        else:
            vectoriser = TfidfVectorizer(sublinear_tf=True, min_df=2, **_VIEWS[name])
            d.features[name] = vectoriser.fit_transform(d.texts).tocsr()
            d.features[f"{name} terms"] = vectoriser.get_feature_names_out()
    return d.features[name]


def folder_lsa(k: int) -> Score:
    """The smooth maximum (sharpness 20) of the LSA cosines to the liked papers."""
    return lambda d, r: soft_max(
        _folder_features(d, f"lsa {k}")[r.candidates] @ _folder_features(d, f"lsa {k}")[r.liked].T,
        20.0,
    )


def folder_profile(name: str) -> Score:
    """The saturated (0.75) sum of the liked papers' unit tf-idf rows of `name` against
    each candidate's (the words signal's form over another representation)."""

    def signal(d: Data, r: Reader) -> Array:
        x = _folder_features(d, name)
        held = np.asarray(x[r.liked].sum(axis=0)).ravel()
        saturated = np.where(held > 0, np.maximum(held, 1e-12) ** 0.75, 0.0)
        out: Array = x[r.candidates] @ saturated
        return out

    return signal


_GRID = np.array(
    [(1.0, a, b) for a in (0.5, 1.0, 2.0) for b in (0.0, 0.5, 1.0)]
    + [(1.0, 0.0, 0.5), (0.0, 1.0, 0.5)]
)  # weights of meaning, words, primary category; row 4 is today's (1, 1, 0.5)


def per_reader_weights(shrink: float) -> Score:
    """Today's three signals with weights chosen for each reader from `_GRID` by leave-one-
    out over their liked papers: each liked paper in turn is ranked among the candidates by
    the others (the candidates' signals made from the others, its own signals z-scored as
    theirs), and the weights whose mean reciprocal rank of the held-out papers is highest are
    taken, moved `shrink` of the way back towards today's."""
    default = _GRID[4]
    words_signal, category_signal = words_profile_power(0.75), categories_signal(primary=True)

    def signals(d: Data, r: Reader) -> Array:
        return np.stack([meaning(d, r), words_signal(d, r), category_signal(d, r)])

    def held_out(d: Data, r: Reader, paper: int, rest: Array) -> Array:
        w = d.week(r)
        own = soft_max(d.vectors[[paper]] @ d.vectors[rest].T, 20.0)[0]
        held = profile(d, Reader(rest, r.candidates, r.candidate_ids, r.relevant, w))
        saturated = np.where(held > 0, np.maximum(held, 1e-12) ** 0.75, 0.0)
        x = _unit_rows(d.counts[[paper]][:, w.cols] @ sp.diags(w.idf))
        first = (d.categories[paper] or [""])[0]
        shared = sum(1 for j in rest if first and (d.categories[j] or [""])[0] == first)
        return np.array([own, float((x @ (saturated * w.idf))[0]), float(shared)])

    def z_rows(m: Array) -> tuple[Array, Array]:
        spread = m.std(axis=1, keepdims=True)
        spread[spread == 0] = 1.0
        return m.mean(axis=1, keepdims=True), spread

    def score(d: Data, r: Reader) -> Array:
        liked = list(r.liked)
        reciprocal = np.zeros(len(_GRID))
        for n, paper in enumerate(liked):
            rest = np.array(liked[:n] + liked[n + 1 :])
            inner = signals(d, Reader(rest, r.candidates, r.candidate_ids, r.relevant, d.week(r)))
            centre, spread = z_rows(inner)
            own = (held_out(d, r, paper, rest) - centre[:, 0]) / spread[:, 0]
            ranks = 1 + (_GRID @ ((inner - centre) / spread) > (_GRID @ own)[:, None]).sum(1)
            reciprocal += 1.0 / ranks
        weights = _GRID[int(np.argmax(reciprocal))]
        weights = shrink * default + (1 - shrink) * weights
        full = signals(d, r)
        centre, spread = z_rows(full)
        out: Array = weights @ ((full - centre) / spread)
        return out

    return score


def shipped_categories(d: Data, r: Reader) -> Array:
    """The model as shipped since the sixth round: meaning, words, 0.5 primary category."""
    return shipped(d, r) + 0.5 * z(categories_signal(primary=True)(d, r))


def robust_z(x: Array) -> Array:
    middle = np.median(x)
    spread = float(np.median(np.abs(x - middle)))
    out: Array = (x - middle) / (spread if spread > 0 else 1.0)
    return out


def fused_by_ranks(d: Data, r: Reader) -> Array:
    out: Array = 1 / (60 + rankdata(-meaning(d, r))) + 1 / (60 + rankdata(-words(d, r)))
    return out


def confidence_weighted(d: Data, r: Reader) -> Array:
    """Each signal's z-scores weighted by the mean z-score of its own top 10."""
    total = np.zeros(len(r.candidates))
    for s in (z(meaning(d, r)), z(words(d, r))):
        total += max(float(np.sort(s)[-10:].mean()), 1e-3) * s
    return total


def per_liked_paper(sharpness: float) -> Callable[[Data, Reader], Array]:
    """Meaning and words fused per liked paper (z over all pairs), then a smooth maximum
    over the liked papers."""

    def score(d: Data, r: Reader) -> Array:
        w = d.week(r)
        liked = _unit_rows(d.liked_counts(r) @ sp.diags(w.idf))
        s_words = np.asarray((w.unit @ sp.diags(w.idf) @ liked.T).todense())
        s_meaning = w.vectors @ d.vectors[r.liked].T
        return soft_max(z(s_meaning) + z(s_words), sharpness)

    return score


def feedback(k: int, beta: float) -> Callable[[Data, Reader], Array]:
    """Pseudo-relevance feedback: both profiles moved towards the shipped top k."""

    def score(d: Data, r: Reader) -> Array:
        w = d.week(r)
        top = np.argsort(-shipped(d, r))[:k]
        prof = profile(d, r) / len(r.liked) + beta * np.asarray(w.unit[top].mean(axis=0)).ravel()
        m = meaning(d, r) + beta * (w.vectors @ w.vectors[top].mean(axis=0))
        return z(m) + z(w.unit @ (prof * w.idf))

    return score


def hubness(k: int, beta: float) -> Callable[[Data, Reader], Array]:
    """Meaning minus beta times each candidate's mean cosine to its k nearest candidates
    (CSLS-like: papers near everything count less)."""

    def score(d: Data, r: Reader) -> Array:
        w = d.week(r)
        key = f"hub {k}"
        if key not in w.derived:
            sims = w.vectors @ w.vectors.T
            np.fill_diagonal(sims, -1.0)
            w.derived[key] = np.sort(sims, axis=1)[:, -k:].mean(axis=1)
        return z(meaning(d, r) - beta * w.derived[key]) + z(words(d, r))

    return score


def recency(half_life: float) -> Callable[[Data, Reader], Array]:
    """Liked papers weighted by their place in the list (oldest first): half the weight every
    `half_life` papers back, in both signals."""

    def score(d: Data, r: Reader) -> Array:
        n = len(r.liked)
        weights = 0.5 ** ((n - 1 - np.arange(n)) / half_life)
        w = d.week(r)
        return z(meaning(d, r, weights=weights)) + z(
            w.unit @ (profile(d, r, None, weights) * w.idf)
        )

    return score


def _terms_keeping(
    digits: bool, one_letter: bool
) -> Callable[[list[str], frozenset[str]], list[str]]:
    def make(tokens: list[str], stop: frozenset[str]) -> list[str]:
        kept = [
            t
            for t in tokens
            if t not in stop and (one_letter or len(t) > 1) and (digits or not t.isdigit())
        ]
        return kept + [f"{a} {b}" for a, b in itertools.pairwise(kept)]

    return make


def _plus(base: Score, weight: float, signal: Score) -> Score:
    return lambda d, r: base(d, r) + weight * z(signal(d, r))


VARIANTS: dict[str, Score] = {
    "shipped": shipped,
    "meaning only": meaning,
    "words only": words,
    "words idf^1.5 on the candidate side": with_meaning(words_weighted(power=1.5)),
    "words idf^3 on the candidate side": with_meaning(words_weighted(power=3.0)),
    "word pairs x0.5": with_meaning(words_weighted(bigram=0.5)),
    "word pairs x2": with_meaning(words_weighted(bigram=2.0)),
    "candidate length norm^0.5": with_meaning(words_weighted(length=0.5)),
    "candidate length norm^0.75": with_meaning(words_weighted(length=0.75)),
    "idf over the whole folder": with_meaning(words_weighted(catalog_idf=True)),
    "BM25 k1 1.2 b 0.75 (idf^2)": with_meaning(words_bm25(1.2, 0.75)),
    "BM25 k1 2 b 0.75 (idf^2)": with_meaning(words_bm25(2.0, 0.75)),
    "title counted twice": with_meaning(words_title_twice),
    "words: liked mean - 0.5 candidates' mean": with_meaning(words_minus_mean(0.5)),
    "words: liked mean - 2 candidates' mean": with_meaning(words_minus_mean(2.0)),
    "SVM C 0.01 on words + meaning": with_meaning(linear_model("svm", "words", 0.01)),
    "SVM C 0.1 on words + meaning": with_meaning(linear_model("svm", "words", 0.1)),
    "LR C 10 on words + meaning": with_meaning(linear_model("lr", "words", 10.0)),
    "shipped + LR C 10 on vectors": _plus(shipped, 1.0, linear_model("lr", "vectors", 10.0)),
    "shipped + LR C 10 on words and vectors": _plus(shipped, 1.0, linear_model("lr", "both", 10.0)),
    "shipped + 0.5 primary category": _plus(shipped, 0.5, categories_signal(primary=True)),
    "shipped + 0.25 primary category": _plus(shipped, 0.25, categories_signal(primary=True)),
    "shipped + 0.25 categories": _plus(shipped, 0.25, categories_signal(primary=False)),
    "shipped + 0.5 categories": _plus(shipped, 0.5, categories_signal(primary=False)),
    "shipped + 1 primary category": _plus(shipped, 1.0, categories_signal(primary=True)),
    "with categories (shipped now)": shipped_categories,
    "with categories, any of the liked papers' categories": lambda d, r: (
        shipped(d, r) + 0.5 * z(categories_weighted("any")(d, r))
    ),
    "with categories, the count times the category's idf": lambda d, r: (
        shipped(d, r) + 0.5 * z(categories_weighted("rare")(d, r))
    ),
    "with categories, profile^0.5": lambda d, r: (
        z(meaning(d, r))
        + z(words_profile_power(0.5)(d, r))
        + 0.5 * z(categories_signal(primary=True)(d, r))
    ),
    "with categories, profile^0.75": lambda d, r: (
        z(meaning(d, r))
        + z(words_profile_power(0.75)(d, r))
        + 0.5 * z(categories_signal(primary=True)(d, r))
    ),
    "with categories, profile^0.25": lambda d, r: (
        z(meaning(d, r))
        + z(words_profile_power(0.25)(d, r))
        + 0.5 * z(categories_signal(primary=True)(d, r))
    ),
    "with categories, profile as 0/1": lambda d, r: (
        z(meaning(d, r))
        + z(words_profile_power(0.0)(d, r))
        + 0.5 * z(categories_signal(primary=True)(d, r))
    ),
    "with categories, profile^0.5, the count times the category's idf": lambda d, r: (
        z(meaning(d, r))
        + z(words_profile_power(0.5)(d, r))
        + 0.5 * z(categories_weighted("rare")(d, r))
    ),
    "now + words x1.5": lambda d, r: (
        z(meaning(d, r))
        + 1.5 * z(words_profile_power(0.75)(d, r))
        + 0.5 * z(categories_signal(primary=True)(d, r))
    ),
    "now, meaning sharpness 10": lambda d, r: (
        z(meaning(d, r, 10.0))
        + z(words_profile_power(0.75)(d, r))
        + 0.5 * z(categories_signal(primary=True)(d, r))
    ),
    "now, category counts^0.5": lambda d, r: (
        z(meaning(d, r))
        + z(words_profile_power(0.75)(d, r))
        + 0.5 * z(np.sqrt(categories_signal(primary=True)(d, r)))
    ),
    "now, idf over the whole folder": lambda d, r: (
        z(meaning(d, r))
        + z(words_catalog_saturated(d, r))
        + 0.5 * z(categories_signal(primary=True)(d, r))
    ),
    "now + 0.5 mean cosine": lambda d, r: (
        z(meaning(d, r))
        + z(words_profile_power(0.75)(d, r))
        + 0.5 * z(categories_signal(primary=True)(d, r))
        + 0.5 * z(d.week(r).vectors @ _mean_unit(d.vectors[r.liked]))
    ),
    "with categories, idf over the whole folder": lambda d, r: (
        z(meaning(d, r))
        + z(words_weighted(catalog_idf=True)(d, r))
        + 0.5 * z(categories_signal(primary=True)(d, r))
    ),
    "now, meaning centred, sharpness 20": now_with(meaning_centred(20.0)),
    "now, meaning centred, sharpness 10": now_with(meaning_centred(10.0)),
    "now, meaning centred, sharpness 5": now_with(meaning_centred(5.0)),
    "now, interaction 0.25": now_interaction(0.25),
    "now, interaction 0.5": now_interaction(0.5),
    "now, interaction 0.25, idf over the whole folder": lambda d, r: (
        z(meaning(d, r))
        + z(words_catalog_saturated(d, r))
        + 0.5 * z(categories_signal(primary=True)(d, r))
        + 0.25 * z(meaning(d, r)) * z(words_catalog_saturated(d, r))
    ),
    "now + 0.5 words per liked paper (smooth max 20)": lambda d, r: (
        now(d, r) + 0.5 * z(words_per_liked(20.0)(d, r))
    ),
    "now + 0.5 words per liked paper (smooth max 5)": lambda d, r: (
        now(d, r) + 0.5 * z(words_per_liked(5.0)(d, r))
    ),
    "robust z (median, MAD)": lambda d, r: robust_z(meaning(d, r)) + robust_z(words(d, r)),
    "reciprocal rank fusion (k 60)": fused_by_ranks,
    "weighted by each signal's top-10 z": confidence_weighted,
    "per liked paper, smooth max 1": per_liked_paper(1.0),
    "pseudo-relevance feedback, top 5, 0.3": feedback(5, 0.3),
    "hubness k 10, 1": hubness(10, 1.0),
    "hubness k 50, 0.5": hubness(50, 0.5),
    "recency, half-life 2 liked papers": recency(2.0),
    "recency, half-life 8 liked papers": recency(8.0),
    "now (today's model)": now,
    "now + 0.5 LSA 64 (smooth max 20)": _plus(now, 0.5, folder_lsa(64)),
    "now + 0.5 LSA 256 (smooth max 20)": _plus(now, 0.5, folder_lsa(256)),
    "now + 1 LSA 256 (smooth max 20)": _plus(now, 1.0, folder_lsa(256)),
    "now + 0.5 character 3-5-grams": _plus(now, 0.5, folder_profile("chars")),
    "now + 1 character 3-5-grams": _plus(now, 1.0, folder_profile("chars")),
    "now + 0.5 cased word 1-2-grams": _plus(now, 0.5, folder_profile("cased")),
    "now + 1 cased word 1-2-grams": _plus(now, 1.0, folder_profile("cased")),
    "now + 0.5 cased word 1-2-grams, stopwords out": _plus(
        now, 0.5, folder_profile("cased, stopwords out")
    ),
    "now + 0.5 exact word 1-2-grams": _plus(now, 0.5, folder_profile("exact")),
    "now + 0.5 exact, n-grams without a stopword": _plus(
        now, 0.5, folder_profile("exact: no stopword")
    ),
    "now + 0.5 exact, n-grams with a stopword": _plus(
        now, 0.5, folder_profile("exact: a stopword")
    ),
    "now + 0.5 exact, stopwords and their pairs only": _plus(
        now, 0.5, folder_profile("exact: only stopwords")
    ),
    "now + 0.5 exact, pairs with one stopword": _plus(
        now, 0.5, folder_profile("exact: one stopword in a pair")
    ),
    "now, weights per reader by leave-one-out": per_reader_weights(0.0),
    "now, weights per reader by leave-one-out, half way back": per_reader_weights(0.5),
    "now + 0.5 content word 1-2-grams (2+ letters, stopwords out)": _plus(
        now, 0.5, folder_profile("content, 2+ letters")
    ),
}


def _terms_with_skip_pairs(tokens: list[str], stop: frozenset[str]) -> list[str]:
    """Today's terms and each pair of content words one word apart ("dark _ matter")."""
    kept = [t for t in tokens if t not in stop and len(t) > 1 and not t.isdigit()]
    skips = [f"{a} _ {b}" for a, b in zip(kept, kept[2:], strict=False)]
    return paper_terms(tokens, stop) + skips


def _terms_with_raw_pairs(tokens: list[str], stop: frozenset[str]) -> list[str]:
    """Today's terms, the pairs taken over the text with its stopwords (adjacent words only:
    "dark matter", not "theory of gravity" -> "theory gravity")."""
    kept = [t for t in tokens if t not in stop and len(t) > 1 and not t.isdigit()]
    keep = set(kept)
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(tokens) if a in keep and b in keep]
    return kept + pairs


TERMS: dict[str, Callable[[list[str], frozenset[str]], list[str]]] = {
    "terms, now: + pairs one word apart": _terms_with_skip_pairs,
    "terms, now: pairs of adjacent words only": _terms_with_raw_pairs,
    "terms: one-letter words kept": _terms_keeping(digits=False, one_letter=True),
    "terms: numbers kept": _terms_keeping(digits=True, one_letter=False),
}


def _measure(d: Data, score: Score) -> Array:
    """Each reader's metrics (rows: nDCG@10, Recall@50, AUC, MRR)."""
    out = []
    for r in d.readers:
        s = np.asarray(score(d, r), np.float64)
        order = np.lexsort((np.arange(len(s)), -s))
        m = reader_metrics([r.candidate_ids[i] for i in order], r.relevant)
        out.append([m["ndcg@10"], m["recall@50"], m["auc"], m["mrr"]])
    return np.asarray(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench recsys-variants", description=__doc__)
    parser.add_argument("--dir", type=Path, default=None, help="an eval folder")
    parser.add_argument("--check", action="store_true", help="the time-split check set")
    parser.add_argument("--readers", type=int, default=None, help="only the first N readers")
    parser.add_argument("--only", default=None, help="comma-separated variant names (prefixes)")
    parser.add_argument("--svm", action="store_true", help="also arxiv-sanity-lite's SVM")
    parser.add_argument("--json", type=Path, default=None, help="per-reader nDCG@10 here")
    args = parser.parse_args(argv)
    directory = args.dir or cache_dir() / ("recsys-check" if args.check else "recsys-dev")
    with mock.patch("paperfeed.runtime.load_embedder", _cached_loader):
        evaluation = RecsysEvaluation(directory, settings=Settings(embedder="minilm"))
    try:
        d = Data(evaluation, directory, args.readers)
        svm = tfidf_svm(evaluation) if args.svm else None
        chosen = args.only.split(",") if args.only else None

        def wanted(name: str) -> bool:
            return name == "shipped" or chosen is None or any(name.startswith(c) for c in chosen)

        base = _measure(d, shipped)  # (timed again below)
        results: dict[str, Array] = {}
        print(f"{directory.name}: {len(d.readers)} readers, {len(d.keys):,} papers")
        print("| variant | nDCG@10 | Recall@50 | AUC | MRR | Δ nDCG@10 (± s.e.) | s |")
        print("|---|---|---|---|---|---|---|")

        def report(name: str, per: Array, seconds: float) -> None:
            results[name] = per
            mean = per.mean(axis=0)
            diff = per[:, 0] - base[:, 0]
            se = diff.std() / np.sqrt(len(diff))
            print(
                f"| {name} | {mean[0]:.4f} | {mean[1]:.4f} | {mean[2]:.4f} | {mean[3]:.4f} "
                f"| {diff.mean():+.4f} ± {se:.4f} | {seconds:.0f} |",
                flush=True,
            )

        if svm is not None:
            started = time.perf_counter()
            rankings = [svm(reader) for reader in evaluation.readers[: args.readers]]
            per = np.asarray(
                [
                    list(reader_metrics(ranked, reader.relevant).values())
                    for ranked, reader in zip(rankings, evaluation.readers, strict=False)
                ]
            )
            report("tf-idf SVM (arxiv-sanity-lite)", per, time.perf_counter() - started)
        for name, score in VARIANTS.items():
            if wanted(name):
                started = time.perf_counter()
                per = base if name == "shipped" else _measure(d, score)
                report(name, per, time.perf_counter() - started)
        for name, make in TERMS.items():
            if chosen is None or any(name.startswith(c) for c in chosen):
                d.use_terms(make)
                started = time.perf_counter()
                model = now if name.startswith("terms, now") else shipped
                report(name, _measure(d, model), time.perf_counter() - started)
                d.use_terms(paper_terms)
    finally:
        evaluation.close()
    if args.json:
        args.json.write_text(json.dumps({k: v[:, 0].tolist() for k, v in results.items()}))
    return 0
