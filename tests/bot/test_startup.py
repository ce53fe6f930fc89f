"""`brief run` at start: Telegram unreachable (retry with backoff), a token Telegram rejects
(exit 2, redacted, no traceback). Only loopback: a closed port or the stand-in."""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import backoff_delays, redact_token, run_bot, wait_for_telegram
from bot.standin import BotAPIStandIn
from knowledge.settings import load_settings
from tests.conftest import closed_loopback_port

TOKEN = "123456:TEST-TOKEN"


def test_backoff_doubles_up_to_a_minute() -> None:
    delays = backoff_delays()
    assert [next(delays) for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_redact_token_keeps_only_the_bot_id() -> None:
    assert redact_token("123456:AAE-secret_part") == "123456:********"
    assert redact_token("no-colon-secret") == "********"


async def test_unreachable_telegram_is_retried_until_it_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_loopback_port()
    api_url = f"http://127.0.0.1:{port}/bot"
    settings = load_settings(db=tmp_path / "b.db", telegram_token=TOKEN, telegram_api_url=api_url)
    standin = BotAPIStandIn(port=port)

    def delays() -> Iterator[float]:
        yield 0.01  # after the first failed attempt
        yield 0.01
        standin.start()  # Telegram comes up after the second retry was announced
        yield 0.01

    caplog.set_level(logging.INFO, logger="bot")
    try:
        username = await wait_for_telegram(settings, delays())
    finally:
        standin.stop()
    assert username == standin.bot_username
    retries = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(retries) == 3
    for number, line in enumerate(retries, 1):
        assert f"Telegram Bot API at {api_url} is unreachable (attempt {number}" in line
        assert "TEST-TOKEN" not in line
    assert not [r for r in caplog.records if r.exc_info]  # no traceback for an expected failure


def test_a_rejected_token_exits_2_redacted_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with BotAPIStandIn() as api:  # accepts only its own token
        settings = load_settings(
            db=tmp_path / "b.db", telegram_token="999:WRONG-secret", telegram_api_url=api.base_url
        )
        assert run_bot(settings) == 2
    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text
    assert "Telegram rejected the bot token 999:********" in captured.err
    assert "WRONG-secret" not in everything
    assert "Traceback" not in everything and not [r for r in caplog.records if r.exc_info]
    assert not (tmp_path / "b.db").exists()  # stopped before opening anything


def test_brief_run_keeps_retrying_then_stops_cleanly_on_ctrl_c(
    tmp_path: Path, unreachable_api_url: str
) -> None:
    env = {
        **os.environ,
        "BRIEF_DB": str(tmp_path / "b.db"),
        "BRIEF_TELEGRAM_TOKEN": TOKEN,
        "BRIEF_TELEGRAM_API_URL": unreachable_api_url,
        "HF_HUB_OFFLINE": "1",
    }
    brief = str(Path(sys.executable).parent / "brief")
    lines: queue.Queue[str] = queue.Queue()
    with subprocess.Popen(
        [brief, "run"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None
        stream = proc.stderr
        reader = threading.Thread(target=lambda: [lines.put(line) for line in stream])
        reader.start()
        seen: list[str] = []
        try:
            while sum("unreachable" in line for line in seen) < 2:
                seen.append(lines.get(timeout=300))  # attempt 1 at once, attempt 2 after 1 s
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=300)
            reader.join(timeout=300)
    while not lines.empty():
        seen.append(lines.get())
    output = "".join(seen)
    assert code == 0, output
    assert f"Telegram Bot API at {unreachable_api_url} is unreachable (attempt 2" in output
    assert "Traceback" not in output and "TEST-TOKEN" not in output
