"""The one settings object. It is the only code that reads the environment."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _default_home() -> Path:
    return Path(os.environ.get("PAPERFEED_HOME") or Path.home() / ".paperfeed")


def config_file() -> Path:
    """The config file settings are read from (it need not exist)."""
    return Path(os.environ.get("PAPERFEED_CONFIG") or _default_home() / "paperfeed.toml")


def environment_settings() -> dict[str, str]:
    """The PAPERFEED_* environment variables set in this process (for backups)."""
    return {name: value for name, value in os.environ.items() if name.startswith("PAPERFEED_")}


class Settings(BaseSettings):
    """paperfeed settings: `PAPERFEED_<NAME>` environment variables, then the config file
    (`PAPERFEED_CONFIG`, default `$PAPERFEED_HOME/paperfeed.toml`), then these defaults."""

    model_config = SettingsConfigDict(env_prefix="PAPERFEED_", extra="forbid")

    home: Path = Field(
        default_factory=_default_home,
        description="Data directory: SQLite catalog, search indexes, mail outbox, harvest state.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the catalog. Unset: SQLite file `catalog.sqlite3` in home. "
        "PostgreSQL: `postgresql+psycopg://user:pass@host/db`.",
    )
    categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML"],
        description="arXiv categories harvested by default (first run and `paperfeed harvest`).",
    )
    oai_endpoint: str = Field(
        default="https://oaipmh.arxiv.org/oai",
        description="arXiv OAI-PMH base URL.",
    )
    arxiv_api_endpoint: str = Field(
        default="https://export.arxiv.org/api/query",
        description="arXiv API (Atom) query URL.",
    )
    hf_endpoint: str = Field(
        default="https://huggingface.co",
        description="Hugging Face base URL for daily papers.",
    )
    request_delay: float = Field(
        default=3.0,
        ge=0.0,
        description="Seconds between requests to arXiv (its terms ask for one request per 3 s).",
    )
    http_timeout: float = Field(default=60.0, gt=0, description="HTTP timeout in seconds.")
    http_retries: int = Field(
        default=5, ge=0, description="Retries of a failed or 503 HTTP request before giving up."
    )
    import_batch_size: int = Field(
        default=5000, ge=1, le=100_000, description="Records written per catalog transaction."
    )

    parse_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Worker processes parsing large snapshot files (0: one per CPU, at most 4).",
    )
    embedder: str = Field(
        default="minilm",
        description="Embedding model for search by meaning: `minilm` (all-MiniLM-L6-v2, int8 "
        "ONNX, shipped on PyPI), `wordllama` (the fast mode: a static model, ~28x faster to "
        "embed, less accurate) or `none` (lexical search only).",
    )
    search_candidates: int = Field(
        default=1000,
        ge=10,
        le=10_000,
        description="Candidates taken from the lexical (BM25) index before fusion.",
    )
    search_query_vectors: int = Field(
        default=2048,
        ge=0,
        le=1_000_000,
        description="Query vectors a process keeps (the most recently used, ~1.5 KB each): "
        "a query searched again (its next page, a saved search's feed, the digests) is not "
        "embedded again. 0: every search embeds its query.",
    )
    search_dense_candidates: int = Field(
        default=300,
        ge=10,
        le=10_000,
        description="Candidates taken from the vector index before fusion; every lexical "
        "candidate also gets its exact dense score. The cost grows with this number (top-1000 "
        "~8.5 ms, top-300 ~2.8 ms at 1M papers). SciFact hybrid nDCG@10 test/train: 0.7383/"
        "0.7376 at 300, 0.7370/0.7387 at 500, 0.7363/0.7384 at 1000.",
    )
    search_dense_weight: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Weight of the dense (meaning) scores in the hybrid blend; 0 = BM25 only. "
        "Unset: the embedding model's own weight, chosen on SciFact's train queries "
        "(minilm 0.45, wordllama 0.35).",
    )

    search_concurrency: int = Field(
        default=2,
        ge=0,
        le=256,
        description="Searches run at once per process; more wait their turn (searches are "
        "CPU-bound, so running more than the cores only adds thrashing). 0: no limit.",
    )
    web_threads: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Worker threads per server process running page and API handlers.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The address users reach the web app at; used in links inside emails and "
        "feeds.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server for outgoing mail. Unset: mail is written as .eml files to "
        "the outbox directory instead.",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    smtp_username: str | None = Field(default=None, description="SMTP login, if required.")
    smtp_password: str | None = Field(default=None, description="SMTP password, if required.")
    smtp_starttls: bool = Field(
        default=True,
        description="Upgrade the SMTP connection with STARTTLS (when the server offers it).",
    )
    mail_from: str = Field(
        default="paperfeed <paperfeed@localhost>", description="From address of outgoing mail."
    )
    outbox_dir: Path | None = Field(
        default=None,
        description="Directory of .eml files used when no SMTP server is set (default "
        "`outbox` in home).",
    )
    digest_schedule: bool = Field(
        default=True,
        description="`paperfeed serve` sends the due digests every day at DIGEST_SEND_TIME "
        "(one sender among all processes and nodes; transient failures retried with backoff).",
    )
    digest_send_time: str = Field(
        default="07:00",
        pattern=r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$",
        description="Time of day (HH:MM, in DIGEST_TIMEZONE) the scheduled digests go out.",
    )
    digest_timezone: str = Field(
        default="UTC", description="Time zone of DIGEST_SEND_TIME (an IANA name)."
    )
    digest_daily_days: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"],
        description="Days of the week whose daily lists go out as daily digests (weekdays).",
    )
    digest_list_id: str | None = Field(
        default=None,
        description="The List-Id of the digests (default: `paperfeed.<host of BASE_URL>`).",
    )
    digest_unsubscribe_mailto: str | None = Field(
        default=None,
        description="An address whose mail unsubscribes (added to List-Unsubscribe as a "
        "mailto: link besides the one-click https URL). Unset: the URL only.",
    )
    digest_retry_seconds: float = Field(
        default=300.0,
        gt=0,
        description="First wait before a transient delivery failure is retried by the "
        "schedule; it doubles with each attempt (up to a day).",
    )
    digest_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Attempts before a delivery is given up."
    )
    digest_smtp_connections: int = Field(
        default=2,
        ge=1,
        le=16,
        description="SMTP connections a digest run sends over at once, each carrying many "
        "messages.",
    )
    digest_processes: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Processes that choose the personal sections of a large digest run "
        "(more than a thousand readers with an account), beside the one that sends.",
    )
    for_you_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description='"For you" ranks the papers of this many last days (submitted to arXiv or '
        "on a daily list in them).",
    )
    dkim_selector: str | None = Field(
        default=None, description="DKIM selector; with DKIM_KEY_FILE, digests are signed."
    )
    dkim_domain: str | None = Field(
        default=None, description="DKIM signing domain (default: the domain of MAIL_FROM)."
    )
    dkim_key_file: Path | None = Field(
        default=None, description="PEM file of the DKIM private key (RSA or Ed25519)."
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark session cookies `Secure` (set this when serving over HTTPS).",
    )
    session_days: int = Field(default=30, ge=1, le=365, description="Days a sign-in lasts.")
    password_hash_memory_kib: int = Field(
        default=19 * 1024,
        ge=64,
        le=4 * 1024 * 1024,
        description="Memory (KiB) of each argon2id password hash; the default is OWASP's "
        "baseline (19 MiB, with a time cost of 2). Stored hashes made with other parameters "
        "are redone at the next sign-in.",
    )
    password_hash_time_cost: int = Field(
        default=2, ge=1, le=20, description="Passes of each argon2id password hash."
    )
    rate_limit_scale: float = Field(
        default=1.0,
        gt=0,
        description="Multiplies every rate limit (sign-in, sign-up, submission, password "
        "reset); raise it for a busy reading group behind one address.",
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest request body the web app and API accept.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks (e.g. `127.0.0.1`, `10.0.0.0/8`) of reverse proxies "
        "whose `X-Forwarded-For` and `X-Forwarded-Proto` headers are believed: the client "
        "address (for rate limits) and scheme come from them. Default: none (the address of "
        "the connection is the client's).",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Server secret that signs CSRF tokens (at least 32 characters). Unset: a "
        "random one kept in `secret_key` in home. Nodes of one site on different machines "
        "must share one.",
    )
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Accounts with these emails get the admin role (hide papers and comments) "
        "when the address is confirmed (the sign-up link, or `paperfeed users confirm`).",
    )
    access_log: bool = Field(
        default=True,
        description="Log one line per request (time, client, method, path, status, duration).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Format of the server's log lines on standard error: `text`, or `json` "
        "(one object per line, for log collectors).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve Prometheus metrics at http://METRICS_HOST:METRICS_PORT/metrics from "
        "`paperfeed serve` (a port of its own, never the public one). Unset: no metrics.",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address the metrics port listens on."
    )
    remote_images: bool = Field(
        default=False,
        description="Show Hugging Face's paper thumbnails, images loaded from "
        "cdn-thumbnails.huggingface.co (the Content-Security-Policy then allows that host). "
        "Off: pages load nothing from other sites.",
    )

    @field_validator(
        "categories", "admin_emails", "trusted_proxies", "digest_daily_days", mode="before"
    )
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [c for c in value.replace(",", " ").split() if c]
        return value

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("digest_daily_days", mode="after")
    @classmethod
    def _weekdays(cls, value: list[str]) -> list[str]:
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        value = [d.lower()[:3] for d in value]
        for day in value:
            if day not in days:
                raise ValueError(f"{day!r} is not a day of the week (mon ... sun)")
        return value

    @field_validator("digest_timezone", mode="after")
    @classmethod
    def _timezone(cls, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone") from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def sqlite_path(self) -> Path:
        return self.home / "catalog.sqlite3"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def secret_key_path(self) -> Path:
        return self.home / "secret_key"

    @property
    def search_dir(self) -> Path:
        return self.home / "search"

    @property
    def effective_outbox_dir(self) -> Path:
        return self.outbox_dir or self.home / "outbox"

    @property
    def metrics_enabled(self) -> bool:
        return self.metrics_port is not None

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home
