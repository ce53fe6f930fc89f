"""Typed settings: config/default.toml, then BRIEF_* environment variables, then .env."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from knowledge.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "default.toml"


def _config_file() -> Path:
    return Path(os.environ.get("BRIEF_CONFIG", str(DEFAULT_CONFIG)))


class Settings(BaseSettings):
    """Every setting the bot and the CLI read; see config/default.toml for the defaults."""

    model_config = SettingsConfigDict(
        env_prefix="BRIEF_",
        env_file=".env",
        extra="ignore",
        frozen=True,
    )

    db: Path = Path("data/brief.db")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    webhook_url: str = ""
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(8443, ge=1, le=65535)

    # Telegram's flood limits (bot/ratelimit.py): per chat and per group always, broadcasts
    # (digests) in a lane of their own; rate_limits=false lifts them all (a local Bot API)
    rate_limits: bool = True
    broadcast_per_second: int = Field(30, ge=1, le=1000)
    allow_paid_broadcast: bool = False

    model_path: str = ""
    embed_batch_size: int = Field(32, ge=1, le=1024)

    brief_size: int = Field(5, ge=1, le=10)
    max_query_chars: int = Field(1000, ge=10, le=4096)
    search_candidates: int = Field(50, ge=5, le=1000)
    search_floor: float = Field(0.35, ge=-1.0, le=1.0)
    keyword_floor: float = Field(0.25, ge=-1.0, le=1.0)
    fusion: Literal["score", "rrf"] = "score"
    dense_weight: float = Field(0.3, ge=0.0)
    keyword_weight: float = Field(0.7, ge=0.0)
    rrf_k: int = Field(60, ge=1, le=1000)

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

    @field_validator("telegram_api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str) -> str:
        if value and not value.startswith("https://"):
            raise ValueError("must be empty (long polling) or an https:// URL")
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
        return (init_settings, env_settings, dotenv_settings, toml)

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
    env_file = Path(".env")
    if env_file.is_file():
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
            lines.append(f"{env} ({name}): {err['msg']}; got {err.get('input')!r}")
        raise SettingsError("Invalid setting:\n  " + "\n  ".join(lines)) from None
