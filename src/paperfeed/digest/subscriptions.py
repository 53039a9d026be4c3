"""Subscriptions to the trending-papers email, with double opt-in: a subscription is only
active once the link in its confirmation email is opened; every mail carries a one-click
unsubscribe link."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.accounts.service import normalise_email
from paperfeed.accounts.tokens import new_token
from paperfeed.clock import Clock, utcnow
from paperfeed.db.schema import subscriptions
from paperfeed.mail.messages import Messages


@dataclass(frozen=True)
class Subscription:
    email: str
    status: str  # pending | confirmed | unsubscribed
    token: str


class SubscriptionService:
    def __init__(self, engine: sa.Engine, messages: Messages, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.messages = messages
        self.clock = clock

    def subscribe(self, email: str) -> Subscription:
        """Record the request and mail a confirmation link. Subscribing again re-sends the
        link (a confirmed subscription stays confirmed and gets no mail)."""
        email = normalise_email(email)
        now = self.clock()
        with self.engine.begin() as conn:
            row = (
                conn.execute(sa.select(subscriptions).where(subscriptions.c.email == email))
                .mappings()
                .first()
            )
            if row is not None and row["status"] == "confirmed":
                return Subscription(email, "confirmed", row["token"])
            # While pending, the link of the first mail keeps working; after an unsubscribe,
            # a new token makes the old mails' confirm links void.
            token = row["token"] if row is not None and row["status"] == "pending" else new_token()
            if row is None:
                conn.execute(
                    subscriptions.insert().values(
                        email=email, token=token, status="pending", created_at=now
                    )
                )
            else:
                conn.execute(
                    subscriptions.update()
                    .where(subscriptions.c.id == row["id"])
                    .values(token=token, status="pending", unsubscribed_at=None)
                )
        # Sent after the commit: a failed send leaves a pending row that a retry re-sends.
        self.messages.subscription_confirmation(email, token)
        return Subscription(email, "pending", token)

    def confirm(self, token: str) -> Subscription | None:
        """Pending → confirmed (None for an unknown token, or one whose subscription was
        ended: an old confirmation mail does not subscribe anyone again)."""
        return self._set_status(
            token,
            "confirmed",
            "confirmed_at",
            only_from=("pending", "confirmed"),
            extra={"confirmed_via": "link"},
        )

    def unsubscribe(self, token: str) -> Subscription | None:
        return self._set_status(token, "unsubscribed", "unsubscribed_at")

    def _set_status(
        self,
        token: str,
        status: str,
        stamp: str,
        only_from: tuple[str, ...] | None = None,
        extra: dict[str, object] | None = None,
    ) -> Subscription | None:
        if not token or len(token) > 64:
            return None
        with self.engine.begin() as conn:
            row = (
                conn.execute(sa.select(subscriptions).where(subscriptions.c.token == token))
                .mappings()
                .first()
            )
            if row is None or (only_from is not None and row["status"] not in only_from):
                return None
            if row["status"] != status:
                conn.execute(
                    subscriptions.update()
                    .where(subscriptions.c.id == row["id"])
                    .values({"status": status, stamp: self.clock(), **(extra or {})})
                )
        return Subscription(row["email"], status, token)

    def get(self, email: str) -> Subscription | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(subscriptions).where(subscriptions.c.email == normalise_email(email))
                )
                .mappings()
                .first()
            )
        return Subscription(row["email"], row["status"], row["token"]) if row else None

    def by_token(self, token: str) -> Subscription | None:
        """The subscription a mail's capability token names (reading only: the pages behind
        a mail's links show it before anything is changed)."""
        if not token or len(token) > 64:
            return None
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(subscriptions).where(subscriptions.c.token == token))
                .mappings()
                .first()
            )
        return Subscription(row["email"], row["status"], row["token"]) if row else None

    # -- operators (`paperfeed digest subscribers ...`) ----------------------------------------

    def add_confirmed(self, email: str) -> tuple[Subscription, bool]:
        """Subscribe an address without double opt-in, as an operator importing a list
        does; recorded as confirmed_via "operator". (subscription, whether it changed)."""
        email = normalise_email(email)
        now = self.clock()
        with self.engine.begin() as conn:
            row = (
                conn.execute(sa.select(subscriptions).where(subscriptions.c.email == email))
                .mappings()
                .first()
            )
            if row is not None and row["status"] == "confirmed":
                return Subscription(email, "confirmed", row["token"]), False
            confirmed = {
                "status": "confirmed",
                "confirmed_at": now,
                "confirmed_via": "operator",
                "unsubscribed_at": None,
            }
            if row is None:
                token = new_token()
                conn.execute(
                    subscriptions.insert().values(
                        email=email, token=token, created_at=now, **confirmed
                    )
                )
            else:
                # A new token: links in mails from before an unsubscribe stay void.
                token = row["token"] if row["status"] == "pending" else new_token()
                conn.execute(
                    subscriptions.update()
                    .where(subscriptions.c.id == row["id"])
                    .values(token=token, **confirmed)
                )
        return Subscription(email, "confirmed", token), True

    def remove(self, email: str) -> Subscription | None:
        """Unsubscribe an address (its delivery history stays); None if it never subscribed."""
        found = self.get(email)
        if found is None:
            return None
        return self.unsubscribe(found.token)

    def listing(self) -> list[dict[str, object]]:
        """Every subscription, oldest first, with how it was confirmed."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    subscriptions.c.email,
                    subscriptions.c.status,
                    subscriptions.c.created_at,
                    subscriptions.c.confirmed_at,
                    subscriptions.c.confirmed_via,
                    subscriptions.c.unsubscribed_at,
                ).order_by(subscriptions.c.id)
            ).mappings()
            return [dict(row) for row in rows]
