"""SearchService: hybrid search and similar papers, shared by the CLI, web app and API."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from paperfeed.papers.catalog import Catalog
from paperfeed.papers.ids import public_id
from paperfeed.search.embedder import Embedder, document_text
from paperfeed.search.fusion import dbsf_blend, dbsf_scores
from paperfeed.search.lexical import STOPWORDS, LexicalIndex
from paperfeed.search.query import ParsedQuery, parse_query
from paperfeed.search.snippets import Snippet, make_snippet
from paperfeed.search.store import SearchStore
from paperfeed.search.vectors import VectorIndex, Vectors

Sort = Literal["relevance", "date"]
MAX_LIMIT = 200
MAX_OFFSET = 10_000
# The cosine similarity (query to title + abstract, MiniLM) a paper that does not hold every
# content word of the query needs to count as a match (measured by `python -m bench floor`,
# figures in bench/README.md). Found by meaning alone (no word in common): above the best
# match of every nonsense query measured (at most 0.43). Holding some of the words: as close
# as 95% of SciFact's relevant documents (and three quarters of the arXiv papers holding
# every word of a query), so that sharing one word is not enough.
MEANING_FLOOR = 0.45
SOME_WORDS_FLOOR = 0.30
HIT_COLUMNS = ("arxiv_id", "title", "abstract", "authors", "categories", "submitted_at")
# Query vectors kept by a process (the most recently used; setting `search_query_vectors`):
# the same query comes again with its next page, from the API after the page, from every
# reader of a saved search's feed and from the digests, and embedding it is about a quarter of
# a hybrid search's CPU.
QUERY_VECTORS = 2048


class QueryVectors:
    """The vectors of the queries last embedded, by model and text (thread-safe)."""

    def __init__(self, size: int = QUERY_VECTORS) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, str], Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, embedder: Embedder, text: str) -> Vectors:
        if self.size <= 0:
            return embedder.embed_query(text)
        key = (embedder.name, text)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        vector = embedder.embed_query(text)
        vector.setflags(write=False)  # (shared by every search of the text)
        with self._lock:
            self._kept[key] = vector
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return vector


@dataclass(frozen=True)
class SearchHit:
    paper_id: int
    arxiv_id: str | None
    title: str
    authors: list[str]
    categories: list[str]
    submitted_at: dt.datetime | None
    score: float
    snippet: Snippet | None
    matched_by: str  # "id", "words", "meaning" or "words+meaning"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": public_id(self.arxiv_id, self.paper_id),
            "paper_id": self.paper_id,
            "title": self.title,
            "authors": self.authors,
            "categories": self.categories,
            "submitted": self.submitted_at.date().isoformat() if self.submitted_at else None,
            "score": round(self.score, 6),
            "snippet": self.snippet.text if self.snippet else None,
            "snippet_html": self.snippet.html if self.snippet else None,
            "matched_by": self.matched_by,
        }


@dataclass
class SearchResults:
    query: ParsedQuery
    # The page: (paper id, score, matched by), best first. `hits` adds each paper's catalog
    # fields and snippet; a caller that reads the papers itself asks for none (fetch=False).
    ranked: list[tuple[int, float, str]] = field(default_factory=list)
    hits: list[SearchHit] = field(default_factory=list)
    # The relevant set's size, the same in both orders: papers holding every content word of
    # the query, and candidates close enough in meaning (SOME_WORDS_FLOOR, MEANING_FLOOR).
    total: int = 0
    # How many of them this order can list (relevance: the fused candidates; date: all).
    listed: int = 0
    missing_ids: list[str] = field(default_factory=list)  # named arXiv ids not in the catalog
    notices: list[str] = field(default_factory=list)
    took_ms: float = 0.0
    # Seconds spent per stage: `queue` (waiting for a search slot), `lexical` (BM25),
    # `embed` (the query's vector), `vectors` (nearest neighbours and exact scores), `fusion`,
    # `fetch` (papers and snippets); a stage a search did not run is absent. A hybrid search
    # runs `embed` and the first of `vectors` beside `lexical` (another thread): they overlap.
    stages: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - started


MEANING_NOT_READY = (
    "search by meaning is not ready yet (new papers are still being processed); showing "
    "papers that match the words only"
)


def missing_notice(arxiv_id: str) -> str:
    return f"arXiv:{arxiv_id} is not in the catalog"


@dataclass
class Relevant:
    """A query's relevant set: `ranked` (best first, as far as the candidates reach) and
    `total`. `also` lists the papers that are in it by meaning; the others hold every content
    word of the query (`every_word`). `also=None`: the set is every paper holding any of the
    words (no floor)."""

    ranked: list[tuple[int, float]]
    total: int
    also: list[int] | None
    every_word: bool
    # How far the relevance order reaches: the fused candidates; words alone reach all.
    reach: int | None = None

    def members(self, lexical: LexicalIndex, query: ParsedQuery, papers: list[int]) -> set[int]:
        """Which of `papers` are in the set (without a floor: as far as it is ranked)."""
        inside = {pid for pid, _ in self.ranked}.union(self.also or ())
        if self.every_word and papers:
            inside |= lexical.holding_every_word(query, papers)
        return inside.intersection(papers)

    def by_date(
        self, lexical: LexicalIndex, query: ParsedQuery, depth: int
    ) -> list[tuple[int, float]]:
        """The set's first `depth` papers, newest first (with their relevance scores)."""
        scores = dict(self.ranked)
        if self.also is None:
            ranked, _ = lexical.search(query, limit=depth, by_date=True)
            return [(pid, scores.get(pid, 0.0)) for pid, _ in ranked]
        ids, _ = lexical.relevant_by_date(query, self.also, limit=depth, every_word=self.every_word)
        return [(pid, scores.get(pid, 0.0)) for pid in ids]


