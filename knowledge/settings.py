"""Typed settings: config/default.toml, then BRIEF_* environment variables, then .env."""

from __future__ import annotations

import os
import re
import sysconfig
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from knowledge.errors import BriefError, SettingsError
from knowledge.urls import database_label

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Where a wheel installs config/ and seeds/ (pyproject.toml's data-files), per install scheme.
INSTALLED_DATA = tuple(
    Path(sysconfig.get_path("data", scheme)) / "share" / "indopac-brief"
    for scheme in dict.fromkeys(
        (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user"))
    )
)
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token
SECRET_FIELDS = frozenset({"telegram_token", "webhook_secret", "database_url"})
DATABASE_SCHEMES = ("postgresql://", "postgres://")


def shipped(name: str, roots: tuple[Path, ...] = (PROJECT_ROOT, *INSTALLED_DATA)) -> Path:
    """The shipped folder `name` (config, seeds): beside the packages in a checkout or an
    editable install, else where the wheel put it; a clear error when it is nowhere."""
    for root in roots:
        if (root / name).is_dir():
            return root / name
    where = ", ".join(str(root) for root in roots)
    raise SettingsError(f"The {name}/ folder is missing (looked in {where}); reinstall.")


def default_config() -> Path:
    """config/default.toml as shipped."""
    return shipped("config") / "default.toml"


def _config_file() -> Path:
    named = os.environ.get("BRIEF_CONFIG", "")
    if not named:
        return default_config()
    path = Path(named)
    if not path.is_file():
        raise SettingsError(f"BRIEF_CONFIG names {path}, which is not a file.")
    return path


def _env_file() -> Path | None:
    """The .env file read, if any: BRIEF_ENV_FILE names another; empty reads none (the tests)."""
    name = os.environ.get("BRIEF_ENV_FILE", ".env")
    return Path(name) if name else None


class Settings(BaseSettings):
    """Every setting the bot and the CLI read; see config/default.toml for the defaults."""

    model_config = SettingsConfigDict(
        env_prefix="BRIEF_",
        extra="ignore",
        frozen=True,
    )

    db: Path = Path("data/brief.db")
    # empty: the SQLite file `db`; postgresql://user:password@host:port/name: PostgreSQL
    database_url: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object a line, for log collectors

    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    webhook_url: str = ""
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(8443, ge=1, le=65535)
    # /healthz and /readyz: on the webhook server in webhook mode; in polling mode on a server
    # of their own when health_port is set (0: none)
    health_port: int = Field(0, ge=0, le=65535)
    health_listen: str = "0.0.0.0"
    ready_poll_max_age_minutes: int = Field(120, ge=1, le=100_000)
    ready_digest_max_lag_minutes: int = Field(30, ge=1, le=100_000)

    # Telegram's flood limits (bot/ratelimit.py): per chat and per group always, broadcasts
    # (digests) in a lane of their own; rate_limits=false lifts them all (a local Bot API)
    rate_limits: bool = True
    broadcast_per_second: int = Field(30, ge=1, le=1000)
    allow_paid_broadcast: bool = False

    model_path: str = ""
    embed_batch_size: int = Field(32, ge=1, le=1024)
    model_threads: int = Field(1, ge=1, le=64)

    brief_size: int = Field(5, ge=1, le=10)
    max_query_chars: int = Field(1000, ge=10, le=4096)
    search_candidates: int = Field(50, ge=5, le=1000)
    relevance_threshold: float = Field(0.58, gt=0.0, lt=1.0)
    ann_threshold: int = Field(50_000, ge=1)  # from this many articles, an IVF index answers
    index_dir: Path | None = None  # the saved search index; unset: beside the SQLite file

    duplicate_similarity: float = Field(0.90, gt=0.0, le=1.0)
    duplicate_window_days: int = Field(3, ge=0, le=365)

    summary_max_sentences: int = Field(4, ge=1, le=10)
    summary_max_chars: int = Field(600, ge=80, le=4000)

    topics: dict[str, str] = Field(default_factory=dict)

    fetch_full_text: bool = True  # fetch the article page when a feed gives only a teaser
    full_text_per_poll: int = Field(20, ge=0, le=1000)
    allow_private_addresses: bool = False  # loopback/private/link-local sources (tests, LANs)
    fetch_timeout_seconds: float = Field(15.0, gt=0.0, le=300.0)
    fetch_max_bytes: int = Field(5_000_000, ge=10_000, le=500_000_000)
    fetch_max_redirects: int = Field(5, ge=0, le=20)
    fetch_per_host: int = Field(2, ge=1, le=32)
    poll: bool = True  # false: this process never polls sources (an answering replica, tests)
    poll_interval_minutes: int = Field(30, ge=1, le=10080)
    poll_failures_before_pause: int = Field(5, ge=1, le=1000)
    poll_max_backoff_hours: float = Field(24.0, gt=0.0, le=720.0)
    ingest_worker: bool = True  # the bot polls in a process of its own (false: in a thread)
    # the worker's CPU priority: "idle" (only CPU time nothing else wants) or "low" (nice +10)
    ingest_priority: Literal["idle", "low"] = "idle"

    digest_default_time: str = "07:00"  # local HH:MM for /subscribe without a time
    digest_default_timezone: str = "UTC"  # IANA name for /subscribe without a timezone
    digest_max_stories: int = Field(15, ge=1, le=100)
    digest_catch_up_hours: float = Field(6.0, ge=0.0, le=24.0)

    mute_max_count: int = Field(50, ge=1, le=500)  # mute words per chat
    mute_max_chars: int = Field(60, ge=5, le=200)  # characters per mute word or phrase
    outlets_file: str = ""  # the kinds of outlets (empty: the shipped config/outlets.toml)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            try:
                return tuple(int(p) for p in parts)
            except ValueError:
                raise ValueError("must be comma-separated numeric Telegram user ids") from None
        return value

    @field_validator("index_dir", mode="before")
    @classmethod
    def _parse_index_dir(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def index_path(self) -> Path:
        """Where the search index is saved: index_dir, else beside the SQLite file."""
        return self.index_dir or self.db.with_name(self.db.name + ".index")

    @field_validator("telegram_api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(DATABASE_SCHEMES):
            raise ValueError(
                "must be empty (the SQLite file BRIEF_DB) or a postgresql:// URL, e.g. "
                "postgresql://brief:secret@localhost:5432/brief"
            )
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str) -> str:
        if value and not value.startswith("https://"):
            raise ValueError("must be empty (long polling) or an https:// URL")
        return value

    @field_validator("digest_default_time")
    @classmethod
    def _check_digest_time(cls, value: str) -> str:
        from knowledge.digests import parse_time  # settings are read before anything else

        try:
            return parse_time(value).strftime("%H:%M")
        except BriefError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("digest_default_timezone")
    @classmethod
    def _check_digest_timezone(cls, value: str) -> str:
        from knowledge.digests import check_timezone

        try:
            return check_timezone(value)
        except BriefError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        secret = value.get_secret_value() if value else ""
        if secret and not WEBHOOK_SECRET.fullmatch(secret):
            raise ValueError(
                "must be 1–256 characters of A-Z, a-z, 0-9, _ and - (what Telegram accepts), "
                "or empty for a random one"
            )
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
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        dotenv = DotEnvSettingsSource(settings_cls, env_file=_env_file())
        return (init_settings, env_settings, dotenv, toml)

    @property
    def token(self) -> str | None:
        """The bot token, or None when it is not configured."""
        secret = self.telegram_token
        value = secret.get_secret_value().strip() if secret else ""
        return value or None

    def redacted(self) -> dict[str, Any]:
        """The effective settings with secrets masked, for `brief config`."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                out[name] = "********" if value.get_secret_value() else ""
            elif value is None:
                out[name] = ""
            elif name == "database_url" and value:
                out[name] = database_label(value)
            elif isinstance(value, Path):
                out[name] = str(value)
            elif isinstance(value, tuple):
                out[name] = list(value)
            else:
                out[name] = value
        return out


# Settings that were renamed: the old variable, still set, would otherwise be ignored silently.
RENAMED = {
    "BRIEF_RATE_LIMIT_PER_SECOND": (
        "replies are no longer bound by one budget for all chats; use BRIEF_RATE_LIMITS=false "
        "to lift every limit (a local Bot API server) or BRIEF_BROADCAST_PER_SECOND for the "
        "digest fan-out rate"
    ),
}


def _names_in_use() -> set[str]:
    """Every BRIEF_* name set in the environment, the .env file or the config file."""
    names = {name.upper() for name in os.environ}
    env_file = _env_file()
    if env_file is not None and env_file.is_file():
        names |= {name.upper() for name in dotenv_values(env_file)}
    config = _config_file()
    if config.is_file():
        try:
            keys = tomllib.loads(config.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            keys = {}  # the settings source reports it
        names |= {f"BRIEF_{key.upper()}" for key in keys}
    return names


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one message per bad setting."""
    in_use = _names_in_use()
    renamed = [f"{old}: {hint}" for old, hint in RENAMED.items() if old in in_use]
    if renamed:
        raise SettingsError("Setting no longer read:\n  " + "\n  ".join(renamed))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            env = f"BRIEF_{name.upper()}"
            got = "(hidden)" if name in SECRET_FIELDS else repr(err.get("input"))
            lines.append(f"{env} ({name}): {err['msg']}; got {got}")
        raise SettingsError("Invalid setting:\n  " + "\n  ".join(lines)) from None
