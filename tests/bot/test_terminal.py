"""`brief chat` and `brief run` without a token."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import texts
from bot.app import run_bot
from bot.standin import parse_html
from bot.terminal import run_chat, with_links
from knowledge.build import build_service
from knowledge.service import BriefService
from knowledge.settings import Settings, load_settings

SEED_TITLE = "U.S. Defense Secretary Vows to 'Stoutly Defend' Indo-Pacific Interests"


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, bot_embedder: object
) -> Iterator[tuple[Settings, BriefService]]:
    settings = load_settings(
        db=tmp_path_factory.mktemp("chat") / "brief.db", telegram_token="", brief_size=2
    )
    service = build_service(settings, embedder=bot_embedder)  # type: ignore[arg-type]
    service.seed()
    service.warm_up()
    yield settings, service
    service.close()


async def chat(seeded: tuple[Settings, BriefService], lines: str) -> str:
    settings, service = seeded
    out = io.StringIO()
    code = await asyncio.to_thread(run_chat, settings, io.StringIO(lines), out, service)
    assert code == 0
    return out.getvalue()


async def test_chat_answers_a_topic_with_the_seed_article(
    seeded: tuple[Settings, BriefService],
) -> None:
    output = await chat(seeded, "Taiwan Strait tensions\n")
    assert output.startswith(texts.TERMINAL_INTRO + "\n")
    assert "Brief: Taiwan Strait tensions\nstories 1–1 of 1\n\n1. " + SEED_TITLE in output
    assert "Seed article · 31 Oct 2025" in output
    assert "<b>" not in output and "&amp;" not in output
    assert output.endswith(texts.TERMINAL_BYE + "\n")  # Ctrl-D (end of input) leaves


async def test_chat_one_word_taiwan_finds_the_seed_article(
    seeded: tuple[Settings, BriefService],
) -> None:
    output = await chat(seeded, "Taiwan\n")
    assert "Brief: Taiwan\nstories 1–1 of 1\n\n1. " + SEED_TITLE in output


async def test_chat_buttons_are_numbered_and_pressed_by_number(
    seeded: tuple[Settings, BriefService],
) -> None:
    output = await chat(seeded, "/start\n1\n/quit\nnever read\n")
    assert "[1] Taiwan Strait  [2] South China Sea  [3] Korean Peninsula" in output
    after_press = output.split("[3] Korean Peninsula", 1)[1]
    assert "Brief: Taiwan Strait\n" in after_press
    assert SEED_TITLE in after_press
    assert "never read" not in output


async def test_chat_help_latest_topics_and_unknown_button(
    seeded: tuple[Settings, BriefService],
) -> None:
    lines = "/help\n/latest\n/topics\n9\n8\n/brief\nchocolate cake recipe\n"
    output = await chat(seeded, lines)
    assert "Commands\n/start – what this bot does" in output
    assert "Latest stories\nstories 1–1 of 1" in output
    assert texts.TOPICS_HEADER in output
    # 9 is no button: said so, nothing sent; 8 then presses ASEAN, whose brief follows at once
    no_button = texts.TERMINAL_NO_BUTTON.format(number=9)
    assert f"[8] ASEAN\n\n{no_button}\nBrief: ASEAN\nstories 1–1 of 1\n" in output
    assert output.count(no_button) == 1
    assert texts.ASK_TOPIC in output
    assert output.count(texts.NOTHING_FOUND) == 1  # the cake recipe, and only it
    assert output.index(texts.NOTHING_FOUND) > output.index(texts.ASK_TOPIC)


def test_with_links_shows_links_as_title_and_url() -> None:
    html = '<b><a href="https://x.example/?a=1&amp;b=2">A &amp; B</a></b>\n<i>also:</i> 🌊 <a href="https://y.example">C</a>'
    assert with_links(*parse_html(html)) == (
        "A & B <https://x.example/?a=1&b=2>\nalso: 🌊 C <https://y.example>"
    )


def test_run_bot_without_a_token_explains_botfather(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(db=tmp_path / "brief.db", telegram_token="")
    assert run_bot(settings) == 2
    err = capsys.readouterr().err
    assert "t.me/BotFather" in err
    assert "/newbot" in err
    assert "export BRIEF_TELEGRAM_TOKEN=" in err
    assert ".env" in err
    assert "brief chat" in err and "make chat" in err
    assert not (tmp_path / "brief.db").exists()  # nothing opened
