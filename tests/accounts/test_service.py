"""AccountService on a real database: sign-up, sign-in, roles, sessions and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from paperfeed.accounts.service import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    AccountError,
    AccountService,
    User,
    normalise_email,
)
from paperfeed.accounts.tokens import new_token, token_hash
from paperfeed.clock import utcnow
from paperfeed.config import Settings
from paperfeed.db.schema import user_sessions, users
from paperfeed.runtime import Runtime
from tests.support.accounts import PASSWORD, confirmed_user


@pytest.fixture
def accounts(runtime: Runtime) -> AccountService:
    return runtime.accounts


@pytest.fixture
def ada(accounts: AccountService) -> User:
    return confirmed_user(accounts, " Ada@Example.ORG ", "ada", PASSWORD, "  Ada   Lovelace ")


def stored_hash(runtime: Runtime, user: User) -> str:
    with runtime.engine.connect() as conn:
        return str(
            conn.execute(sa.select(users.c.password_hash).where(users.c.id == user.id)).scalar()
        )


# -- sign-up ---------------------------------------------------------------------------------


def test_sign_up_normalises_and_stores_the_account(accounts: AccountService, ada: User) -> None:
    assert (ada.email, ada.username, ada.fullname, ada.role) == (
        "ada@example.org",
        "ada",
        "Ada Lovelace",
        "user",
    )
    assert not ada.is_admin
    assert ada.display_name == "Ada Lovelace"
    assert accounts.get(ada.id) == ada
    assert accounts.by_username("ada") == ada
    assert accounts.get(ada.id + 1000) is None
    assert accounts.by_username("bob") is None


def test_display_name_falls_back_to_the_username(accounts: AccountService) -> None:
    assert accounts.sign_up("bob@example.org", "bob", PASSWORD).user.display_name == "bob"


def test_passwords_are_stored_as_argon2id_hashes(runtime: Runtime, ada: User) -> None:
    stored = stored_hash(runtime, ada)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)


@pytest.mark.parametrize(
    ("email", "username"),
    [
        ("ADA@example.org", "ada2"),  # same email, other case
        ("ada@EXAMPLE.org", "ada3"),
        ("other@example.org", "ADA"),  # same username, other case
        ("other@example.org", "ada"),
    ],
)
def test_an_email_or_username_is_taken_once(
    runtime: Runtime, accounts: AccountService, ada: User, email: str, username: str
) -> None:
    """A taken username is an error; a taken address is not (the page must not tell): the
    sign-up hands back the existing account, with no link, for its owner to be mailed."""
    if email.lower() == ada.email:
        assert accounts.sign_up(email, username, PASSWORD).user == ada
    else:
        with pytest.raises(AccountError, match="account with this username already exists"):
            accounts.sign_up(email, username, PASSWORD)
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() == 1


@pytest.mark.parametrize(
    ("email", "username", "password", "message"),
    [
        ("not-an-email", "ada", PASSWORD, "valid email address"),
        ("ada@localhost", "ada", PASSWORD, "valid email address"),
        ("ada @example.org", "ada", PASSWORD, "valid email address"),
        ("<ada@example.org>", "ada", PASSWORD, "valid email address"),
        ("ada@example.org", "a", PASSWORD, "2-39 letters"),
        ("ada@example.org", "-ada", PASSWORD, "2-39 letters"),
        ("ada@example.org", "ada lovelace", PASSWORD, "2-39 letters"),
        ("ada@example.org", "ada<script>", PASSWORD, "2-39 letters"),
        ("ada@example.org", "a" * 40, PASSWORD, "2-39 letters"),
        ("ada@example.org", "ada", "x" * (MIN_PASSWORD - 1), f"at least {MIN_PASSWORD}"),
        ("ada@example.org", "ada", "x" * (MAX_PASSWORD + 1), f"at most {MAX_PASSWORD}"),
    ],
)
def test_sign_up_refuses_invalid_input_with_a_reason(
    runtime: Runtime, email: str, username: str, password: str, message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        runtime.accounts.sign_up(email, username, password)
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() == 0


def test_password_length_bounds_are_inclusive(accounts: AccountService) -> None:
    confirmed_user(accounts, "a@example.org", "short", "x" * MIN_PASSWORD)
    long = confirmed_user(accounts, "b@example.org", "long", "y" * MAX_PASSWORD)
    assert accounts.authenticate("b@example.org", "y" * MAX_PASSWORD) == long


def test_normalise_email() -> None:
    normalised = normalise_email("  Ada.Lovelace+papers@Example.ORG ")
    assert normalised == "ada.lovelace+papers@example.org"
    with pytest.raises(AccountError):
        normalise_email("ada@example")


# -- sign-in ---------------------------------------------------------------------------------


def test_authenticate_with_the_right_password_only(accounts: AccountService, ada: User) -> None:
    assert accounts.authenticate("ada@example.org", PASSWORD) == ada
    assert accounts.authenticate("  ADA@example.org", PASSWORD) == ada
    assert accounts.authenticate("ada@example.org", PASSWORD.upper()) is None
    assert accounts.authenticate("ada@example.org", "") is None
    assert accounts.authenticate("nobody@example.org", PASSWORD) is None
    assert accounts.authenticate("not an email", PASSWORD) is None
    assert accounts.authenticate("ada@example.org", PASSWORD + "x" * MAX_PASSWORD) is None


def test_a_weaker_old_hash_is_upgraded_at_sign_in(runtime: Runtime) -> None:
    """Hashes made with older, cheaper parameters are replaced on the next good sign-in."""
    old = AccountService(runtime.engine)
    old.hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    user = confirmed_user(old, "ada@example.org", "ada", PASSWORD)
    assert "m=8192,t=1" in stored_hash(runtime, user)

    assert runtime.accounts.authenticate("ada@example.org", "wrong password!") is None
    assert "m=8192,t=1" in stored_hash(runtime, user)  # not on a failed attempt
    assert runtime.accounts.authenticate("ada@example.org", PASSWORD) == user
    upgraded = stored_hash(runtime, user)
    assert "m=64,t=1,p=1" in upgraded  # the test processes' cost (tests/conftest.py)
    assert runtime.accounts.authenticate("ada@example.org", PASSWORD) == user


def test_the_hash_cost_is_owasps_baseline_unless_the_settings_choose_another(
    runtime: Runtime, settings: Settings
) -> None:
    """Out of the box (no environment), argon2id at 19 MiB and two passes; an operator's
    settings choose the cost of new hashes, and a stored hash is redone at the next sign-in."""
    assert Settings.model_fields["password_hash_memory_kib"].default == 19 * 1024
    assert Settings.model_fields["password_hash_time_cost"].default == 2
    default = AccountService(runtime.engine)
    user = confirmed_user(default, "ada@example.org", "ada", PASSWORD)
    assert "$argon2id$v=19$m=19456,t=2,p=1$" in stored_hash(runtime, user)

    costly = settings.model_copy(
        update={"password_hash_memory_kib": 32 * 1024, "password_hash_time_cost": 3}
    )
    rt = Runtime(costly)
    try:
        assert rt.accounts.authenticate("ada@example.org", PASSWORD) == user
        assert "$m=32768,t=3,p=1$" in stored_hash(runtime, user)
    finally:
        rt.close()


def test_a_corrupt_stored_hash_fails_closed(runtime: Runtime, ada: User) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(users.update().values(password_hash="not-a-hash"))
    assert runtime.accounts.authenticate("ada@example.org", PASSWORD) is None


# -- roles -----------------------------------------------------------------------------------


def test_admin_emails_are_admins_once_confirmed(settings: Settings) -> None:
    admin_settings = settings.model_copy(update={"admin_emails": ["Root@Example.org"]})
    rt = Runtime(admin_settings)
    try:
        root = confirmed_user(rt.accounts, "root@example.ORG", "root", PASSWORD)
        ada = confirmed_user(rt.accounts, "ada@example.org", "ada", PASSWORD)
    finally:
        rt.close()
    assert (root.role, root.is_admin) == ("admin", True)
    assert (ada.role, ada.is_admin) == ("user", False)


def test_set_role_promotes_and_demotes(accounts: AccountService, ada: User) -> None:
    admin = accounts.set_role("ada", "admin")
    assert admin.is_admin
    assert accounts.get(ada.id) == admin
    assert accounts.authenticate("ada@example.org", PASSWORD) == admin
    assert not accounts.set_role("ada", "user").is_admin


def test_set_role_refuses_unknown_users_and_roles(accounts: AccountService, ada: User) -> None:
    with pytest.raises(AccountError, match="no user named 'bob'"):
        accounts.set_role("bob", "admin")
    with pytest.raises(AccountError, match="'user' or 'admin'"):
        accounts.set_role("ada", "root")
    assert accounts.get(ada.id) == ada


# -- browser sessions ------------------------------------------------------------------------


def test_a_session_token_signs_in_until_it_ends(accounts: AccountService, ada: User) -> None:
    token = accounts.start_session(ada)
    other = accounts.start_session(ada)
    assert token != other
    assert accounts.session_user(token) == ada
    accounts.end_session(token)
    assert accounts.session_user(token) is None
    assert accounts.session_user(other) == ada  # other browsers stay signed in


@pytest.mark.parametrize("token", [None, "", "x", "a" * 201, "\udcff"])
def test_unknown_or_odd_session_tokens_sign_nobody_in(
    accounts: AccountService, ada: User, token: str | None
) -> None:
    accounts.start_session(ada)
    assert accounts.session_user(token) is None
    accounts.end_session(token)  # harmless


def test_only_the_token_hash_is_stored(runtime: Runtime, ada: User) -> None:
    token = runtime.accounts.start_session(ada)
    with runtime.engine.connect() as conn:
        stored = conn.execute(sa.select(user_sessions.c.token_hash)).scalar_one()
    assert stored == hashlib.sha256(token.encode()).hexdigest() != token


def test_sessions_last_session_days(runtime: Runtime, ada: User) -> None:
    before = utcnow()
    runtime.accounts.start_session(ada)
    with runtime.engine.connect() as conn:
        expires = conn.execute(sa.select(user_sessions.c.expires_at)).scalar_one()
    life = dt.timedelta(days=runtime.settings.session_days)
    assert before + life <= expires <= utcnow() + life


def test_an_expired_session_signs_nobody_in_and_is_purged(runtime: Runtime, ada: User) -> None:
    accounts = runtime.accounts
    token = accounts.start_session(ada)
    with runtime.engine.begin() as conn:
        conn.execute(user_sessions.update().values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert accounts.session_user(token) is None

    fresh = accounts.start_session(ada)  # starting a session clears the expired ones
    with runtime.engine.connect() as conn:
        left = conn.execute(sa.select(user_sessions.c.token_hash)).scalars().all()
    assert left == [token_hash(fresh)]


def test_session_days_setting(settings: Settings) -> None:
    rt = Runtime(settings.model_copy(update={"session_days": 1}))
    try:
        user = confirmed_user(rt.accounts, "ada@example.org", "ada", PASSWORD)
        rt.accounts.start_session(user)
        with rt.engine.connect() as conn:
            expires = conn.execute(sa.select(user_sessions.c.expires_at)).scalar_one()
    finally:
        rt.close()
    assert expires - utcnow() <= dt.timedelta(days=1)
    assert expires - utcnow() > dt.timedelta(hours=23)


# -- API tokens ------------------------------------------------------------------------------


def test_api_tokens_identify_their_user(accounts: AccountService, ada: User) -> None:
    bob = confirmed_user(accounts, "bob@example.org", "bob", PASSWORD)
    token = accounts.create_api_token(ada, "laptop")
    assert token.startswith("pf_")
    assert accounts.token_user(token) == ada
    assert accounts.token_user(accounts.create_api_token(bob)) == bob
    assert accounts.token_user(token + "x") is None
    assert accounts.token_user(None) is None
    assert accounts.token_user("pf_" + "a" * 300) is None


def test_an_account_lists_its_api_tokens_and_revokes_them_all(
    runtime: Runtime, accounts: AccountService, ada: User
) -> None:
    bob = confirmed_user(accounts, "bob@example.org", "bob", PASSWORD)
    assert accounts.api_tokens(ada) == []
    laptop = accounts.create_api_token(ada, "laptop")
    ci = accounts.create_api_token(ada, "ci")
    bobs = accounts.create_api_token(bob, "bob's")
    listed = accounts.api_tokens(ada)
    assert sorted(t.name for t in listed) == ["ci", "laptop"]
    assert all(laptop not in str(t) and ci not in str(t) for t in listed)  # names, no secrets

    assert accounts.revoke_api_tokens(ada) == 2
    assert accounts.token_user(laptop) is None and accounts.token_user(ci) is None
    assert accounts.api_tokens(ada) == []
    assert accounts.token_user(bobs) == bob  # other accounts keep theirs
    assert accounts.revoke_api_tokens(ada) == 0


def test_session_and_api_tokens_are_not_interchangeable(
    accounts: AccountService, ada: User
) -> None:
    session = accounts.start_session(ada)
    api = accounts.create_api_token(ada)
    assert accounts.token_user(session) is None
    assert accounts.session_user(api) is None


# -- tokens ----------------------------------------------------------------------------------


def test_new_tokens_are_random_url_safe_and_long() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert len(token) >= 43  # 32 random bytes
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_token_hash_is_sha256_hex() -> None:
    assert token_hash("abc") == hashlib.sha256(b"abc").hexdigest()
    assert token_hash("\udcff") != token_hash("")  # lone surrogates hash, never crash
