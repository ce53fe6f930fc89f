"""`brief digest`: the subscribed chats, and a chat's digest previewed without sending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from knowledge.build import build_service
from knowledge.embedder import Embedder
from knowledge.settings import load_settings


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("BRIEF_DB", str(path))
    now = datetime.now(UTC)
    service = build_service(load_settings(db=path), embedder=embedder)
    records = [
        {
            "title": "North Korea fires ballistic missile into the sea off its east coast",
            "text": "North Korea fired a ballistic missile into the sea off its east coast, "
            "South Korea's military said, the latest in a series of weapons tests.",
            "source": "Yonhap",
            "url": "https://news.example/korea",
            "published": (now - timedelta(hours=3)).isoformat(),
        },
        {
            "title": "Manchester United beat Liverpool 2-1 at Old Trafford",
            "text": "Manchester United came from behind to beat Liverpool 2-1 in the Premier "
            "League on Sunday in front of a sell-out crowd at Old Trafford.",
            "source": "Sports Desk",
            "url": "https://news.example/football",
            "published": (now - timedelta(hours=1)).isoformat(),
        },
    ]
    service.import_records(list(enumerate(records, 1)))
    service.subscribe(42, at="06:30", timezone="Asia/Manila")
    service.follow(42, "North Korea")
    service.close()
    return path


def test_preview_prints_the_digest_and_sends_nothing(db: Path) -> None:
    result = CliRunner().invoke(app, ["digest", "--chat", "42", "--preview"])
    assert result.exit_code == 0, result.output
    assert "Digest for chat 42" in result.output
    assert "(Asia/Manila)" in result.output
    assert "North Korea\n1. North Korea fires ballistic missile" in result.output
    assert "Manchester United" not in result.output  # in no region topic
    again = CliRunner().invoke(app, ["digest", "--chat", "42", "--preview"])
    assert again.output == result.output  # nothing was recorded


def test_preview_of_an_unsubscribed_chat_and_with_topics(db: Path) -> None:
    result = CliRunner().invoke(
        app, ["digest", "--chat", "7", "--preview", "--topic", "Scarborough Shoal"]
    )
    assert result.exit_code == 0, result.output
    assert "not subscribed" in result.output
    assert "Nothing new." in result.output


def test_listing_subscriptions(db: Path) -> None:
    result = CliRunner().invoke(app, ["digest", "--at", "2030-01-01T00:00"])
    assert result.exit_code == 0, result.output
    assert "42" in result.output and "06:30" in result.output and "North Korea" in result.output
    assert "next 2030-01-01 22:30 UTC" in result.output  # the next 06:30 in Manila (+08:00)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["digest", "--chat", "42"], "add --preview"),
        (["digest", "--at", "tomorrow"], "not an ISO 8601 time"),
        (["digest", "--chat", "42", "--preview", "--topic", " "], "Name a topic"),
    ],
)
def test_bad_input_is_explained(db: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
