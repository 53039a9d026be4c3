"""A subscriber's digest preferences: daily or weekly, the categories to include (none: all),
how many papers (default 10), only papers with code. A subscription without a row has the
defaults. Changing them never resends an edition: deliveries are per (edition, subscription),
and an edition of a kind built before the subscriber chose that kind is not sent
(`frequency_since`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from paperfeed.clock import Clock, utcnow
from paperfeed.db.schema import digest_preferences, subscriptions

if TYPE_CHECKING:
    from paperfeed.community.cards import PaperCard

Frequency = Literal["daily", "weekly"]
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly")
DEFAULT_MAX_PAPERS = 10
MAX_PAPERS_LIMIT = 50
MAX_CATEGORIES = 50
# An arXiv category (cs.LG, math.AP, hep-th) or a whole archive (cs, math, physics).
_CATEGORY = re.compile(r"^[a-z][a-z-]{0,15}(?:\.[A-Za-z][A-Za-z-]{0,15})?$")


class BadPreferences(ValueError):
    """Preferences that cannot be stored; the message says which value and why."""


@dataclass(frozen=True)
class Preferences:
    frequency: Frequency = "daily"
    categories: tuple[str, ...] = ()  # empty: every category
    max_papers: int = DEFAULT_MAX_PAPERS
    code_only: bool = False
    changed_at: dt.datetime | None = None  # None: never changed (the defaults)
    frequency_since: dt.datetime | None = None  # None: since the subscription was confirmed
    # The sections of a subscriber with an account (digest/personal.py); without one, the
    # trending papers are the whole digest.
    for_you: bool = True
    follows: bool = True
    trending: bool = True

    def wants(self, card: PaperCard) -> bool:
        """Whether a paper of the edition belongs in this subscriber's digest."""
        if self.code_only and not card.code_links():
            return False
        if not self.categories:
            return True
        wanted = self.categories
        return any(c in wanted or c.partition(".")[0] in wanted for c in card.categories)

    def choose(self, cards: Iterable[PaperCard] | Candidates) -> list[PaperCard]:
        """The edition's papers this subscriber gets, in the edition's order (the same as
        `wants` card by card; with `Candidates`, made once for many subscribers, faster)."""
        if isinstance(cards, Candidates):
            return cards.chosen_by(self)
        if not self.categories and not self.code_only:
            return list(islice(cards, self.max_papers))
        chosen: list[PaperCard] = []
        for card in cards:
            if self.wants(card):
                chosen.append(card)
                if len(chosen) >= self.max_papers:
                    break
        return chosen


class Candidates:
    """An edition's papers with what preferences look at worked out once (each paper's
    categories with their archives, whether it has code), for choosing among them for many
    subscribers."""

    def __init__(self, cards: Iterable[PaperCard]) -> None:
        self.cards = list(cards)
        self._facts = [
            (
                card,
                frozenset(k for c in card.categories for k in (c, c.partition(".")[0])),
                bool(card.code_links()),
            )
            for card in self.cards
        ]

    def chosen_by(self, prefs: Preferences) -> list[PaperCard]:
        if not prefs.categories and not prefs.code_only:
            return self.cards[: prefs.max_papers]
        wanted = frozenset(prefs.categories)
        code_only, limit = prefs.code_only, prefs.max_papers
        chosen: list[PaperCard] = []
        for card, keys, has_code in self._facts:
            if (code_only and not has_code) or (wanted and keys.isdisjoint(wanted)):
                continue
            chosen.append(card)
            if len(chosen) >= limit:
                break
        return chosen


