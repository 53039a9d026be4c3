from __future__ import annotations

from tests.support.accounts import confirmed_user
from tests.support.cli import Cli


def test_users_role_makes_an_admin_and_token_authenticates(cli: Cli) -> None:
    from paperfeed.config import Settings
    from paperfeed.runtime import Runtime

    runtime = Runtime(
        Settings(home=cli.env["PAPERFEED_HOME"], database_url=cli.env["PAPERFEED_DATABASE_URL"])
    )
    try:
        confirmed_user(runtime.accounts, "ada@example.org", "ada", "a long password 1")
        assert "ada <ada@example.org> is now admin" in cli("users", "role", "ada", "admin").stdout
        user = runtime.accounts.by_username("ada")
        assert user is not None and user.is_admin
        token = cli("users", "token", "ada").stdout.strip()
        found = runtime.accounts.token_user(token)
        assert found is not None and found.username == "ada"
        missing = cli("users", "role", "nobody", "admin", ok=False)
        assert missing.exit_code != 0 and "no user named 'nobody'" in missing.stderr
    finally:
        runtime.close()


def test_an_operator_makes_the_first_admin_and_confirms_addresses(cli: Cli) -> None:
    """A new installation's first admin needs no mail: `users add --admin`; an account that
    signed up is confirmed with `users confirm` (and only then may be an admin)."""
    from paperfeed.config import Settings
    from paperfeed.runtime import Runtime

    made = cli("users", "add", "boss@example.org", "boss", "--admin", "--password", "a long pw 12")
    assert made.stdout.strip() == "boss <boss@example.org> created, confirmed, admin"
    runtime = Runtime(
        Settings(home=cli.env["PAPERFEED_HOME"], database_url=cli.env["PAPERFEED_DATABASE_URL"])
    )
    try:
        boss = runtime.accounts.authenticate("boss@example.org", "a long pw 12")
        assert boss is not None and boss.confirmed and boss.is_admin
        taken = cli(
            "users", "add", "boss@example.org", "boss2", "--password", "a long pw 12", ok=False
        )
        assert taken.exit_code != 0 and "email already exists" in taken.stderr

        runtime.accounts.sign_up("ada@example.org", "ada", "a long password 1")
        refused = cli("users", "role", "ada", "admin", ok=False)
        assert refused.exit_code != 0 and "users confirm ada" in refused.stderr
        no_token = cli("users", "token", "ada", ok=False)
        assert no_token.exit_code != 0 and "not confirmed" in no_token.stderr
        assert cli("users", "confirm", "ada").stdout.strip() == (
            "ada <ada@example.org> is confirmed (user)"
        )
        assert "ada <ada@example.org> is now admin" in cli("users", "role", "ada", "admin").stdout
        missing = cli("users", "confirm", "nobody", ok=False)
        assert missing.exit_code != 0 and "no user named 'nobody'" in missing.stderr
    finally:
        runtime.close()
