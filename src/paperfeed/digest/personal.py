"""The personal sections of a digest, for a subscriber whose address is the confirmed email
of an account: "For you" (the reader's taste, recommend/foryou.py), "From what you follow"
(new papers of their follows) and the edition's trending papers, each on or off in their
preferences. Without an account the trending papers are the whole digest, as before.

The sections are chosen when the delivery row is written and stored in it (`Personal`, JSON),
with the trending papers chosen then: every attempt of that delivery sends the same papers
with the same reasons. Their papers are recorded as recommended in the same transaction
(recommend/foryou.py leaves them out of later lists and digests).

Candidates: the papers of the last 3 days for a daily edition (a Monday's digest covers the
weekend), of the last 7 for a weekly one; at most the subscriber's number of papers in each
section. Each paper in these sections has "More like this" and "Not for me" links
(recommend/rating_links.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from paperfeed.community.cards import PaperCard
from paperfeed.digest.editions import Edition
from paperfeed.digest.preferences import Preferences
from paperfeed.digest.render import MailSection, RatedPaper
from paperfeed.recommend import rating_links
from paperfeed.recommend.foryou import ForYouService, Picked, Reason, RunCache, name_reason

DAYS = {"daily": 3, "weekly": 7}


@dataclass(frozen=True)
class Personal:
    """A delivery's personal sections (paper ids with reasons, best first) and its trending
    papers, as stored in its row."""

    user_id: int
    for_you: tuple[tuple[int, Reason], ...] = ()
    follows: tuple[tuple[int, Reason], ...] = ()
    trending: tuple[int, ...] = ()

    @property
    def recommended(self) -> list[int]:
        """The papers recommended to the reader (the trending ones are everybody's)."""
        return [pid for pid, _ in self.for_you] + [pid for pid, _ in self.follows]

    @property
    def empty(self) -> bool:
        return not (self.for_you or self.follows or self.trending)

    def as_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "for_you": [[pid, r.as_dict()] for pid, r in self.for_you],
            "follows": [[pid, r.as_dict()] for pid, r in self.follows],
            "trending": list(self.trending),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Personal:
        return cls(
            int(data["user_id"]),
            tuple((int(pid), Reason.of(r)) for pid, r in data.get("for_you", [])),
            tuple((int(pid), Reason.of(r)) for pid, r in data.get("follows", [])),
            tuple(int(pid) for pid in data.get("trending", [])),
        )


@dataclass
class PersonalDigests:
    """Chooses the personal sections of the subscribers of a run (one RunCache per run: the
    candidates and each follow's papers are shared)."""

    for_you: ForYouService
    secret: bytes
    cache: RunCache = field(default_factory=RunCache)
    _titles: dict[int, PaperCard] = field(default_factory=dict)

    def new_run(self) -> None:
        self.cache = RunCache()
        self._titles = {}

    def choose(
        self,
        user_id: int,
        prefs: Preferences,
        edition: Edition,
        trending: Sequence[int],
        now: dt.datetime,
    ) -> Personal:
        """The sections for one subscriber with an account; `trending`: the edition's papers
        their preferences chose, by id (left out when they turned trending off)."""
        return self.choose_many([(user_id, prefs, trending)], edition, now)[0]

    def choose_many(
        self,
        asks: Sequence[tuple[int, Preferences, Sequence[int]]],
        edition: Edition,
        now: dt.datetime,
    ) -> list[Personal]:
        """`choose` for several subscribers (user id, preferences, trending papers by id):
        their signals, impressions and follows read in one query each for all of them
        (`ForYouService.pick_many`, readers with the same number of papers together), the
        liked papers their reasons name read at once."""
        since = now - dt.timedelta(days=DAYS.get(edition.kind, 7))
        by_limit: dict[int, list[int]] = {}
        for uid, prefs, _ in asks:
            if prefs.for_you or prefs.follows:
                by_limit.setdefault(prefs.max_papers, []).append(uid)
        picked: dict[tuple[int, int], Picked] = {}
        for limit, user_ids in by_limit.items():
            found = self.for_you.pick_many(
                user_ids, now=now, since=since, limit=limit, cache=self.cache
            )
            picked.update(((limit, uid), p) for uid, p in zip(user_ids, found, strict=True))
        chosen = [
            self._unnamed(uid, prefs, trending, picked.get((prefs.max_papers, uid)))
            for uid, prefs, trending in asks
        ]
        self._read_titles([r.because for p in chosen for _, r in p.for_you if r.because])
        return [
            dataclasses.replace(
                p, for_you=tuple((pid, name_reason(r, self._titles)) for pid, r in p.for_you)
            )
            for p in chosen
        ]

    def _unnamed(
        self,
        user_id: int,
        prefs: Preferences,
        trending: Sequence[int],
        picked: Picked | None,
    ) -> Personal:
        """One subscriber's sections from what taste and follows picked for them (None when
        their preferences turned both off)."""
        limit = prefs.max_papers
        by_taste: list[tuple[int, Reason]] = []
        by_follows: list[tuple[int, Reason]] = []
        if picked is not None:
            if prefs.for_you:
                by_taste = picked.by_taste
            if prefs.follows:
                taken = {pid for pid, _ in by_taste}
                by_follows = [(p, r) for p, r in picked.by_follows if p not in taken][:limit]
        shown = {pid for pid, _ in by_taste} | {pid for pid, _ in by_follows}
        chosen = [pid for pid in trending if pid not in shown] if prefs.trending else []
        return Personal(user_id, tuple(by_taste), tuple(by_follows), tuple(chosen))

    def _read_titles(self, liked: list[int]) -> None:
        """Liked papers' cards, for their reasons' titles (each read once a run)."""
        missing = sorted({pid for pid in liked if pid not in self._titles})
        if missing:
            for card in self.for_you.cards.cards(missing):
                self._titles[card.paper_id] = card

    def sections(
        self, personal: Personal, cards: dict[int, PaperCard], base_url: str
    ) -> list[MailSection]:
        """The mail's sections, each paper with its reason's sentence and rating links
        (papers hidden since the row was written are left out)."""
        out = []
        for heading, items in (
            ("For you", [(pid, r.text) for pid, r in personal.for_you]),
            ("New from what you follow", [(pid, r.text) for pid, r in personal.follows]),
            ("Trending on paperfeed", [(pid, "") for pid in personal.trending]),
        ):
            papers = [
                RatedPaper(
                    cards[pid],
                    reason,
                    self.rating_url(base_url, personal.user_id, pid, "more"),
                    self.rating_url(base_url, personal.user_id, pid, "less"),
                )
                for pid, reason in items
                if pid in cards
            ]
            if papers:
                out.append(MailSection(heading, papers))
        return out

    def rating_url(self, base_url: str, user_id: int, paper_id: int, rating: str) -> str:
        token = rating_links.sign(
            self.secret, user_id, paper_id, "more" if rating == "more" else "less"
        )
        return f"{base_url}/rate/{token}"