def validate(
    *,
    frequency: str | None = None,
    categories: Iterable[str] | None = None,
    max_papers: int | None = None,
) -> dict[str, Any]:
    """Checked values (only those given); BadPreferences for anything else."""
    values: dict[str, Any] = {}
    if frequency is not None:
        if frequency not in FREQUENCIES:
            raise BadPreferences(f"frequency {frequency[:20]!r} is not daily or weekly")
        values["frequency"] = frequency
    if categories is not None:
        cleaned = list(dict.fromkeys(c.strip() for c in categories if c.strip()))
        if len(cleaned) > MAX_CATEGORIES:
            raise BadPreferences(f"at most {MAX_CATEGORIES} categories")
        for category in cleaned:
            if not _CATEGORY.fullmatch(category):
                raise BadPreferences(
                    f"{category[:40]!r} is not an arXiv category (such as cs.LG) or archive (cs)"
                )
        values["categories"] = cleaned
    if max_papers is not None:
        if not 1 <= max_papers <= MAX_PAPERS_LIMIT:
            raise BadPreferences(f"the number of papers must be from 1 to {MAX_PAPERS_LIMIT}")
        values["max_papers"] = max_papers
    return values


def from_row(row: Any) -> Preferences:
    """Preferences from a row of digest_preferences (or None columns of an outer join)."""
    if row is None or row.frequency is None:
        return Preferences()
    return Preferences(
        frequency=row.frequency,
        categories=tuple(row.categories or ()),
        max_papers=row.max_papers,
        code_only=bool(row.code_only),
        changed_at=row.changed_at,
        frequency_since=row.frequency_since,
        for_you=bool(getattr(row, "for_you", True)),
        follows=bool(getattr(row, "follows", True)),
        trending=bool(getattr(row, "trending", True)),
    )


@dataclass
class PreferenceService:
    engine: sa.Engine
    clock: Clock = field(default=utcnow)

    def get(self, subscription_id: int) -> Preferences:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(digest_preferences).where(
                    digest_preferences.c.subscription_id == subscription_id
                )
            ).first()
        return from_row(row)

    def get_by_token(self, token: str) -> tuple[int, Preferences] | None:
        """(subscription id, preferences) of the subscription with this capability token."""
        if not token or len(token) > 64:
            return None
        with self.engine.connect() as conn:
            sub_id = conn.execute(
                sa.select(subscriptions.c.id).where(subscriptions.c.token == token)
            ).scalar()
        return None if sub_id is None else (sub_id, self.get(sub_id))

    def set(
        self,
        subscription_id: int,
        *,
        frequency: str | None = None,
        categories: Iterable[str] | None = None,
        max_papers: int | None = None,
        code_only: bool | None = None,
        for_you: bool | None = None,
        follows: bool | None = None,
        trending: bool | None = None,
    ) -> Preferences:
        """Change the given preferences (the others stay); BadPreferences leaves all as
        they were."""
        values = validate(frequency=frequency, categories=categories, max_papers=max_papers)
        for name, flag in (
            ("code_only", code_only),
            ("for_you", for_you),
            ("follows", follows),
            ("trending", trending),
        ):
            if flag is not None:
                values[name] = bool(flag)
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(digest_preferences).where(
                    digest_preferences.c.subscription_id == subscription_id
                )
            ).first()
            current = from_row(row)
            merged = {
                "frequency": current.frequency,
                "categories": list(current.categories),
                "max_papers": current.max_papers,
                "code_only": current.code_only,
                "for_you": current.for_you,
                "follows": current.follows,
                "trending": current.trending,
                **values,
            }
            since = current.frequency_since
            if merged["frequency"] != current.frequency:
                since = now
            merged |= {"changed_at": now, "frequency_since": since}
            if row is None:
                conn.execute(
                    digest_preferences.insert().values(subscription_id=subscription_id, **merged)
                )
            else:
                conn.execute(
                    digest_preferences.update()
                    .where(digest_preferences.c.subscription_id == subscription_id)
                    .values(**merged)
                )
        return Preferences(
            frequency=merged["frequency"],
            categories=tuple(merged["categories"]),
            max_papers=merged["max_papers"],
            code_only=merged["code_only"],
            changed_at=now,
            frequency_since=since,
            for_you=merged["for_you"],
            follows=merged["follows"],
            trending=merged["trending"],
        )
