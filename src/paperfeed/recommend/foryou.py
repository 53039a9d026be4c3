"""For you: one reader's list of recommended papers, with the reason for each. The page,
the API, the CLI and the personal digest all take their lists from here (no HTTP).

    candidates   the papers of the last `days` days: submitted to arXiv (v1) in them, or on a
                 daily list of one of them; a paper is one row whatever its versions, so a
                 new version never brings it back
    left out     hidden papers; the reader's seen papers (upvoted, saved, read, "not
                 interested": library/signals.py); papers already recommended (below)
    by taste     the Recommender (recommend/service.py) ranks the candidates from the
                 reader's liked papers (upvoted or saved) and disliked ones ("not interested");
                 the reason is the liked paper each is closest to
    by follows   the newest papers of the authors, categories and searches the reader follows
                 (library/follows.py, the same searches as the follow's page and feed) that are
                 candidates; the reason is the follow
    merged       two by taste, then one by follows, and so on (a paper once, with its first
                 reason); with neither a liked paper nor a follow the reader is new
                 (`onboarding`) and gets the trending papers to start from

**Already recommended.** A paper shown on the reader's list (the page or the API) is recorded
once (`recommendation_impressions`); it stays on the list for the rest of that day (UTC), so a
reload shows the same papers, and is left out from the next day on. A paper put in a
personal digest is recorded when its delivery is written and left out at once. The CLI only
looks (it records nothing)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from paperfeed.accounts.service import User
from paperfeed.clock import Clock, utcnow
from paperfeed.community.cards import CardService, PaperCard
from paperfeed.community.signals import TrendingService
from paperfeed.db.schema import daily_papers, papers, recommendation_impressions
from paperfeed.library.follows import Follow, FollowService
from paperfeed.library.signals import ReaderSignals, readers_signals
from paperfeed.papers.ids import public_id
from paperfeed.recommend.service import Recommender
from paperfeed.search.service import SearchService

PAGE_SIZE = 30
MAX_LIMIT = 100
FOLLOW_PAPERS = 20  # the newest papers looked at per follow
TASTE_RUN = 2  # papers by taste between two by follows
RANKED_KEPT = 1000  # rankings kept per process (ForYouService._by_taste)
RANKED_FOR = dt.timedelta(minutes=10)  # ... at most this long (vectors added since count)

ReasonKind = Literal["liked", "author", "category", "search", "trending"]
Source = Literal["page", "digest"]


@dataclass(frozen=True)
class Reason:
    """Why a paper is recommended: the liked paper it is closest to, the follow that found
    it, or (for a new reader) that it is trending."""

    kind: ReasonKind
    label: str  # the liked paper's title, the author's name, the category, the search's label
    href: str  # a page of ours: the liked paper, the author, the category or search results
    similarity: float | None = None  # the cosine of the two papers (liked)
    because: int | None = None  # the liked paper's row id (liked)

    @property
    def text(self) -> str:
        if self.kind == "liked":
            return f"Because you liked “{self.label}”"
        if self.kind in ("author", "category"):
            return f"You follow {self.label}"
        if self.kind == "search":
            return f"You follow the search {self.label}"
        return "Trending on paperfeed"

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "label": self.label,
            "href": self.href,
            "similarity": self.similarity,
            "because": self.because,
        }

    @classmethod
    def of(cls, data: dict[str, object]) -> Reason:
        similarity, because = data.get("similarity"), data.get("because")
        return cls(
            kind=data["kind"],  # type: ignore[arg-type]
            label=str(data["label"]),
            href=str(data["href"]),
            similarity=float(similarity) if isinstance(similarity, int | float) else None,
            because=because if isinstance(because, int) else None,
        )


def follow_reason(follow: Follow) -> Reason:
    label = follow.label.removeprefix("search ") if follow.kind == "search" else follow.value
    return Reason(follow.kind, label, follow.page)


@dataclass
class Recommended:
    card: PaperCard
    reason: Reason


@dataclass
class ForYou:
    """A reader's list. `state`: "onboarding" (no liked paper, no follow: the items are
    trending papers to start from) or "ready"."""

    items: list[Recommended]
    state: Literal["onboarding", "ready"]
    since: dt.datetime  # the first moment of the candidates' days
    now: dt.datetime
    liked: int  # the reader's liked papers
    follows: list[Follow] = field(default_factory=list)
    taste_ready: bool = True  # the index has paper vectors (False: taste cannot rank)


@dataclass
class Picked:
    """What taste and follows chose for a reader (paper ids with reasons, best first)."""

    by_taste: list[tuple[int, Reason]]
    by_follows: list[tuple[int, Reason]]
    signals: ReaderSignals
    follows: list[Follow]
    shown: set[int]  # papers recorded before (today's page included)


@dataclass
class RunCache:
    """What many readers' lists share at one moment (a digest run): the candidates, the
    hidden papers, each follow's papers."""

    candidates: dict[tuple[dt.datetime, dt.datetime], tuple[list[int], frozenset[int]]] = field(
        default_factory=dict
    )
    hidden: set[int] | None = None
    follow_papers: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[int]] = field(
        default_factory=dict
    )