@dataclass
class _Candidates:
    """A search's fused candidates (`SearchService._fused`)."""

    ranked: list[tuple[int, float]]  # best first
    # Papers holding any of the words (or the meaning candidates, without words); not
    # counted (0) where the relevant set is counted instead (`every_word`).
    total: int
    cosine: dict[int, float]  # each candidate's cosine to the query
    by_words: set[int]  # the candidates found by words
    every: set[int] | None  # every paper holding every word, when few (None: not read)
    every_count: int  # papers holding every word that pass the filters (when asked for)


@dataclass(frozen=True)
class SimilarParams:
    """How similar papers are found (figures in bench/README.md, "Similar papers")."""

    # The paper's most informative words in its word query: Lucene MoreLikeThis's default.
    terms: int = 25
    # Candidates from each leg (nearest by vector, best by words); at least the page's size.
    # 30 to 100 found equally good papers on both development sets; fewer take less time,
    # but over 30 hiding one paper reordered more of the others (scores are normalised over
    # the candidates).
    candidates: int = 40
    # The meaning score's share of the blend; None: the embedder's search fusion weight.
    dense_weight: float | None = None
    # Words held by more than this share of the papers do not search, they only score the
    # papers the others found: at a million papers they were most of the word query's time.
    max_share: float = 0.01
    # The vector graph's search beam for the neighbours (None: the graph's own, 400, set for
    # a hybrid search's 300). At a million papers 128 kept 98.5% of the top 10 in a third of
    # the graph's time; below 50,000 papers the search is exact and the beam unused.
    beam: int | None = 128


