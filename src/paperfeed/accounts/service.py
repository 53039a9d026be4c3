"""AccountService: sign-up with an emailed confirmation link, sign-in, sessions, API tokens,
password changes and resets.

An account is usable only once its address is confirmed: until then it cannot sign in, hold
an API token or a role (the admin list applies at confirmation). The service hands back the
tokens of mailed links; the caller mails them (http pages, see web/accounts.py)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paperfeed.accounts.tokens import new_token, token_hash
from paperfeed.clock import Clock, utcnow
from paperfeed.db.schema import (
    api_tokens,
    email_confirmations,
    password_resets,
    user_sessions,
    users,
)

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is an attack
RESET_VALID = dt.timedelta(hours=2)
# A confirmation link works this long; an account still unconfirmed when all its links have
# expired frees its email and username for the next sign-up.
CONFIRM_VALID = dt.timedelta(days=3)
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
    confirmed: bool = True  # the address was confirmed (by its link, a reset or an operator)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" and self.confirmed

    @property
    def display_name(self) -> str:
        return self.fullname or self.username


@dataclass(frozen=True)
class SignUp:
    """What a sign-up did. Either a new, unconfirmed account and the token of its
    confirmation link, or (`confirm_token` None) the account that already has this address,
    whose owner is to be told instead: the page answers the same either way."""

    user: User
    confirm_token: str | None


@dataclass(frozen=True)
class ApiToken:
    """An API token as its owner sees it listed (the secret itself is never stored)."""

    name: str
    created_at: dt.datetime


def _user(row: sa.RowMapping) -> User:
    return User(
        row["id"],
        row["email"],
        row["username"],
        row["fullname"],
        row["role"],
        row["email_confirmed_at"] is not None,
    )


_CONFIRMED = users.c.email_confirmed_at.is_not(None)


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
        password_hashing: tuple[int, int] = (2, 19 * 1024),
    ) -> None:
        self.engine = engine
        self.clock = clock  # sessions, tokens and resets are stamped and expired by it
        # Reads go through `reader`: on SQLite an engine that never takes the write lock.
        self.reader = reader or engine
        self.session_life = dt.timedelta(days=session_days)
        self.admin_emails = frozenset(e.lower() for e in admin_emails)
        # argon2id, (time cost, memory in KiB): by default OWASP's baseline (t=2, 19 MiB),
        # ~40 ms a hash here: slow for guessing, fine for a sign-in. Hashes stored with other
        # parameters are redone at the next good sign-in (`authenticate`).
        time_cost, memory_kib = password_hashing
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)

    # -- accounts ------------------------------------------------------------------------------

    def sign_up(self, email: str, username: str, password: str, fullname: str = "") -> SignUp:
        """A new account, unconfirmed, and the token of the link to confirm it; or, when the
        address already has an account, that account (its owner is mailed instead, and the
        page answers the same). A taken username is an AccountError either way (usernames
        are public), checked before the address so that the error tells nothing about it."""
        email, username, fullname = self._check_new(email, username, password, fullname)
        password_hash = self.hasher.hash(password)  # on both paths: the time tells nothing
        now = self.clock()
        for attempt in (1, 2):
            try:
                with self.engine.begin() as conn:
                    # An account never confirmed while a link of it was valid frees its
                    # names.
                    live_link = sa.exists().where(
                        email_confirmations.c.user_id == users.c.id,
                        email_confirmations.c.expires_at >= now,
                    )
                    conn.execute(
                        users.delete().where(
                            users.c.email_confirmed_at.is_(None),
                            ~live_link,
                            sa.or_(
                                users.c.email == email,
                                sa.func.lower(users.c.username) == username.lower(),
                            ),
                        )
                    )
                    self._refuse_taken_username(conn, username)
                    existing = (
                        conn.execute(sa.select(users).where(users.c.email == email))
                        .mappings()
                        .first()
                    )
                    if existing is not None:
                        return SignUp(_user(existing), None)
                    user = self._insert(conn, email, username, fullname, password_hash, None)
                    return SignUp(user, self._new_confirmation(conn, user.id))
            except sa.exc.IntegrityError:
                if attempt == 2:  # pragma: no cover - a third racer
                    raise
                # A sign-up racing this one took the address or username first: answer as if
                # it had come before.
        raise AssertionError("unreachable")  # pragma: no cover

    def add_user(
        self,
        email: str,
        username: str,
        password: str,
        fullname: str = "",
        *,
        role: str = "user",
    ) -> User:
        """An account made by an operator (`paperfeed users add`): confirmed at once, with
        `role` (admin as well when the address is on the admin list)."""
        email, username, fullname = self._check_new(email, username, password, fullname)
        self._check_role(role)
        with self.engine.begin() as conn:
            self._refuse_taken_username(conn, username)
            taken = conn.execute(sa.select(users.c.id).where(users.c.email == email)).first()
            if taken is not None:
                raise AccountError("an account with this email already exists")
            user = self._insert(
                conn, email, username, fullname, self.hasher.hash(password), self.clock()
            )
            if role == "admin" and not user.is_admin:
                conn.execute(users.update().where(users.c.id == user.id).values(role=role))
                user = User(user.id, email, username, fullname, role, True)
        return user

    def _check_new(
        self, email: str, username: str, password: str, fullname: str
    ) -> tuple[str, str, str]:
        email = normalise_email(email)
        username = username.strip()
        if not _USERNAME.match(username):
            raise AccountError(
                "a username has 2-39 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit"
            )
        self._check_password(password)
        return email, username, " ".join(fullname.split())[:200]

    @staticmethod
    def _refuse_taken_username(conn: sa.Connection, username: str) -> None:
        taken = conn.execute(
            sa.select(users.c.id).where(sa.func.lower(users.c.username) == username.lower())
        ).first()
        if taken is not None:
            raise AccountError("an account with this username already exists")

    def _insert(
        self,
        conn: sa.Connection,
        email: str,
        username: str,
        fullname: str,
        password_hash: str,
        confirmed_at: dt.datetime | None,
    ) -> User:
        # The admin list applies to confirmed addresses only (see _confirm).
        role = "admin" if confirmed_at is not None and email in self.admin_emails else "user"
        values = {
            "email": email,
            "username": username,
            "fullname": fullname,
            "password_hash": password_hash,
            "role": role,
            "created_at": self.clock(),
            "email_confirmed_at": confirmed_at,
        }
        user_id = conn.execute(users.insert().values(values).returning(users.c.id)).scalar_one()
        return User(int(user_id), email, username, fullname, role, confirmed_at is not None)

    # -- confirming the address ----------------------------------------------------------------

    def _new_confirmation(self, conn: sa.Connection, user_id: int) -> str:
        token = new_token()
        conn.execute(
            email_confirmations.insert().values(
                token_hash=token_hash(token),
                user_id=user_id,
                expires_at=self.clock() + CONFIRM_VALID,
            )
        )
        return token

    def resend_confirmation(self, user: User) -> str | None:
        """A new confirmation link's token for an unconfirmed account (earlier links keep
        working until they expire); None when the account is confirmed already."""
        with self.engine.begin() as conn:
            confirmed = conn.execute(
                sa.select(users.c.email_confirmed_at).where(users.c.id == user.id)
            ).scalar()
            if confirmed is not None:
                return None
            return self._new_confirmation(conn, user.id)

    def confirmation_user(self, token: str) -> User | None:
        """The account a valid (unused, unexpired) confirmation link is for."""
        return self._link_user(email_confirmations, token)

    def confirm_email(self, token: str, password: str) -> User:
        """Confirm the address with the mailed link and the account's password: the link
        alone proves the mailbox, the password that its owner made the account (a link mailed
        by someone else's sign-up with your address cannot hand them a confirmed account).
        A wrong password leaves the link usable."""
        user = self.confirmation_user(token)
        if user is None:
            raise AccountError("this confirmation link has expired or was already used")
        with self.reader.connect() as conn:
            stored = conn.execute(
                sa.select(users.c.password_hash).where(users.c.id == user.id)
            ).scalar_one()
        if len(password) > MAX_PASSWORD or not self._verify(stored, password):
            raise AccountError("wrong password for this account")
        with self.engine.begin() as conn:
            return self._confirm(conn, user.id)

    def mark_confirmed(self, username: str) -> User:
        """An operator vouches for an account's address (`paperfeed users confirm`)."""
        with self.engine.begin() as conn:
            user_id = conn.execute(
                sa.select(users.c.id).where(users.c.username == username)
            ).scalar()
            if user_id is None:
                raise AccountError(f"no user named {username!r}")
            return self._confirm(conn, user_id)

    def _confirm(self, conn: sa.Connection, user_id: int) -> User:
        """Marks the account confirmed (if it was not; then the admin list applies to its
        address) and voids its confirmation links."""
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).mappings().one()
        if row["email_confirmed_at"] is None:
            values: dict[str, object] = {"email_confirmed_at": self.clock()}
            if row["email"] in self.admin_emails:
                values["role"] = "admin"
            conn.execute(users.update().where(users.c.id == user_id).values(values))
        conn.execute(email_confirmations.delete().where(email_confirmations.c.user_id == user_id))
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).mappings().one()
        return _user(row)

    # -- signing in ----------------------------------------------------------------------------

    def authenticate(self, email: str, password: str) -> User | None:
        """The account with this email and password, confirmed or not (`User.confirmed`:
        only a confirmed one may start a session)."""
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
        if not self._verify(row["password_hash"], password):
            return None
        if self.hasher.check_needs_rehash(row["password_hash"]):
            self._set_password(row["id"], password)
        return _user(row)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

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
        """Only a confirmed account holds a role other than `user`."""
        self._check_role(role)
        user = self.by_username(username)
        if user is None:
            raise AccountError(f"no user named {username!r}")
        if role != "user" and not user.confirmed:
            raise AccountError(
                f"{username}'s email address is not confirmed yet (the sign-up link, or "
                f"`paperfeed users confirm {username}`)"
            )
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == user.id).values(role=role))
        found = self.get(user.id)
        assert found is not None
        return found

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in ("user", "admin"):
            raise AccountError("role is 'user' or 'admin'")

    def change_password(self, user: User, current: str, new: str) -> User:
        """A signed-in user's new password (the current one is asked for again). Every
        session of the account ends and every reset link is void; the caller starts a new
        session for this browser."""
        with self.reader.connect() as conn:
            stored = conn.execute(
                sa.select(users.c.password_hash).where(users.c.id == user.id)
            ).scalar()
        if stored is None or len(current) > MAX_PASSWORD or not self._verify(stored, current):
            raise AccountError("the current password is wrong")
        self._check_password(new)
        with self.engine.begin() as conn:
            self._replace_password(conn, user.id, new)
        found = self.get(user.id)
        assert found is not None
        return found

    def _replace_password(self, conn: sa.Connection, user_id: int, password: str) -> None:
        """New password: whoever knew the old one is signed out, and no reset link that was
        mailed before works any more."""
        now = self.clock()
        conn.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(password_hash=self.hasher.hash(password))
        )
        conn.execute(user_sessions.delete().where(user_sessions.c.user_id == user_id))
        conn.execute(
            password_resets.update()
            .where(password_resets.c.user_id == user_id, password_resets.c.used_at.is_(None))
            .values(used_at=now)
        )

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
        if not user.confirmed:
            raise AccountError("confirm your email address first")
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
                _CONFIRMED,
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
        current = self.get(user.id)
        if current is None or not current.confirmed:
            raise AccountError(f"{user.username}'s email address is not confirmed yet")
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
            .where(api_tokens.c.token_hash == token_hash(token), _CONFIRMED)
        )
        with self.reader.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _user(row) if row else None

    def api_tokens(self, user: User) -> list[ApiToken]:
        """The account's API tokens, newest first."""
        query = (
            sa.select(api_tokens.c.name, api_tokens.c.created_at)
            .where(api_tokens.c.user_id == user.id)
            .order_by(api_tokens.c.created_at.desc(), api_tokens.c.name)
        )
        with self.reader.connect() as conn:
            return [ApiToken(row.name, row.created_at) for row in conn.execute(query)]

    def revoke_api_tokens(self, user: User) -> int:
        """Revokes every API token of the account; how many there were."""
        with self.engine.begin() as conn:
            done = conn.execute(api_tokens.delete().where(api_tokens.c.user_id == user.id))
        return int(done.rowcount)

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

    def reset_user(self, token: str) -> User | None:
        """The account a valid (unused, unexpired) reset link is for."""
        return self._link_user(password_resets, token)

    def reset_password(self, token: str, password: str) -> User:
        """Sets the password with a mailed reset link. Using a link voids every other reset
        link of the account and signs out every browser; an unconfirmed account is
        confirmed (the link proves the mailbox, and whoever chose the old password is out)."""
        self._check_password(password)
        user = self.reset_user(token)
        if user is None:
            raise AccountError("this reset link has expired or was already used")
        with self.engine.begin() as conn:
            # Marks this link used with the others; the WHERE makes a concurrent use of the
            # same link find nothing left to use.
            used = conn.execute(
                password_resets.update()
                .where(
                    password_resets.c.token_hash == token_hash(token),
                    password_resets.c.used_at.is_(None),
                )
                .values(used_at=self.clock())
            )
            if used.rowcount != 1:
                raise AccountError("this reset link has expired or was already used")
            self._replace_password(conn, user.id, password)
            return self._confirm(conn, user.id)

    def _link_user(self, table: sa.Table, token: str) -> User | None:
        """The account of a valid mailed link (reset or confirmation) by its token."""
        if not token or len(token) > 200:
            return None
        where = [table.c.token_hash == token_hash(token), table.c.expires_at >= self.clock()]
        if "used_at" in table.c:
            where.append(table.c.used_at.is_(None))
        query = sa.select(users).join(table, table.c.user_id == users.c.id).where(*where)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _user(row) if row else None
