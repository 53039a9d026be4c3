"""The "more like this" and "not for me" links of a personal digest: a token naming a reader,
a paper and the rating, signed with the server secret (HMAC-SHA256), so that the link needs
no sign-in and cannot be made for another reader or paper. Opening the link only shows a
page with one button (mail scanners open every link); the button's POST rates.

    more   "more like this": the paper is saved to the reader's reading list (a like)
    less   "not for me": the paper is marked "not interested" (a dislike)

A token does not expire; it can do nothing but that one rating, which the reader can undo on
the paper's card."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

Rating = Literal["more", "less"]
_TOKEN = re.compile(r"u([1-9][0-9]{0,11})-p([1-9][0-9]{0,11})-(more|less)-([A-Za-z0-9_-]{22})")
_PURPOSE = b"paperfeed digest rating link"


@dataclass(frozen=True)
class RatingLink:
    user_id: int
    paper_id: int
    rating: Rating


@functools.lru_cache(maxsize=8)
def _keyed(secret: bytes) -> hmac.HMAC:
    """The HMAC keyed for rating links, ready to be copied (the key's setup done once: a
    digest signs tens of thousands of links)."""
    key = hmac.new(secret, _PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def _signature(secret: bytes, payload: str) -> str:
    mac = _keyed(secret).copy()
    mac.update(payload.encode())
    return base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode()


def sign(secret: bytes, user_id: int, paper_id: int, rating: Rating) -> str:
    payload = f"u{user_id}-p{paper_id}-{rating}"
    return f"{payload}-{_signature(secret, payload)}"


def verify(secret: bytes, token: str) -> RatingLink | None:
    """The rating a token names, or None when it is malformed or not signed by us."""
    found = _TOKEN.fullmatch(token or "")
    if found is None:
        return None
    user_id, paper_id, rating, signature = found.groups()
    payload = f"u{user_id}-p{paper_id}-{rating}"
    if not hmac.compare_digest(_signature(secret, payload), signature):
        return None
    return RatingLink(int(user_id), int(paper_id), "more" if rating == "more" else "less")
