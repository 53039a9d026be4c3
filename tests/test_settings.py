from pathlib import Path

import pytest

from paperfeed.config import Settings

README = Path(__file__).parents[1] / "README.md"


def test_every_setting_is_described_and_documented() -> None:
    readme = README.read_text()
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        assert f"PAPERFEED_{name.upper()}" in readme, f"PAPERFEED_{name.upper()} not in README"


def test_environment_and_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "paperfeed.toml"
    config.write_text('categories = ["cs.IR"]\nrequest_delay = 5.0\n')
    monkeypatch.setenv("PAPERFEED_CONFIG", str(config))
    monkeypatch.setenv("PAPERFEED_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PAPERFEED_REQUEST_DELAY", "4")
    settings = Settings()
    assert settings.categories == ["cs.IR"]
    assert settings.request_delay == 4.0  # the environment wins over the file
    assert settings.home == tmp_path / "home"
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'home' / 'catalog.sqlite3'}"


def test_categories_accept_a_plain_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFEED_CATEGORIES", "cs.LG, cs.CL stat.ML")
    assert Settings().categories == ["cs.LG", "cs.CL", "stat.ML"]


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        Settings(no_such_setting=1)  # type: ignore[call-arg]


def test_trusted_proxies_are_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFEED_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ::1")
    assert Settings().trusted_proxies == ["127.0.0.1", "10.0.0.0/8", "::1"]
    monkeypatch.delenv("PAPERFEED_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == []  # the default: no proxy is believed
    with pytest.raises(ValueError, match="not an IP address or network"):
        Settings(trusted_proxies=["proxy.example"])