def name_reason(reason: Reason, cards: dict[int, PaperCard]) -> Reason:
    """A liked paper's reason with the paper's title and page (from its card)."""
    if reason.because is None:
        return reason
    liked = cards.get(reason.because)
    if liked is None:  # hidden since
        return Reason("liked", "a paper you liked", "/library", reason.similarity, reason.because)
    return Reason(
        "liked", liked.title, f"/papers/{liked.public_id}", reason.similarity, reason.because
    )


def merge(
    by_taste: Sequence[tuple[int, Reason]],
    by_follows: Sequence[tuple[int, Reason]],
    limit: int,
) -> list[tuple[int, Reason]]:
    """TASTE_RUN papers by taste, then one by follows, and so on; each paper once (its first
    reason), at most `limit`."""
    out: list[tuple[int, Reason]] = []
    seen: set[int] = set()
    taste, follows = list(by_taste), list(by_follows)
    t = f = 0
    while len(out) < limit and (t < len(taste) or f < len(follows)):
        take_taste = t < len(taste) and (
            f >= len(follows) or len(out) % (TASTE_RUN + 1) < TASTE_RUN
        )
        if take_taste:
            pid, reason = taste[t]
            t += 1
        else:
            pid, reason = follows[f]
            f += 1
        if pid not in seen:
            seen.add(pid)
            out.append((pid, reason))
    return out


def timedelta_within(age: dt.timedelta, limit: dt.timedelta) -> bool:
    return dt.timedelta(0) <= age < limit


def _minute(when: dt.datetime) -> dt.datetime:
    return when.replace(second=0, microsecond=0)


def day_start(now: dt.datetime) -> dt.datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def record_impressions(
    conn: sa.Connection, user_id: int, paper_ids: Iterable[int], source: Source, now: dt.datetime
) -> None:
    """Records papers as recommended to the reader (a paper already recorded keeps its first
    record), in the caller's transaction."""
    record_impressions_of(conn, [(user_id, paper_ids)], source, now)


def record_impressions_of(
    conn: sa.Connection,
    shown: Iterable[tuple[int, Iterable[int]]],
    source: Source,
    now: dt.datetime,
) -> None:
    """`record_impressions` for several readers (user id, paper ids) in one statement (a
    digest batch's rows)."""
    rows = [
        {"user_id": uid, "paper_id": pid, "source": source, "shown_at": now}
        for uid, pid in dict.fromkeys((uid, pid) for uid, ids in shown for pid in ids)
    ]
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(recommendation_impressions).on_conflict_do_nothing(), rows)


