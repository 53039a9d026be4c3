from __future__ import annotations

from tests.support.cli import Cli


def test_users_role_makes_an_admin_and_token_authenticates(cli: Cli) -> None:
    from paperfeed.config import Settings
    from paperfeed.runtime import Runtime

    runtime = Runtime(
        Settings(home=cli.env["PAPERFEED_HOME"], database_url=cli.env["PAPERFEED_DATABASE_URL"])
    )
    try:
        runtime.accounts.sign_up("ada@example.org", "ada", "a long password 1")
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
