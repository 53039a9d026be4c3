"""The lexical index: BM25 over titles and abstracts in tantivy (a Lucene-class engine).

Title and abstract are indexed as one field: on SciFact that scored nDCG@10 0.684 against
0.668 for separate fields (and less with any title boost), see bench/README.md.

Queries are built from `ParsedQuery` as tantivy Query objects, never through tantivy's own
query parser, so user input cannot inject query syntax."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy

from paperfeed.search.query import ParsedQuery

ANALYZER = "paper_en"  # lowercase + English stemming (stopwords stay indexed, for phrases)
# Lucene's English stopword list. Alone they do not make a paper a candidate: they match nearly
# every abstract, which made a million-paper query score ~97% of the catalog (bench/README.md).
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)
NAME_ANALYZER = "paper_name"  # lowercase + ASCII folding, for author names
SCHEMA_VERSION = 1


def _text_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _name_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("paper_id", stored=True, indexed=True, fast=True)
    builder.add_text_field("text", tokenizer_name=ANALYZER)  # title and abstract
    builder.add_text_field("authors", tokenizer_name=NAME_ANALYZER)
    builder.add_text_field("categories", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("day", indexed=True, fast=True)  # first submitted, YYYYMMDD
    return builder.build()


@dataclass(frozen=True, slots=True)
class IndexDocument:
    paper_id: int
    title: str
    abstract: str
    authors: Sequence[str]
    categories: Sequence[str]
    submitted: dt.date | None


_WORD_ANALYZER = _text_analyzer()


def analyze_text(text: str) -> list[str]:
    """The index terms of a text, as the word index analyses titles and abstracts."""
    return [t for t in _WORD_ANALYZER.analyze(text) if t]


@functools.lru_cache(maxsize=100_000)
def _analyze_word(word: str) -> str | None:
    terms = _WORD_ANALYZER.analyze(word)
    return terms[0] if terms else None


def _phrase(schema: tantivy.Schema, field: str, words: list[str], slop: int = 0) -> tantivy.Query:
    terms: list[str | tuple[int, str]] = list(words)
    return tantivy.Query.phrase_query(schema, field, terms, slop=slop)


def _ids_list(searcher: tantivy.Searcher, addresses: list[tantivy.DocAddress]) -> list[int]:
    if not addresses:
        return []
    return [int(v) for v in searcher.fast_field_values("paper_id", addresses) if v is not None]


def _scored(
    searcher: tantivy.Searcher, hits: list[tuple[Any, tantivy.DocAddress]]
) -> list[tuple[int, float]]:
    """Search hits as (paper_id, score), in their order."""
    ids = _ids_list(searcher, [address for _, address in hits])
    return list(zip(ids, (float(score) for score, _ in hits), strict=True))


def _ids(searcher: tantivy.Searcher, addresses: list[tantivy.DocAddress]) -> set[int]:
    return set(_ids_list(searcher, addresses))


def _day(value: dt.date | None) -> int:
    return value.year * 10_000 + value.month * 100 + value.day if value else 0


class LexicalIndex:
    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self.index.register_tokenizer(ANALYZER, _text_analyzer())
        self.index.register_tokenizer(NAME_ANALYZER, _name_analyzer())
        self._analyzer = _text_analyzer()
        self._names = _name_analyzer()
        self._writer: tantivy.IndexWriter | None = None

    # -- writing -----------------------------------------------------------------------------

    def _get_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self.index.writer(heap_size=128_000_000, num_threads=1)
        return self._writer

    def upsert(self, documents: Iterable[IndexDocument]) -> int:
        writer = self._get_writer()
        count = 0
        for doc in documents:
            writer.delete_documents_by_query(self._paper_query(doc.paper_id))
            categories = list(doc.categories)
            archives = {c.split(".", 1)[0] for c in categories if "." in c}
            document = tantivy.Document()
            document.add_unsigned("paper_id", doc.paper_id)
            document.add_text("text", f"{doc.title}\n{doc.abstract}")
            for author in doc.authors:
                document.add_text("authors", author)
            for category in [*categories, *sorted(archives)]:
                document.add_text("categories", category)
            document.add_integer("day", _day(doc.submitted))
            writer.add_document(document)
            count += 1
        return count

    def delete(self, paper_ids: Iterable[int]) -> None:
        writer = self._get_writer()
        for paper_id in paper_ids:
            writer.delete_documents_by_query(self._paper_query(paper_id))

    def _paper_query(self, paper_id: int) -> tantivy.Query:
        # Not writer.delete_documents_by_term: with tantivy-py 0.2x it matches nothing on an
        # unsigned field, so every re-index added a duplicate document.
        return tantivy.Query.term_query(self.schema, "paper_id", paper_id)

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()
            self._writer.wait_merging_threads()
            self._writer = None
        self.index.reload()

    # -- reading -----------------------------------------------------------------------------

    def num_docs(self) -> int:
        return int(self.index.searcher().num_docs)

    def all_ids(self) -> set[int]:
        searcher = self.index.searcher()
        total = searcher.num_docs
        if not total:
            return set()
        hits = searcher.search(tantivy.Query.all_query(), limit=total, count=False).hits
        return _ids(searcher, [a for _, a in hits])

    def duplicated_ids(self) -> set[int]:
        """Papers with more than one document in the index."""
        searcher = self.index.searcher()
        total = searcher.num_docs
        if not total:
            return set()
        hits = searcher.search(tantivy.Query.all_query(), limit=total, count=False).hits
        seen: set[int] = set()
        repeated: set[int] = set()
        for paper_id in _ids_list(searcher, [a for _, a in hits]):
            (repeated if paper_id in seen else seen).add(paper_id)
        return repeated

    def analyze(self, text: str) -> list[str]:
        return [t for t in self._analyzer.analyze(text) if t]

    def _term(self, token: str) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, "text", token)

    def analyze_word(self, word: str) -> str | None:
        """The index term of one word (cached: snippets analyse hundreds of words a query)."""
        return _analyze_word(word)

    def content_terms(self, query: ParsedQuery) -> list[str]:
        """The index terms of the query's words that count: its content words, or its
        stopwords when it has nothing else."""
        tokens = list(dict.fromkeys(self.analyze(" ".join(query.terms))))
        content_words = " ".join(w for w in query.terms if w.lower() not in STOPWORDS)
        return list(dict.fromkeys(self.analyze(content_words))) or tokens

    def _text_query(self, query: ParsedQuery, *, every_word: bool = False) -> tantivy.Query | None:
        """Any of the query's words (scored by BM25), or with `every_word` all of them;
        phrases are always required."""
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        # Stopwords score only in a query made of nothing else: elsewhere they match nearly
        # every paper, and scoring them made a million-paper query 3x slower (bench/README.md).
        occur = tantivy.Occur.Must if every_word else tantivy.Occur.Should
        clauses.extend((occur, self._term(t)) for t in self.content_terms(query))
        for phrase in query.phrases:
            words = self.analyze(phrase)
            if len(words) == 1:
                clauses.append(
                    (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "text", words[0]))
                )
            elif words:
                clauses.append((tantivy.Occur.Must, _phrase(self.schema, "text", words)))
        if not clauses:
            return None
        return tantivy.Query.boolean_query(clauses)

    def filter_clauses(self, query: ParsedQuery) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        """Filters as required/forbidden clauses (no effect on scores)."""
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        if query.excluded_papers:
            clauses.append(
                (
                    tantivy.Occur.MustNot,
                    tantivy.Query.term_set_query(
                        self.schema, "paper_id", list(query.excluded_papers)
                    ),
                )
            )
        for excluded in query.excluded:
            words = self.analyze(excluded)
            if len(words) == 1:
                clauses.append(
                    (tantivy.Occur.MustNot, tantivy.Query.term_query(self.schema, "text", words[0]))
                )
            elif words:
                clauses.append((tantivy.Occur.MustNot, _phrase(self.schema, "text", words)))
        for author in query.authors:
            names = list(self._names.analyze(author))
            if not names:
                continue
            match = (
                tantivy.Query.term_query(self.schema, "authors", names[0])
                if len(names) == 1
                else _phrase(self.schema, "authors", names, slop=1)
            )
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(match, 0.0)))
        if query.categories:
            any_category = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "categories", c))
                    for c in query.categories
                ]
            )
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(any_category, 0.0)))
        if query.since or query.until:
            days = tantivy.Query.range_query(
                self.schema,
                "day",
                tantivy.FieldType.Integer,
                _day(query.since) if query.since else None,
                _day(query.until) if query.until else None,
            )
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(days, 0.0)))
        return clauses

    def build_query(self, query: ParsedQuery, *, every_word: bool = False) -> tantivy.Query:
        text = self._text_query(query, every_word=every_word)
        filters = self.filter_clauses(query)
        base = text if text is not None else tantivy.Query.all_query()
        if not filters:
            return base
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, base), *filters])

    def search(
        self,
        query: ParsedQuery,
        *,
        limit: int = 100,
        by_date: bool = False,
        every_word: bool = False,
    ) -> tuple[list[tuple[int, float]], int]:
        """(paper_id, BM25 score) best first, and the number of matching documents: those
        holding any of the query's words, or with `every_word` all of them."""
        searcher = self.index.searcher()
        tq = self.build_query(query, every_word=every_word)
        kwargs: dict[str, Any] = {"limit": max(1, limit), "count": True}
        if by_date or not query.has_text:
            kwargs["order_by_field"] = "day"
        result = searcher.search(tq, **kwargs)
        addresses = [address for _, address in result.hits]
        ids = _ids_list(searcher, addresses)
        scores = [
            float(score) if not kwargs.get("order_by_field") else 0.0 for score, _ in result.hits
        ]
        return list(zip(ids, scores, strict=True)), int(
            getattr(result, "count", 0) or 0
        )  # missing from tantivy's stub

    def top(self, query: ParsedQuery, *, limit: int) -> list[tuple[int, float]]:
        """(paper_id, BM25 score) best first, as `search` ranks them, without counting the
        papers that match: tantivy then skips the blocks of papers that cannot enter the
        top (block-max WAND), which counting every match forbids."""
        searcher = self.index.searcher()
        hits = searcher.search(self.build_query(query), limit=max(1, limit), count=False).hits
        return _scored(searcher, hits)

    def scores(self, query: ParsedQuery, paper_ids: Sequence[int]) -> dict[int, float]:
        """The exact BM25 score `search` gives each of the given papers for this query (those
        holding none of its words, or failing its filters, are absent). The candidate set is a
        required clause that scores 0, so each score is the text query's alone. A disjunction
        of id terms, not a term set: half the time for 300 papers (bench/README.md)."""
        if not paper_ids:
            return {}
        return self._scores_of(self.build_query(query), paper_ids)

    def _scores_of(self, scored: tantivy.Query, paper_ids: Sequence[int]) -> dict[int, float]:
        """The score `scored` gives each of the given papers it matches (see `scores`)."""
        searcher = self.index.searcher()
        candidates = self._any_of(paper_ids)
        tq = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, scored),
                (tantivy.Occur.Must, tantivy.Query.const_score_query(candidates, 0.0)),
            ]
        )
        hits = searcher.search(tq, limit=len(paper_ids), count=False).hits
        return dict(_scored(searcher, hits))

    def _any_of(self, paper_ids: Sequence[int]) -> tantivy.Query:
        """The given papers as a disjunction of their id terms (each an index lookup: faster
        than a term set for a few hundred papers, bench/README.md)."""
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "paper_id", pid))
                for pid in dict.fromkeys(paper_ids)
            ]
        )

    def document_frequencies(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many papers hold each index term (of `analyze`), and how many papers there are."""
        searcher = self.index.searcher()
        return {t: int(searcher.doc_freq("text", t)) for t in terms}, int(searcher.num_docs)

    def holding_every_word(
        self, query: ParsedQuery, paper_ids: Sequence[int], *, few: int | None = None
    ) -> set[int]:
        """The given papers whose title and abstract hold every content word of the query (and
        its phrases).

        Two ways, the cheaper first: the papers holding every word, read whole when they are
        few (`every_word_papers`), then those of them given; else the given papers as a
        disjunction of their ids, each an index lookup (~7 us: ~9 ms for hybrid search's
        ~1,300 candidates at a million papers, where reading 20,000 papers' ids costs about as
        much). A term set of the ids was slower still (~17 ms). `few`: how many papers holding
        every word are read whole at most (by default 16 per given paper, at least 1,000)."""
        if not paper_ids:
            return set()
        if few is None:
            few = max(1_000, 16 * len(paper_ids))
        every = self.every_word_papers(query, few=few)
        if every is not None:
            return every.intersection(paper_ids)
        return self.holding_every_word_by_id(query, paper_ids)

    def every_word_papers(self, query: ParsedQuery, *, few: int) -> set[int] | None:
        """Every paper (filters aside) whose title and abstract hold every content word of the
        query and its phrases, read whole when they are at most `few`; None when there are
        more, or likely more (ask `holding_every_word_by_id` for the papers wanted then).
        They are few for sure when the rarest of the words is (no more papers hold them all),
        and likely when the words' shares of the papers, multiplied, say so (words of a topic
        go together more often: then more are found than `few`, and None is returned).
        Without a word, none."""
        every = self._text_query(query, every_word=True)
        if every is None:
            return set()
        searcher = self.index.searcher()
        words = [*self.content_terms(query), *(w for p in query.phrases for w in self.analyze(p))]
        shares = [int(searcher.doc_freq("text", w)) for w in dict.fromkeys(words)]
        papers = max(1, int(searcher.num_docs))
        holding = tantivy.Query.const_score_query(every, 0.0)  # (scores would cost, not count)
        if shares and min(shares) <= few:
            hits = searcher.search(holding, limit=max(1, min(shares)), count=False).hits
            return _ids(searcher, [a for _, a in hits])
        if shares and papers * math.prod(n / papers for n in shares) <= few / 2:
            hits = searcher.search(holding, limit=few + 1, count=False).hits
            if len(hits) <= few:
                return _ids(searcher, [a for _, a in hits])
        return None

    def holding_every_word_by_id(self, query: ParsedQuery, paper_ids: Sequence[int]) -> set[int]:
        """`holding_every_word` asked by the papers' ids (for many papers holding every word)."""
        every = self._text_query(query, every_word=True)
        if every is None or not paper_ids:
            return set()
        holding = tantivy.Query.const_score_query(every, 0.0)
        tq = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, self._any_of(paper_ids)), (tantivy.Occur.Must, holding)]
        )
        searcher = self.index.searcher()
        hits = searcher.search(tq, limit=len(paper_ids), count=False).hits
        return _ids(searcher, [a for _, a in hits])

    def relevant_by_date(
        self,
        query: ParsedQuery,
        also: Sequence[int],
        *,
        limit: int,
        every_word: bool = True,
    ) -> tuple[list[int], int]:
        """The relevant set newest first, and its size: papers holding every content word of
        the query (with `every_word`) or among `also` (papers found relevant by meaning), that
        pass the query's filters."""
        parts: list[tuple[tantivy.Occur, tantivy.Query]] = []
        every = self._text_query(query, every_word=True) if every_word else None
        if every is not None:
            parts.append((tantivy.Occur.Should, every))
        if also:
            named = tantivy.Query.term_set_query(self.schema, "paper_id", list(also))
            parts.append((tantivy.Occur.Should, named))
        if not parts:
            return [], 0
        tq = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, tantivy.Query.boolean_query(parts)), *self.filter_clauses(query)]
        )
        searcher = self.index.searcher()
        result = searcher.search(tq, limit=max(1, limit), count=True, order_by_field="day")
        found = _ids_list(searcher, [address for _, address in result.hits])
        return found, int(getattr(result, "count", 0) or 0)

    def restrict(self, query: ParsedQuery, paper_ids: Sequence[int]) -> list[int]:
        """The given papers that satisfy the query's filters, exclusions and phrases (for
        candidates found by meaning rather than by words), in the given order."""
        constraints = self.filter_clauses(query)
        for phrase in query.phrases:
            words = self.analyze(phrase)
            if words:
                match = (
                    tantivy.Query.term_query(self.schema, "text", words[0])
                    if len(words) == 1
                    else _phrase(self.schema, "text", words)
                )
                constraints.append((tantivy.Occur.Must, match))
        if not constraints or not paper_ids:
            return list(paper_ids)
        searcher = self.index.searcher()
        candidates = tantivy.Query.term_set_query(self.schema, "paper_id", list(paper_ids))
        tq = tantivy.Query.boolean_query([(tantivy.Occur.Must, candidates), *constraints])
        hits = searcher.search(tq, limit=len(paper_ids), count=False).hits
        allowed = _ids(searcher, [a for _, a in hits])
        return [pid for pid in paper_ids if pid in allowed]

    def ids_matching_filters(self, query: ParsedQuery, limit: int) -> set[int] | None:
        """Papers that pass the query's filters (None when it has none)."""
        filters = self.filter_clauses(query)
        if not filters:
            return None
        searcher = self.index.searcher()
        tq = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, tantivy.Query.all_query()), *filters]
        )
        hits = searcher.search(tq, limit=max(1, limit), count=False).hits
        return _ids(searcher, [a for _, a in hits])

    # -- papers like a paper (similar papers) --------------------------------------------------

    def informative_terms(self, text: str, limit: int) -> dict[str, float]:
        """The `limit` index terms of `text` that best tell it apart, with their weights in a
        query (Lucene's MoreLikeThis, with BM25's idf): terms ranked by (1 + ln tf) x idf,
        stopwords and terms no other paper holds left out. The weight is the term's
        (1 + ln tf) in `text`, so a word the paper repeats counts more in its query."""
        counts: dict[str, int] = {}
        for term in self.analyze(text):
            if len(term) > 1 and not term.isdigit():
                counts[term] = counts.get(term, 0) + 1
        for stopword in STOP_TERMS:
            counts.pop(stopword, None)
        searcher = self.index.searcher()
        total = int(searcher.num_docs)
        ranked: list[tuple[float, str]] = []
        for term, count in counts.items():
            df = int(searcher.doc_freq("text", term))
            if df < 2:  # held by this paper alone (or by none): it finds no other paper
                continue
            idf = math.log(1.0 + (total - df + 0.5) / (df + 0.5))
            ranked.append(((1.0 + math.log(count)) * idf, term))
        ranked.sort(key=lambda item: (-item[0], item[1]))
        return {term: 1.0 + math.log(counts[term]) for _, term in ranked[:limit]}

    def _like_query(self, terms: dict[str, float]) -> tantivy.Query:
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, tantivy.Query.boost_query(self._term(term), weight))
                for term, weight in terms.items()
            ]
        )

    def like(
        self,
        terms: dict[str, float],
        *,
        limit: int,
        exclude: Sequence[int] = (),
        max_share: float = 1.0,
    ) -> list[tuple[int, float]]:
        """Papers holding any of the weighted `terms` (see `informative_terms`), best BM25
        first, except those in `exclude`. With `max_share` < 1 the papers are found by the
        terms at most that share of the papers hold (the others cost the most to search and
        tell least apart) and then scored by all the terms; the scores are exact, the list
        the best by the rarer terms."""
        if not terms:
            return []
        limit = max(1, limit)
        searcher = self.index.searcher()
        most = max_share * int(searcher.num_docs)
        common = {t: w for t, w in terms.items() if int(searcher.doc_freq("text", t)) > most}
        rare = {t: w for t, w in terms.items() if t not in common}
        if not rare:
            rare, common = terms, {}
        if len(exclude) <= _LIKE_EXCLUDED_AFTER:
            # The terms alone, as one union of term queries, and `exclude` left out here:
            # tantivy's block-max WAND prunes only such a union (under a MustNot clause every
            # posting of every term is scored: 1.7x the time at a million papers).
            hits = searcher.search(
                self._like_query(rare), limit=limit + len(exclude), count=False
            ).hits
        else:
            excluded = tantivy.Query.term_set_query(self.schema, "paper_id", list(exclude))
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, self._like_query(rare)), (tantivy.Occur.MustNot, excluded)]
            )
            hits = searcher.search(query, limit=limit, count=False).hits
        skip = set(exclude)
        best = [(pid, score) for pid, score in _scored(searcher, hits) if pid not in skip][:limit]
        if common and best:
            more = self.like_scores(common, [pid for pid, _ in best])
            best = [(pid, score + more.get(pid, 0.0)) for pid, score in best]
            best.sort(key=lambda item: -item[1])
        return best

    def like_scores(self, terms: dict[str, float], paper_ids: Sequence[int]) -> dict[int, float]:
        """The exact score `like` gives each of the given papers (absent: none of the terms)."""
        if not terms or not paper_ids:
            return {}
        return self._scores_of(self._like_query(terms), paper_ids)


# `like` leaves out up to this many papers after its search, more inside it (slower).
_LIKE_EXCLUDED_AFTER = 200
# The stopwords as index terms (what `analyze_text` makes of them).
STOP_TERMS = frozenset(t for word in STOPWORDS for t in _text_analyzer().analyze(word))