def impressions_export(conn: sa.Connection, user_id: int) -> list[dict[str, object]]:
    """The papers recommended to the reader (the account's data export), oldest first."""
    rows = conn.execute(
        sa.select(
            papers.c.id,
            papers.c.arxiv_id,
            papers.c.title,
            recommendation_impressions.c.source,
            recommendation_impressions.c.shown_at,
        )
        .join(papers, papers.c.id == recommendation_impressions.c.paper_id)
        .where(recommendation_impressions.c.user_id == user_id)
        .order_by(recommendation_impressions.c.shown_at, papers.c.id)
    )
    return [
        {
            "paper": public_id(r.arxiv_id, r.id),
            "title": r.title,
            "in": r.source,
            "at": r.shown_at.isoformat(),
        }
        for r in rows
    ]


class ForYouService:
    def __init__(
        self,
        engine: sa.Engine,
        cards: CardService,
        follows: FollowService,
        recommender: Recommender,
        trending: TrendingService,
        search: Callable[[], SearchService],
        *,
        reader: sa.Engine | None = None,
        clock: Clock = utcnow,
        days: int = 7,
    ) -> None:
        self.engine = engine
        self.reader = reader or engine
        self.cards = cards
        self.follow_service = follows
        self.recommender = recommender
        self.trending = trending
        self.search = search  # the search service being served (a new one after a swap)
        self.clock = clock
        self.days = days
        # The latest rankings by taste, by (reader, limit, inputs): see _by_taste.
        self._ranked: OrderedDict[
            tuple[int, int, int], tuple[dt.datetime, list[tuple[int, Reason]]]
        ] = OrderedDict()
        self._ranked_lock = threading.Lock()
        self._candidates = RunCache()  # the page's candidates of the current minute

    # -- the page, the API, the CLI ----------------------------------------------------------

    def recommend(self, user: User, *, limit: int = PAGE_SIZE, record: bool = True) -> ForYou:
        """The reader's list now, best first; with `record`, its papers by taste and follows
        are recorded as recommended (the page and the API; the CLI only looks)."""
        now = self.clock()
        limit = max(1, min(limit, MAX_LIMIT))
        since = now - dt.timedelta(days=self.days)
        picked = self.pick(user.id, now=now, since=since, limit=limit, page_day=day_start(now))
        chosen = merge(picked.by_taste, picked.by_follows, limit)
        onboarding = not picked.signals.liked and not picked.follows
        reasons = dict(chosen)
        because = [r.because for _, r in chosen if r.because is not None]
        cards = self.cards.cards([pid for pid, _ in chosen] + because, viewer=user)
        by_id = {c.paper_id: c for c in cards}
        items = [
            Recommended(by_id[pid], name_reason(reasons[pid], by_id))
            for pid, _ in chosen
            if pid in by_id
        ]
        if record:
            new = [item.card.paper_id for item in items if item.card.paper_id not in picked.shown]
            if new:
                with self.engine.begin() as conn:
                    record_impressions(conn, user.id, new, "page", now)
        if not items:  # nothing by taste or follows (a new reader, or all of it seen)
            items = self._trending(user, picked.signals.seen | picked.shown, limit)
        return ForYou(
            items,
            "onboarding" if onboarding else "ready",
            since,
            now,
            len(picked.signals.liked),
            picked.follows,
            self.recommender.ready(),
        )

    def _trending(
        self, user: User, left_out: set[int] | frozenset[int], limit: int
    ) -> list[Recommended]:
        """Trending papers the reader has not seen nor been recommended."""
        trend = self.trending.trend(limit=limit + len(left_out), viewer=user)
        reason = Reason("trending", "trending", "/trending")
        return [
            Recommended(card, reason) for card, _ in trend.papers if card.paper_id not in left_out
        ][:limit]

    def warm(self, now: dt.datetime | None = None) -> None:
        """The page's candidates of this minute read and their pool made (their vectors and
        words: `Recommender.prepare`) ahead of the readers, so that no request makes them.
        A serving process's index follower calls it after each poll (search/follow.py, wired
        in http/app.py): when the process starts, and again when the minute's list, the
        vector index or the papers' words changed; otherwise it finds both kept (~1 ms). A
        request that comes before it (the first seconds of a minute whose list moved, or a
        poll that takes long) makes the pool itself, or waits for the one being made."""
        if not self.recommender.ready():
            return
        now = self.clock() if now is None else now
        ids, _ = self.candidates(now - dt.timedelta(days=self.days), now)
        self.recommender.prepare(ids)

    # -- what taste and follows choose (the page and the digest) --------------------------------

    def candidates(
        self, since: dt.datetime, now: dt.datetime, cache: RunCache | None = None
    ) -> tuple[list[int], frozenset[int]]:
        """The candidate papers (by id) and the same as a set. Without a run's cache, the
        page's: read at most once a minute per process (the window's ends to the minute)."""
        if cache is None:
            since, now = _minute(since), _minute(now)
            cache = self._candidates
        key = (since, now)
        with self._ranked_lock:
            found_before = cache.candidates.get(key)
        if found_before is not None:
            return found_before
        with self.reader.connect() as conn:
            found = set(
                conn.execute(
                    sa.select(papers.c.id).where(
                        papers.c.submitted_at >= since, papers.c.submitted_at <= now
                    )
                )
                .scalars()
                .all()
            )
            found.update(
                conn.execute(
                    sa.select(daily_papers.c.paper_id).where(
                        daily_papers.c.submitted_on >= since.date(),
                        daily_papers.c.submitted_on <= now.date(),
                    )
                )
                .scalars()
                .all()
            )
        result = (sorted(found), frozenset(found))
        with self._ranked_lock:
            if cache is self._candidates:
                cache.candidates.clear()  # one window at a time: the minute moved on
            cache.candidates[key] = result
        return result

    def pick(
        self,
        user_id: int,
        *,
        now: dt.datetime,
        since: dt.datetime,
        limit: int,
        page_day: dt.datetime | None = None,
        cache: RunCache | None = None,
    ) -> Picked:
        """The reader's papers by taste and by follows among the candidates, each list best
        first (at most `limit` each). Papers recorded as recommended are left out, except
        those shown on the page since `page_day` (today's list stays as it was)."""
        return self.pick_many(
            [user_id], now=now, since=since, limit=limit, page_day=page_day, cache=cache
        )[0]

    def pick_many(
        self,
        user_ids: Sequence[int],
        *,
        now: dt.datetime,
        since: dt.datetime,
        limit: int,
        page_day: dt.datetime | None = None,
        cache: RunCache | None = None,
    ) -> list[Picked]:
        """`pick` for several readers (a digest run's batch), in their order: their signals,
        impressions and follows read in one query each for all of them, and their liked
        papers' words read at once, rather than a few queries per reader."""
        wanted = list(dict.fromkeys(user_ids))
        shown: dict[int, set[int]] = {uid: set() for uid in wanted}
        kept: dict[int, set[int]] = {uid: set() for uid in wanted}
        with self.reader.connect() as conn:
            signals = readers_signals(conn, wanted)
            if wanted:
                for uid, pid, source, at in conn.execute(
                    sa.select(
                        recommendation_impressions.c.user_id,
                        recommendation_impressions.c.paper_id,
                        recommendation_impressions.c.source,
                        recommendation_impressions.c.shown_at,
                    ).where(
                        recommendation_impressions.c.user_id.in_(
                            sa.bindparam("ids", expanding=True)
                        )
                    ),
                    {"ids": wanted},
                ):
                    shown[uid].add(pid)
                    if page_day is not None and source == "page" and at >= page_day:
                        kept[uid].add(pid)
        follows = self.follow_service.follows_of(wanted)
        if cache is not None:
            if cache.hidden is None:
                cache.hidden = self.cards.hidden_ids()
            hidden = cache.hidden
        else:
            hidden = self.cards.hidden_ids()
        ids, inside = self.candidates(since, now, cache)
        liked = {pid for uid in wanted for pid in signals[uid].liked}
        if (
            len(wanted) > 1
            and liked
            and self.recommender.weights.words
            and self.recommender.ready()
        ):
            # Their words in one read of the term store (each ranking finds them kept).
            self.recommender.terms.get(sorted(liked))
        return [
            self._picked(
                uid,
                signals[uid],
                shown[uid],
                signals[uid].seen | (shown[uid] - kept[uid]) | hidden,
                follows[uid],
                ids,
                inside,
                limit,
                cache,
            )
            for uid in user_ids
        ]

    def _picked(
        self,
        user_id: int,
        signals: ReaderSignals,
        shown: set[int],
        excluded: set[int] | frozenset[int],
        follows: list[Follow],
        ids: list[int],
        inside: frozenset[int],
        limit: int,
        cache: RunCache | None,
    ) -> Picked:
        """One reader's papers by taste and by follows, from what `pick_many` read."""
        by_taste = self._by_taste(user_id, signals, ids, excluded, limit) if signals.liked else []
        by_follows: list[tuple[int, Reason]] = []
        taken: set[int] = set()
        for follow in follows:
            reason = follow_reason(follow)
            for pid in self._follow_papers(follow, cache):
                if pid in inside and pid not in excluded and pid not in taken:
                    taken.add(pid)
                    by_follows.append((pid, reason))
        by_follows = _round_robin(by_follows)[:limit]
        return Picked(by_taste, by_follows, signals, follows, set(shown))

    def _by_taste(
        self,
        user_id: int,
        signals: ReaderSignals,
        candidates: list[int],
        excluded: set[int] | frozenset[int],
        limit: int,
    ) -> list[tuple[int, Reason]]:
        """The Recommender's ranking of the candidates not excluded, kept for the same reader
        and inputs for RANKED_FOR (a reload ranks nothing again; any action of the reader, or
        a new paper, changes the inputs; a vector added to a candidate since counts after
        RANKED_FOR). The whole list of candidates goes to the Recommender with the reader's
        exclusions beside it: it keeps what it made of the list for the next reader."""
        if not any(pid not in excluded for pid in candidates):
            return []
        liked, disliked = sorted(signals.liked), sorted(signals.disliked)
        inputs = (tuple(liked), tuple(disliked), tuple(candidates), frozenset(excluded))
        key = (user_id, limit, hash(inputs))
        now = self.clock()
        with self._ranked_lock:
            found = self._ranked.get(key)
            if found is not None and timedelta_within(now - found[0], RANKED_FOR):
                self._ranked.move_to_end(key)
                return found[1]
        ranked = [
            # Named by its title and page once its card is read (name_reason).
            (rec.paper_id, Reason("liked", "", "", rec.similarity, rec.because))
            for rec in self.recommender.rank(
                liked, disliked, candidates, exclude=excluded, limit=limit
            )
        ]
        with self._ranked_lock:
            self._ranked[key] = (now, ranked)
            while len(self._ranked) > RANKED_KEPT:
                self._ranked.popitem(last=False)
        return ranked

    def _follow_papers(self, follow: Follow, cache: RunCache | None) -> list[int]:
        key = (follow.kind, follow.value, tuple(sorted(follow.filters.items())))
        if cache is not None and key in cache.follow_papers:
            return cache.follow_papers[key]
        found = [
            card.paper_id
            for card in self.follow_service.papers(follow, self.search(), limit=FOLLOW_PAPERS)
        ]
        if cache is not None:
            cache.follow_papers[key] = found
        return found


def _round_robin(found: list[tuple[int, Reason]]) -> list[tuple[int, Reason]]:
    """Papers of several follows taken in turns (each follow's newest first), so that one
    busy category does not fill the list."""
    groups: dict[Reason, list[tuple[int, Reason]]] = {}
    for item in found:
        groups.setdefault(item[1], []).append(item)
    out: list[tuple[int, Reason]] = []
    queues = list(groups.values())
    n = 0
    while any(n < len(q) for q in queues):
        out.extend(q[n] for q in queues if n < len(q))
        n += 1
    return out
