"""SearchService: hybrid search and similar papers, shared by the CLI, web app and API."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from paperfeed.papers.catalog import Catalog
from paperfeed.papers.ids import public_id
from paperfeed.search.embedder import Embedder, document_text
from paperfeed.search.fusion import dbsf_blend
from paperfeed.search.query import ParsedQuery, parse_query
from paperfeed.search.snippets import Snippet, make_snippet
from paperfeed.search.store import SearchStore

Sort = Literal["relevance", "date"]
MAX_LIMIT = 200
MAX_OFFSET = 10_000
HIT_COLUMNS = ("arxiv_id", "title", "abstract", "authors", "categories", "submitted_at")


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
    total: int = 0
    notices: list[str] = field(default_factory=list)
    took_ms: float = 0.0
    # Seconds spent per stage: `queue` (waiting for a search slot), `lexical` (BM25),
    # `embed` (the query's vector), `vectors` (nearest neighbours and exact scores), `fusion`,
    # `fetch` (papers and snippets); a stage a search did not run is absent.
    stages: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - started


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
    ) -> SearchResults:
        """At most `concurrency` searches run at once in this process; others wait. With
        `fetch=False` only `ranked` is filled (the caller reads the papers and snippets)."""
        started = time.perf_counter()
        with self._slots or contextlib.nullcontext():
            queued = time.perf_counter() - started
            results = self._search(text, limit, offset, sort, categories, since, until, mode, fetch)
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
        ranked: list[tuple[int, float]]
        if sort == "date" or not query.has_text:
            with results.stage("lexical"):
                ranked, total = self.store.lexical.search(query, limit=offset + limit, by_date=True)
            for pid, _ in ranked:
                matched.setdefault(pid, "words")
        else:
            ranked, total = self._relevance(query, mode, offset + limit, matched, results)
        if pinned:
            pinned_set = set(pinned)
            order = [*pinned, *(pid for pid, _ in ranked if pid not in pinned_set)]
            scores = dict(ranked)
            listed = len(order)
        else:  # (the common case: look at the page only, not at all candidates)
            order = [pid for pid, _ in ranked[: offset + limit]]
            scores = dict(ranked[: offset + limit])
            listed = len(ranked)
        page = order[offset : offset + limit]
        results.total = max(total, listed)
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
            results.notices.append(f"arXiv:{missing} is not in the catalog")
        return [found[a] for a in query.arxiv_ids if a in found and found[a] not in hidden]

    def _relevance(
        self,
        query: ParsedQuery,
        mode: str,
        depth: int,
        matched: dict[int, str],
        results: SearchResults,
    ) -> tuple[list[tuple[int, float]], int]:
        """Ranked papers: the top `depth` by words alone, or fused candidate lists."""
        embedder = self._dense_ready() if mode != "lexical" else None
        if embedder is None or not query.text:
            if embedder is None and mode != "lexical" and self.embedder() is not None:
                results.notices.append(
                    "search by meaning is not ready (run `paperfeed index "
                    "update`); showing word matches only"
                )
            if mode != "dense":
                with results.stage("lexical"):
                    words, count = self.store.lexical.search(query, limit=depth)
                matched.update(dict.fromkeys((pid for pid, _ in words), "words"))
                return words, count
            return [], 0
        lexical: list[tuple[int, float]] = []
        total = 0
        if mode != "dense":
            with results.stage("lexical"):
                lexical, total = self.store.lexical.search(query, limit=self.candidates)
        with results.stage("embed"):
            vector = embedder.embed_query(query.text)
        with results.stage("vectors"):
            index = self.store.vectors(embedder.dim)
            found = index.search(vector, self.dense_candidates)
        with results.stage("lexical"):
            allowed = set(self.store.lexical.restrict(query, [pid for pid, _ in found]))
        dense = [(pid, score) for pid, score in found if pid in allowed]
        lexical_ids = [pid for pid, _ in lexical]
        matched.update(dict.fromkeys(lexical_ids, "words"))
        for pid, _ in dense:
            matched[pid] = "words+meaning" if matched.get(pid) == "words" else "meaning"
        if not dense:
            return lexical, total
        if not lexical:
            return dense, len(dense)
        with results.stage("vectors"):
            extra = index.similarities(vector, lexical_ids)
        weight = embedder.fusion_weight if self.dense_weight is None else self.dense_weight
        with results.stage("fusion"):
            blended = dbsf_blend(lexical, dense, dense_weight=weight, dense_extra=extra)
        return blended, total

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
        """The analysed words a snippet marks for this query."""
        return set(self.store.lexical.analyze(" ".join([*query.terms, *query.phrases])))

    def snippet(self, abstract: str | None, terms: set[str]) -> Snippet | None:
        """The passage of an abstract that best shows `terms` (see `snippet_terms`)."""
        if not abstract:
            return None
        return make_snippet(abstract, terms, self.store.lexical.analyze_word)

    # -- similar -----------------------------------------------------------------------------

    def similar(self, paper_id: int, *, limit: int = 10) -> list[SearchHit]:
        """Nearest neighbours by meaning (falling back to shared words), never the paper
        itself."""
        row = self.catalog.get(paper_id=paper_id)
        if row is None:
            return []
        limit = max(1, min(limit, MAX_LIMIT))
        hidden = set(self.hidden()) if self.hidden is not None else set()
        depth = limit + 1 + len(hidden)  # the paper itself and hidden papers are dropped
        embedder = self._dense_ready()
        ranked: list[tuple[int, float]]
        how = "meaning"
        if embedder is not None:
            index = self.store.vectors(embedder.dim)
            vector = index.get(paper_id)
            if vector is None:
                vector = embedder.embed_documents([document_text(row["title"], row["abstract"])])[0]
            ranked = index.search(vector, depth)
        else:
            how = "words"
            query = ParsedQuery(
                terms=self.store.lexical.analyze(f"{row['title']} {row['abstract']}")[:64]
            )
            ranked, _ = self.store.lexical.search(query, limit=depth)
        ranked = [(pid, s) for pid, s in ranked if pid != paper_id and pid not in hidden][:limit]
        empty = ParsedQuery()
        return self._hits(
            [pid for pid, _ in ranked],
            empty,
            dict(ranked),
            dict.fromkeys((pid for pid, _ in ranked), how),
        )