class SearchService:
    def __init__(
        self,
        catalog: Catalog,
        store: SearchStore,
        embedder: Callable[[], Embedder | None] | None = None,
        *,
        candidates: int = 1000,
        dense_candidates: int = 300,
        dense_weight: float | None = None,
        concurrency: int = 0,
        query_vectors: int = QUERY_VECTORS,
        hidden: Callable[[], Collection[int]] | None = None,
        observe: Callable[[SearchResults], None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.observe = observe  # told about every search (its stage timings: ops.metrics)
        # Papers a moderator hid: never found, listed or counted (read at every search).
        self.hidden = hidden
        self.store = store
        self._embedder_factory = embedder
        self._embedder: Embedder | None = None
        self.candidates = candidates
        self.dense_candidates = dense_candidates
        self.dense_weight = dense_weight  # None: the embedder's own fusion weight
        # Searches are CPU-bound: more of them at once than there are cores only adds
        # thrashing (GIL, caches), so a busy server queues them (0: no limit).
        self._slots = threading.BoundedSemaphore(concurrency) if concurrency > 0 else None
        self.query_vectors = QueryVectors(query_vectors)

    def embedder(self) -> Embedder | None:
        if self._embedder is None and self._embedder_factory is not None:
            self._embedder = self._embedder_factory()
        return self._embedder

    def _dense_ready(self) -> Embedder | None:
        embedder = self.embedder()
        if embedder is None or self.store.meta.model != embedder.name:
            return None
        return embedder if self.store.has_vectors() else None

    # -- search ------------------------------------------------------------------------------

    def search(
        self,
        text: str,
        *,
        limit: int = 10,
        offset: int = 0,
        sort: Sort = "relevance",
        categories: Sequence[str] = (),
        since: dt.date | None = None,
        until: dt.date | None = None,
        mode: Literal["hybrid", "lexical", "dense"] = "hybrid",
        fetch: bool = True,
        floor: bool = True,
    ) -> SearchResults:
        """At most `concurrency` searches run at once in this process; others wait. With
        `fetch=False` only `ranked` is filled (the caller reads the papers and snippets).
        `floor=False` ranks every candidate, relevant or not (for evaluations of the ranking:
        the floor decides what is shown and counted, not the order)."""
        started = time.perf_counter()
        with self._slots or contextlib.nullcontext():
            queued = time.perf_counter() - started
            results = self._search(
                text, limit, offset, sort, categories, since, until, mode, fetch, floor
            )
        results.took_ms = (time.perf_counter() - started) * 1000
        results.stages["queue"] = queued
        if self.observe is not None:
            self.observe(results)
        return results

    def _search(
        self,
        text: str,
        limit: int,
        offset: int,
        sort: Sort,
        categories: Sequence[str],
        since: dt.date | None,
        until: dt.date | None,
        mode: Literal["hybrid", "lexical", "dense"],
        fetch: bool,
        floor: bool,
    ) -> SearchResults:
        query = parse_query(text)
        query.excluded_papers = sorted(self.hidden()) if self.hidden is not None else []
        query.categories.extend(categories)
        query.since = since or query.since
        query.until = until or query.until
        results = SearchResults(query=query, notices=list(query.notices))
        limit = max(1, min(limit, MAX_LIMIT))
        offset = max(0, min(offset, MAX_OFFSET))
        if query.is_empty:
            results.notices.append(
                "empty query: type words, a phrase, or a filter such as cat:cs.LG"
            )
            return results

        pinned = self._pinned(query, results)
        matched: dict[int, str] = {pid: "id" for pid in pinned}
        depth = offset + limit
        if query.has_text:
            relevant = self._relevant(query, mode, depth, matched, results, floor)
            if sort == "date":
                with results.stage("lexical"):
                    ranked = relevant.by_date(self.store.lexical, query, depth)
                listed = relevant.total
            else:
                ranked = relevant.ranked
                listed = len(ranked) if relevant.reach is None else relevant.reach
            total, known = relevant.total, relevant.members(self.store.lexical, query, pinned)
        elif query.arxiv_ids:  # ids alone (filters aside): the papers named, nothing else
            ranked, total, listed, known = [], 0, 0, set()
        else:  # filters alone: every paper that passes them, newest first
            with results.stage("lexical"):
                ranked, total = self.store.lexical.search(query, limit=depth, by_date=True)
            listed, known = total, {pid for pid, _ in ranked}
        for pid, _ in ranked:
            matched.setdefault(pid, "words")
        # Papers named by id come first; those not in the relevant set add to it.
        extra = [pid for pid in pinned if pid not in known]
        pinned_set = set(pinned)
        order = [*pinned, *(pid for pid, _ in ranked[:depth] if pid not in pinned_set)]
        scores = dict(ranked[:depth])
        page = order[offset : offset + limit]
        results.total = total + len(extra)
        results.listed = min(results.total, listed + len(extra))
        results.ranked = [(pid, scores.get(pid, 0.0), matched.get(pid, "words")) for pid in page]
        if fetch:
            with results.stage("fetch"):
                results.hits = self._hits(page, query, scores, matched)
        return results

    def _pinned(self, query: ParsedQuery, results: SearchResults) -> list[int]:
        if not query.arxiv_ids:
            return []
        found = self.catalog.ids_for_arxiv(query.arxiv_ids)
        hidden = set(query.excluded_papers)
        for missing in (a for a in query.arxiv_ids if a not in found or found[a] in hidden):
            results.missing_ids.append(missing)
            results.notices.append(missing_notice(missing))
        return [found[a] for a in query.arxiv_ids if a in found and found[a] not in hidden]

    def _relevant(
        self,
        query: ParsedQuery,
        mode: str,
        depth: int,
        matched: dict[int, str],
        results: SearchResults,
        floor: bool,
    ) -> Relevant:
        """The relevant set of a query with words: ranked by relevance as far as the
        candidates reach, counted whole, and how to list it by date."""
        lexical = self.store.lexical
        embedder = self._dense_ready() if mode != "lexical" else None
        if embedder is None:
            if mode != "lexical" and self.embedder() is not None:
                results.notices.append(MEANING_NOT_READY)
            if mode == "dense":
                return Relevant([], 0, also=[], every_word=False)
            with results.stage("lexical"):
                every, count = (
                    lexical.search(query, limit=depth, every_word=True) if floor else ([], 0)
                )
                if count:
                    return Relevant(every, count, also=[], every_word=True, reach=count)
                words, count = lexical.search(query, limit=depth)
            if words and floor and len(lexical.content_terms(query)) > 1:
                results.notices.append(
                    "no paper holds all of these words: showing papers with some of them"
                )
            return Relevant(words, count, also=None, every_word=False, reach=count)
        found = self._fused(query, mode, embedder, matched, results, every_word=floor)
        ranked, count = found.ranked, found.total
        if not floor:
            return Relevant(ranked, count, also=None, every_word=False)
        ids = [pid for pid, _ in ranked]
        with results.stage("lexical"):
            holding: set[int] = set()
            if mode != "dense":
                holding = (
                    found.every.intersection(ids)
                    if found.every is not None
                    else lexical.holding_every_word_by_id(query, ids)
                )
            also = [
                pid
                for pid in ids
                if pid not in holding
                and found.cosine.get(pid, -1.0)
                >= (SOME_WORDS_FLOOR if pid in found.by_words else MEANING_FLOOR)
            ]
            keep = holding.union(also)
        # The set's size: the papers holding every word that pass the filters, and those in
        # it by meaning. The two never share a paper (`also` holds none that holds every
        # word, and only candidates that passed the filters), so they are added: no query
        # for the ids of `also` (~3 ms at a million papers).
        return Relevant(
            [(pid, s) for pid, s in ranked if pid in keep],
            found.every_count + len(set(also)),
            also=also,
            every_word=mode != "dense",
        )

    def _fused(
        self,
        query: ParsedQuery,
        mode: str,
        embedder: Embedder,
        matched: dict[int, str],
        results: SearchResults,
        *,
        every_word: bool,
    ) -> _Candidates:
        """The candidates (the top words matches and the nearest papers by meaning) ranked by
        fused scores, the number of papers holding any word, each candidate's cosine, and the
        candidates found by words; with `every_word` (and words) instead of that number the
        papers holding every word when few, and how many pass the filters."""
        lexical: list[tuple[int, float]] = []
        total = 0
        every: set[int] | None = None
        every_count = 0
        if mode == "dense":
            vector, index, found = self._nearest(query, embedder, results)
        else:
            # The query's vector and its nearest papers in a helper thread while this one
            # runs the word search and reads the papers holding every word (all release the
            # GIL): on two cores the two legs overlap instead of adding up. The helper's task
            # waits for nothing.
            meaning = _helpers().submit(self._nearest, query, embedder, results)
            with results.stage("lexical"):
                if every_word:  # the set is counted by its own rule: no need to count these
                    lexical = self.store.lexical.top(query, limit=self.candidates)
                    every, every_count = self._every_word(query)
                else:
                    lexical, total = self.store.lexical.search(query, limit=self.candidates)
            vector, index, found = meaning.result()
        with results.stage("lexical"):
            allowed = set(self.store.lexical.restrict(query, [pid for pid, _ in found]))
        dense = [(pid, score) for pid, score in found if pid in allowed]
        cosine = dict(dense)
        lexical_ids = [pid for pid, _ in lexical]
        by_words = set(lexical_ids)
        matched.update(dict.fromkeys(lexical_ids, "words"))
        for pid, _ in dense:
            matched[pid] = "words+meaning" if matched.get(pid) == "words" else "meaning"
        if lexical:  # every word candidate's exact cosine (for the floor and the fusion)
            with results.stage("vectors"):
                extra = index.similarities(vector, lexical_ids)
            for pid, score in zip(extra[0].tolist(), extra[1].tolist(), strict=True):
                cosine.setdefault(pid, score)
        ranked = lexical
        if not lexical:
            ranked, total = dense, len(dense)
        elif dense:
            weight = embedder.fusion_weight if self.dense_weight is None else self.dense_weight
            with results.stage("fusion"):
                ranked = dbsf_blend(lexical, dense, dense_weight=weight, dense_extra=extra)
        return _Candidates(ranked, total, cosine, by_words, every, every_count)

    def _every_word(self, query: ParsedQuery) -> tuple[set[int] | None, int]:
        """The papers holding every content word of the query when few enough to read whole
        (None otherwise; at most 16 for each of the most candidates a search fuses), and how
        many hold them and pass the filters: without filters that is how many were read,
        else one counting query."""
        lexical = self.store.lexical
        every = lexical.every_word_papers(query, few=16 * (self.candidates + self.dense_candidates))
        if every is not None and not lexical.filter_clauses(query):
            return every, len(every)
        return every, lexical.relevant_by_date(query, (), limit=1, every_word=True)[1]

    def _nearest(
        self, query: ParsedQuery, embedder: Embedder, results: SearchResults
    ) -> tuple[Vectors, VectorIndex, list[tuple[int, float]]]:
        """The query's vector, the vector index, and the query's nearest papers by meaning."""
        with results.stage("embed"):
            vector = self.query_vectors.get(embedder, query.text)
        with results.stage("vectors"):
            index = self.store.vectors(embedder.dim)
            found = index.search(vector, self.dense_candidates)
        return vector, index, found

    def _hits(
        self, page: list[int], query: ParsedQuery, scores: dict[int, float], matched: dict[int, str]
    ) -> list[SearchHit]:
        rows = self.catalog.get_many(page, HIT_COLUMNS)
        terms = self.snippet_terms(query)
        hits = []
        for pid in page:
            row = rows.get(pid)
            if row is None:  # deleted since it was indexed
                continue
            snippet = self.snippet(row["abstract"], terms)
            hits.append(
                SearchHit(
                    paper_id=pid,
                    arxiv_id=row["arxiv_id"],
                    title=row["title"],
                    authors=[a["name"] for a in row["authors"]],
                    categories=row["categories"],
                    submitted_at=row["submitted_at"],
                    score=scores.get(pid, 0.0),
                    snippet=snippet,
                    matched_by=matched.get(pid, "words"),
                )
            )
        return hits

    def snippet_terms(self, query: ParsedQuery) -> set[str]:
        """The analysed words a snippet marks for this query: its content words, not
        stopwords such as "for" (unless the query holds nothing else, as in the word index)."""
        every = [w for text in (*query.terms, *query.phrases) for w in text.split()]
        content = [w for w in every if w.lower() not in STOPWORDS] or every
        return set(self.store.lexical.analyze(" ".join(content)))

    def snippet(self, abstract: str | None, terms: set[str]) -> Snippet | None:
        """The passage of an abstract that best shows `terms` (see `snippet_terms`)."""
        if not abstract:
            return None
        return make_snippet(abstract, terms, self.store.lexical.analyze_word)

    # -- similar -----------------------------------------------------------------------------

    similar_params: SimilarParams = SimilarParams()

    def similar(self, paper_id: int, *, limit: int = 10) -> list[SearchHit]:
        """Papers like this one by words and by meaning, best first; never the paper itself
        nor a hidden paper. The candidates are its nearest neighbours by vector and the papers
        that best match its most informative words (BM25); every candidate is scored exactly
        by both (its cosine to the paper, its BM25 score for the paper's words) and the two
        are blended (`blend_similar`). Without vectors: by words alone. `matched_by` says
        which leg found a paper ("words", "meaning" or both)."""
        limit = max(1, min(limit, MAX_LIMIT))
        params = self.similar_params
        exclude = {paper_id, *(self.hidden() if self.hidden is not None else ())}
        depth = max(limit, params.candidates)
        embedder = self._dense_ready()
        index = self.store.vectors(embedder.dim) if embedder is not None else None
        lexical = self.store.lexical

        def neighbours(vector: Vectors) -> list[tuple[int, float]]:
            assert index is not None
            found = index.search(vector, depth + len(exclude), beam=params.beam)
            return [(p, s) for p, s in found if p not in exclude][:depth]

        # The paper's neighbours by vector are searched in a helper thread, and scored by
        # its words in another once its words are known, while this thread reads the paper
        # and runs its word query (the searches release the GIL). A task waits only for one
        # submitted before it, so a busy pool cannot deadlock.
        vector = index.get(paper_id) if index is not None else None
        nearest = _helpers().submit(neighbours, vector) if vector is not None else None
        row = self.catalog.get_many([paper_id], ("title", "abstract")).get(paper_id)
        if row is None:
            return []
        text = document_text(row["title"], row["abstract"])
        terms = lexical.informative_terms(text, params.terms)
        scored = (
            _helpers().submit(lambda: lexical.like_scores(terms, [p for p, _ in nearest.result()]))
            if nearest is not None
            else None
        )
        words = lexical.like(
            terms, limit=depth, exclude=sorted(exclude), max_share=params.max_share
        )
        if embedder is None or index is None:
            ranked = words[:limit]
            how = dict.fromkeys((pid for pid, _ in ranked), "words")
            return self._hits([pid for pid, _ in ranked], ParsedQuery(), dict(ranked), how)
        if nearest is None or scored is None:  # not embedded yet
            vector = embedder.embed_documents([text])[0]
            near = neighbours(vector)
            near_words = lexical.like_scores(terms, [p for p, _ in near])
        else:
            near, near_words = nearest.result(), scored.result()
        assert vector is not None
        word_scores = {**near_words, **dict(words)}
        cosines = dict(near)
        found, sims = index.similarities(vector, [p for p, _ in words if p not in cosines])
        cosines.update(zip(found.tolist(), sims.tolist(), strict=True))
        weight = embedder.fusion_weight if params.dense_weight is None else params.dense_weight
        candidates = list(dict.fromkeys([*(p for p, _ in near), *(p for p, _ in words)]))
        ranked = blend_similar(candidates, word_scores, cosines, dense_weight=weight)[:limit]
        by_words, by_meaning = {p for p, _ in words}, {p for p, _ in near}
        how = {
            pid: "words+meaning"
            if pid in by_words and pid in by_meaning
            else ("words" if pid in by_words else "meaning")
            for pid, _ in ranked
        }
        return self._hits([pid for pid, _ in ranked], ParsedQuery(), dict(ranked), how)


_helper_pool: tuple[int, ThreadPoolExecutor] | None = None
_helper_lock = threading.Lock()


def _helpers() -> ThreadPoolExecutor:
    """This process's helper threads (made again after a fork: threads do not survive it)."""
    global _helper_pool
    with _helper_lock:
        if _helper_pool is None or _helper_pool[0] != os.getpid():
            _helper_pool = (os.getpid(), ThreadPoolExecutor(8, thread_name_prefix="search-helper"))
        return _helper_pool[1]


def blend_similar(
    candidates: Sequence[int],
    words: dict[int, float],
    cosines: dict[int, float],
    *,
    dense_weight: float,
) -> list[tuple[int, float]]:
    """Each candidate's exact word score (BM25 of the paper's words; 0 when it holds none)
    and its cosine to the paper, each normalised by DBSF over all the candidates, blended
    with `dense_weight` on the cosine; best first, ties by id. A candidate without a vector
    (not embedded yet) gets the lowest cosine of the others."""
    lowest = min(cosines.values(), default=0.0)
    lexical = dbsf_scores([(p, words.get(p, 0.0)) for p in candidates])
    meaning = dbsf_scores([(p, cosines.get(p, lowest)) for p in candidates])
    fused = {p: (1.0 - dense_weight) * lexical[p] + dense_weight * meaning[p] for p in candidates}
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
