"""Fixed-window rate limits kept in the database, so that every app process shares them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.clock import Clock, utcnow
from paperfeed.db.schema import rate_limits


@dataclass(frozen=True)
class Limit:
    action: str
    count: int
    per: dt.timedelta


# Per client address (and, where the handler names one, per account, email or user as well).
SIGN_IN = Limit("sign-in", 10, dt.timedelta(minutes=5))
# Sign-ins to one account from all clients together: much higher than a client's own limit,
# so that strangers guessing a password do not lock its owner out (the attempts at one
# account from one client are bounded by the client's limit, SIGN_IN).
SIGN_IN_ACCOUNT = Limit("account sign-in", 100, dt.timedelta(minutes=5))
SIGN_UP = Limit("sign-up", 5, dt.timedelta(hours=1))
SUBMIT = Limit("submit", 20, dt.timedelta(hours=1))
PASSWORD_RESET = Limit("reset", 5, dt.timedelta(hours=1))
SUBSCRIBE = Limit("subscribe", 10, dt.timedelta(hours=1))
COMMENT = Limit("comment", 30, dt.timedelta(hours=1))


class RateLimited(Exception):
    def __init__(self, limit: Limit, retry_after: int) -> None:
        super().__init__(f"too many {limit.action} attempts; try again in {retry_after} s")
        self.limit = limit
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, engine: sa.Engine, scale: float = 1.0, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.scale = scale
        self.clock = clock  # the windows are aligned to this clock's epoch seconds

    def hit(self, limit: Limit, client: str) -> None:
        """Count one attempt; raises RateLimited when the window's allowance is used up."""
        now = self.clock()
        seconds = int(limit.per.total_seconds())
        start = int(now.replace(tzinfo=dt.UTC).timestamp()) // seconds * seconds
        key = f"{limit.action}|{client[:200]}|{start}"
        expires = dt.datetime.fromtimestamp(start + seconds, dt.UTC).replace(tzinfo=None)
        allowed = max(1, int(limit.count * self.scale))
        with self.engine.begin() as conn:
            updated = conn.execute(
                rate_limits.update()
                .where(rate_limits.c.key == key)
                .values(count=rate_limits.c.count + 1)
                .returning(rate_limits.c.count)
            ).scalar()
            if updated is None:
                conn.execute(rate_limits.delete().where(rate_limits.c.expires_at < now))
                try:
                    with conn.begin_nested():
                        conn.execute(
                            rate_limits.insert().values(key=key, count=1, expires_at=expires)
                        )
                    updated = 1
                except sa.exc.IntegrityError:  # another process inserted it first
                    updated = conn.execute(
                        rate_limits.update()
                        .where(rate_limits.c.key == key)
                        .values(count=rate_limits.c.count + 1)
                        .returning(rate_limits.c.count)
                    ).scalar_one()
        if updated > allowed:
            raise RateLimited(limit, max(1, int((expires - now).total_seconds())))
