"""The server secret that signs CSRF tokens: made once per data directory, kept private, the
same for every process on it; a setting replaces it."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from paperfeed.config import Settings
from paperfeed.server_secret import server_secret


def test_a_new_data_directory_gets_a_private_secret_that_stays(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    first = server_secret(settings)
    path = settings.secret_key_path
    assert path.is_file() and len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert server_secret(Settings(home=tmp_path / "home")) == first
    assert server_secret(Settings(home=tmp_path / "other")) != first
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key"]  # no leftovers


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    with ThreadPoolExecutor(max_workers=8) as pool:
        secrets = set(pool.map(lambda _: server_secret(settings), range(32)))
    assert len(secrets) == 1


def test_the_setting_replaces_the_file(tmp_path: Path) -> None:
    key = "k" * 40
    settings = Settings(home=tmp_path / "home", secret_key=SecretStr(key))
    assert server_secret(settings) == key.encode()
    assert not settings.secret_key_path.exists()
    with pytest.raises(ValidationError):
        Settings(home=tmp_path, secret_key=SecretStr("too short"))


def test_a_damaged_secret_file_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    settings.secret_key_path.write_text("")
    with pytest.raises(RuntimeError, match="delete it"):
        server_secret(settings)
