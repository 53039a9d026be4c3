"""AccountService: sign-up, sign-in, sessions, API tokens and password resets."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paperfeed.accounts.tokens import new_token, token_hash
from paperfeed.clock import Clock, utcnow
from paperfeed.db.schema import api_tokens, password_resets, user_sessions, users

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is an attack
RESET_VALID = dt.timedelta(hours=2)
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,38}$")


class AccountError(ValueError):
    """A request the user can fix (the message says how)."""


@dataclass(frozen=True)
class User:
    id: int
    email: str
    username: str
    fullname: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def display_name(self) -> str:
        return self.fullname or self.username


def _user(row: sa.RowMapping) -> User:
    return User(row["id"], row["email"], row["username"], row["fullname"], row["role"])


def normalise_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.match(email):
        raise AccountError("enter a valid email address, like ada@example.org")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}".lower()


class AccountService:
    def __init__(
        self,
        engine: sa.Engine,
        *,
        session_days: int = 30,
        admin_emails: frozenset[str] = frozenset(),
        reader: sa.Engine | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.clock = clock  # sessions, tokens and resets are stamped and expired by it
        # Reads go through `reader`: on SQLite an engine that never takes the write lock.
        self.reader = reader or engine
        self.session_life = dt.timedelta(days=session_days)
        self.admin_emails = frozenset(e.lower() for e in admin_emails)
        # OWASP's argon2id baseline (19 MiB, t=2) costs ~25 ms here: slow for guessing, fine
        # for a sign-in.
        self.hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

    # -- accounts ------------------------------------------------------------------------------

    def sign_up(self, email: str, username: str, password: str, fullname: str = "") -> User:
        email = normalise_email(email)
        username = username.strip()
        if not _USERNAME.match(username):
            raise AccountError(
                "a username has 2-39 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit"
            )
        self._check_password(password)
        fullname = " ".join(fullname.split())[:200]
        role = "admin" if email in self.admin_emails else "user"
        values = {
            "email": email,
            "username": username,
            "fullname": fullname,
            "password_hash": self.hasher.hash(password),
            "role": role,
            "created_at": self.clock(),
        }
        with self.engine.begin() as conn:
            taken = conn.execute(
                sa.select(users.c.email, users.c.username).where(
                    sa.or_(
                        users.c.email == email,
                        sa.func.lower(users.c.username) == username.lower(),
                    )
                )
            ).first()
            if taken is not None:
                what = "email" if taken.email == email else "username"
                raise AccountError(f"an account with this {what} already exists")
            user_id = conn.execute(users.insert().values(values).returning(users.c.id)).scalar_one()
        return User(int(user_id), email, username, fullname, role)

    def authenticate(self, email: str, password: str) -> User | None:
        try:
            email = normalise_email(email)
        except AccountError:
            return None
        with self.reader.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.email == email)).mappings().first()
        if row is None or len(password) > MAX_PASSWORD:
            # Hash anyway so that response time does not reveal which emails have accounts.
            self.hasher.hash(password[:MAX_PASSWORD])
            return None
        try:
            self.hasher.verify(row["password_hash"], password)
        except (VerificationError, InvalidHashError):
            return None
        if self.hasher.check_needs_rehash(row["password_hash"]):
            self._set_password(row["id"], password)
        return _user(row)

    def get(self, user_id: int) -> User | None:
        with self.reader.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).mappings().first()
        return _user(row) if row else None

    def by_username(self, username: str) -> User | None:
        with self.reader.connect() as conn:
            row = (
                conn.execute(sa.select(users).where(users.c.username == username))
                .mappings()
                .first()
            )
        return _user(row) if row else None

    def set_role(self, username: str, role: str) -> User:
        if role not in ("user", "admin"):
            raise AccountError("role is 'user' or 'admin'")
        with self.engine.begin() as conn:
            done = conn.execute(
                users.update().where(users.c.username == username).values(role=role)
            )
        if done.rowcount == 0:
            raise AccountError(f"no user named {username!r}")
        user = self.by_username(username)
        assert user is not None
        return user

    def _check_password(self, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"choose a password of at least {MIN_PASSWORD} characters")
        if len(password) > MAX_PASSWORD:
            raise AccountError(f"a password has at most {MAX_PASSWORD} characters")

    def _set_password(self, user_id: int, password: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                users.update()
                .where(users.c.id == user_id)
                .values(password_hash=self.hasher.hash(password))
            )

    # -- browser sessions ----------------------------------------------------------------------

    def start_session(self, user: User) -> str:
        token = new_token()
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(
                user_sessions.insert().values(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + self.session_life,
                )
            )
            conn.execute(user_sessions.delete().where(user_sessions.c.expires_at < now))
        return token

    def session_user(self, token: str | None) -> User | None:
        if not token or len(token) > 200:
            return None
        query = (
            sa.select(users)
            .join(user_sessions, user_sessions.c.user_id == users.c.id)
            .where(
                user_sessions.c.token_hash == token_hash(token),
                user_sessions.c.expires_at > self.clock(),
            )
        )
        with self.reader.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _user(row) if row else None

    def end_session(self, token: str | None) -> None:
        if not token:
            return
        with self.engine.begin() as conn:
            conn.execute(
                user_sessions.delete().where(user_sessions.c.token_hash == token_hash(token))
            )

    # -- API tokens ----------------------------------------------------------------------------

    def create_api_token(self, user: User, name: str = "api") -> str:
        token = "pf_" + new_token()
        with self.engine.begin() as conn:
            conn.execute(
                api_tokens.insert().values(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    name=name.strip()[:100] or "api",
                    created_at=self.clock(),
                )
            )
        return token

    def token_user(self, token: str | None) -> User | None:
        if not token or len(token) > 200:
            return None
        query = (
            sa.select(users)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == token_hash(token))
        )
        with self.reader.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _user(row) if row else None

    # -- password reset ------------------------------------------------------------------------

    def start_password_reset(self, email: str) -> tuple[User, str] | None:
        """A reset token for the account with this email (None: no such account; callers
        answer the same either way so that the form does not reveal who has an account)."""
        try:
            email = normalise_email(email)
        except AccountError:
            return None
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(users).where(users.c.email == email)).mappings().first()
            if row is None:
                return None
            token = new_token()
            conn.execute(
                password_resets.insert().values(
                    token_hash=token_hash(token),
                    user_id=row["id"],
                    expires_at=self.clock() + RESET_VALID,
                )
            )
        return _user(row), token

    def reset_password(self, token: str, password: str) -> User:
        self._check_password(password)
        now = self.clock()
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    sa.select(password_resets).where(
                        password_resets.c.token_hash == token_hash(token)
                    )
                )
                .mappings()
                .first()
            )
            if row is None or row["used_at"] is not None or row["expires_at"] < now:
                raise AccountError("this reset link has expired or was already used")
            conn.execute(
                password_resets.update()
                .where(password_resets.c.token_hash == row["token_hash"])
                .values(used_at=now)
            )
            conn.execute(
                users.update()
                .where(users.c.id == row["user_id"])
                .values(password_hash=self.hasher.hash(password))
            )
            # A reset signs out every browser: whoever knew the old password is out.
            conn.execute(user_sessions.delete().where(user_sessions.c.user_id == row["user_id"]))
        user = self.get(row["user_id"])
        assert user is not None
        return user
