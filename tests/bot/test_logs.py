"""One logging setup: JSON lines for collectors; `brief chat` keeps background logs in a file and
shows one dim line per poll round, never a WARNING line per source."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import texts
from bot.terminal import run_chat
from knowledge import logs
from knowledge.build import build_service
from knowledge.settings import load_settings
from tests.support.pollserver import FeedServer


def test_json_format_is_one_object_a_line() -> None:
    stream = io.StringIO()
    handler = logs.configure("INFO", "json", stream=stream)
    try:
        logging.getLogger("knowledge.test").warning("source %d: %s", 3, "down")
        logging.getLogger("httpx").info("GET https://api.telegram.org/bot123:secret/getMe")
    finally:
        logging.getLogger().removeHandler(handler)
    (line,) = stream.getvalue().splitlines()  # httpx's INFO line is silenced at its logger
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "knowledge.test"
    assert entry["message"] == "source 3: down" and entry["time"].endswith("+00:00")


class SlowInput(io.StringIO):
    """Ends the chat only once the first poll round has reached every source."""

    def __init__(self, feeds: FeedServer, paths: list[str]) -> None:
        super().__init__("")
        self.feeds, self.paths = feeds, paths

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if all(self.feeds.hits(p) for p in self.paths):
                break
            time.sleep(0.02)
        return ""


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        for n in range(3):
            server.route(f"/down{n}.xml", b"down", status=500, content_type="text/plain")
        yield server


async def test_chat_shows_one_dim_line_for_unreachable_sources_and_logs_to_a_file(
    tmp_path: Path, feeds: FeedServer, embedder: object
) -> None:
    settings = load_settings(
        db=tmp_path / "chat.db",
        telegram_token="",
        poll=True,
        allow_private_addresses=True,
        fetch_full_text=False,
    )
    service = build_service(settings, embedder=embedder)  # type: ignore[arg-type]
    paths = [f"/down{n}.xml" for n in range(3)]
    outlines = "".join(
        f'<outline text="D{n}" xmlUrl="{feeds.url(p)}"/>' for n, p in enumerate(paths)
    )
    service.import_opml(f'<opml version="2.0"><body>{outlines}</body></opml>'.encode())
    out = io.StringIO()
    try:
        code = await asyncio.to_thread(run_chat, settings, SlowInput(feeds, paths), out, service)
    finally:
        service.close()
    assert code == 0
    shown = out.getvalue()
    assert f"· {texts.TERMINAL_POLL_ALL_FAILED.format(count=3)}\n" in shown
    assert "WARNING" not in shown and "answered HTTP 500" not in shown
    logged = (tmp_path / "chat.db.chat.log").read_text(encoding="utf-8")
    assert logged.count("answered HTTP 500") >= 3  # the details, one line per source
