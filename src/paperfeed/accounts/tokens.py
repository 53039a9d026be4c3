"""Random secrets handed to users (cookies, API tokens, emailed links). Only their SHA-256
is stored, so a leaked database does not let anyone act as a user."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
