"""Settings: defaults from config/, BRIEF_* variables over them, a message naming a bad one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.errors import SettingsError
from knowledge.settings import default_config, load_settings


def test_defaults_come_from_config_toml() -> None:
    settings = load_settings()
    assert settings.db == Path("data/brief.db")
    assert settings.telegram_api_url == "https://api.telegram.org/bot"
    assert settings.token is None
    assert "Taiwan Strait" in settings.topics
    assert default_config().is_file()


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BRIEF_DB", str(tmp_path / "x.db"))
    monkeypatch.setenv("BRIEF_ADMIN_IDS", "42, 1001")
    monkeypatch.setenv("BRIEF_TELEGRAM_API_URL", "http://127.0.0.1:9000/bot")
    monkeypatch.setenv("BRIEF_RELEVANCE_THRESHOLD", "0.4")
    settings = load_settings()
    assert settings.db == tmp_path / "x.db"
    assert settings.admin_ids == (42, 1001)
    assert settings.telegram_api_url == "http://127.0.0.1:9000/bot"
    assert settings.relevance_threshold == 0.4


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BRIEF_TELEGRAM_TOKEN=123:abc\nBRIEF_BRIEF_SIZE=3\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BRIEF_ENV_FILE")  # what a deployed bot sees: .env is read
    settings = load_settings()
    assert settings.token == "123:abc"
    assert settings.brief_size == 3


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BRIEF_ADMIN_IDS", "42,bob", "comma-separated numeric Telegram user ids"),
        ("BRIEF_RELEVANCE_THRESHOLD", "high", "valid number"),
        ("BRIEF_RELEVANCE_THRESHOLD", "1.5", "less than 1"),
        ("BRIEF_BRIEF_SIZE", "0", "greater than or equal to 1"),
        ("BRIEF_TELEGRAM_API_URL", "ftp://x", "http:// or https://"),
        ("BRIEF_WEBHOOK_URL", "http://example.com/hook", "https://"),
        ("BRIEF_LOG_LEVEL", "LOUD", "DEBUG"),
    ],
)
def test_invalid_setting_names_itself_and_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert variable in str(caught.value)
    assert expected in str(caught.value)


def test_redacted_hides_secrets() -> None:
    settings = load_settings(telegram_token="123:secret", webhook_secret="s3cret")
    shown = settings.redacted()
    assert shown["telegram_token"] == "********"
    assert shown["webhook_secret"] == "********"
    assert "secret" not in repr(shown).replace("webhook_secret", "")


def test_every_setting_is_documented() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    example = (root / ".env.example").read_text(encoding="utf-8")
    names = [f"BRIEF_{name.upper()}" for name in load_settings().model_dump()]
    assert [n for n in names if n not in readme] == []
    assert [n for n in names if n not in example and n != "BRIEF_TOPICS"] == []


def test_rate_limit_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert (defaults.rate_limits, defaults.broadcast_per_second) == (True, 30)
    assert defaults.allow_paid_broadcast is False
    monkeypatch.setenv("BRIEF_RATE_LIMITS", "false")
    monkeypatch.setenv("BRIEF_BROADCAST_PER_SECOND", "25")
    monkeypatch.setenv("BRIEF_ALLOW_PAID_BROADCAST", "true")
    local = load_settings()
    assert (local.rate_limits, local.broadcast_per_second, local.allow_paid_broadcast) == (
        False,
        25,
        True,
    )
    monkeypatch.setenv("BRIEF_BROADCAST_PER_SECOND", "0")
    with pytest.raises(SettingsError, match="BRIEF_BROADCAST_PER_SECOND"):
        load_settings()


@pytest.mark.parametrize("where", ["environment", ".env", "config"])
def test_the_renamed_rate_limit_setting_is_not_silently_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    monkeypatch.chdir(tmp_path)
    if where == "environment":
        monkeypatch.setenv("BRIEF_RATE_LIMIT_PER_SECOND", "0")
    elif where == ".env":
        (tmp_path / ".env").write_text("BRIEF_RATE_LIMIT_PER_SECOND=0\n")
        monkeypatch.delenv("BRIEF_ENV_FILE")  # read .env, as a deployed bot does
    else:
        config = tmp_path / "brief.toml"
        config.write_text("rate_limit_per_second = 0\n" + default_config().read_text())
        monkeypatch.setenv("BRIEF_CONFIG", str(config))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "BRIEF_RATE_LIMIT_PER_SECOND" in str(caught.value)
    assert "BRIEF_RATE_LIMITS=false" in str(caught.value)


def test_a_dotenv_in_the_working_directory_cannot_change_the_tests_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # a developer's real token in .env must not start a bot that polls Telegram from `make test`
    (tmp_path / ".env").write_text("BRIEF_TELEGRAM_TOKEN=123:real\nBRIEF_BRIEF_SIZE=3\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.token is None
    assert settings.brief_size == 5
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    config = subprocess.run(
        [str(Path(sys.executable).parent / "brief"), "config"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    ).stdout
    assert 'telegram_token = ""' in config and "brief_size = 5" in config


@pytest.mark.parametrize("secret", ["has space", "x" * 257, "naïve", "semi;colon", "a/b"])
def test_webhook_secret_must_be_what_telegram_accepts(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("BRIEF_WEBHOOK_SECRET", secret)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "BRIEF_WEBHOOK_SECRET" in message
    assert "1–256 characters of A-Z, a-z, 0-9, _ and -" in message
    assert secret not in message  # a secret is never echoed


@pytest.mark.parametrize("secret", ["a", "x" * 256, "Az09_-", ""])
def test_webhook_secrets_telegram_accepts_pass(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("BRIEF_WEBHOOK_SECRET", secret)
    settings = load_settings()
    value = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    assert value == secret


def test_a_missing_brief_config_stops_with_its_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "brief.toml"
    monkeypatch.setenv("BRIEF_CONFIG", str(missing))
    with pytest.raises(SettingsError, match="BRIEF_CONFIG") as caught:
        load_settings()
    assert str(missing) in str(caught.value)


def test_database_url_is_empty_or_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().database_url == ""
    url = "postgresql://brief:pw@localhost:5432/brief"
    assert load_settings(database_url=url).database_url == url
    monkeypatch.setenv("BRIEF_DATABASE_URL", "mysql://brief:pw@localhost/brief")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "BRIEF_DATABASE_URL" in message
    assert "postgresql://" in message
    assert "pw@" not in message  # the URL may hold a password: never echoed


def test_database_label_never_shows_the_password() -> None:
    from knowledge.urls import database_label

    assert database_label("postgresql://u:secret@db.example:5433/brief") == (
        "PostgreSQL db.example:5433/brief"
    )
    assert database_label("postgres://localhost/x") == "PostgreSQL localhost/x"
    assert database_label("postgresql://u:p@[::1]:5432/d") == "PostgreSQL [::1]:5432/d"
    assert database_label("postgresql:///brief?host=/run/pg") == "PostgreSQL localhost/brief"
    assert database_label("postgresql://h:notaport/d") == "PostgreSQL h/d"
