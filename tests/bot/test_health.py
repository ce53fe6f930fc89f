"""/healthz and /readyz in polling mode (BRIEF_HEALTH_PORT), through the real Application's
start-up, a real feed server on 127.0.0.1 and a real SQLite file; plus the pure checks."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.handlers.common import STATE_KEY, BotState
from bot.standin import BotAPIStandIn
from knowledge.build import build_service
from knowledge.health import digest_check, poll_check
from knowledge.models import Source, Subscription
from knowledge.service import BriefService
from knowledge.settings import Settings, load_settings
from tests.support.pollserver import FeedServer

MINT = "feeds_netnewswire/files/livemint.xml"
MAX_AGE_MINUTES = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.route("/feed.xml", b"down", status=500, content_type="text/plain")
        yield server


@pytest.fixture
def standin() -> Iterator[BotAPIStandIn]:
    with BotAPIStandIn() as api:
        yield api


@pytest.fixture
def health_settings(tmp_path: Path, standin: BotAPIStandIn) -> Settings:
    return load_settings(
        db=tmp_path / "health.db",
        telegram_token=standin.token,
        telegram_api_url=standin.base_url,
        webhook_url="",
        poll=True,  # this process polls: the polling check applies
        ingest_worker=False,
        allow_private_addresses=True,  # the feed server is on 127.0.0.1
        fetch_full_text=False,
        health_listen="127.0.0.1",
        health_port=free_port(),
        ready_poll_max_age_minutes=MAX_AGE_MINUTES,
    )


@pytest.fixture
async def started(
    health_settings: Settings, embedder: Any
) -> AsyncIterator[tuple[Application, BriefService]]:  # type: ignore[type-arg]
    """The bot's start-up (post_init starts the health server) without its jobs running: the
    test polls by hand. The process "started" three hours ago, longer than the setting."""
    service = build_service(health_settings, embedder=embedder)
    app = build_application(health_settings, service)
    st: BotState = app.bot_data[STATE_KEY]
    st.started = datetime.now(UTC) - timedelta(hours=3)
    await app.initialize()
    assert app.post_init is not None and app.post_shutdown is not None
    await app.post_init(app)
    yield app, service
    await app.post_shutdown(app)
    await app.shutdown()
    service.close()


async def get(settings: Settings, path: str) -> httpx.Response:
    url = f"http://127.0.0.1:{settings.health_port}{path}"
    async with httpx.AsyncClient() as client:
        return await client.get(url, timeout=10)


async def test_readyz_follows_the_store_and_the_polls(
    started: tuple[Application, BriefService],  # type: ignore[type-arg]
    health_settings: Settings,
    feeds: FeedServer,
    shared_data: Path,
) -> None:
    _, service = started
    alive = await get(health_settings, "/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "alive"}
    first = await get(health_settings, "/readyz")
    assert first.status_code == 200, first.json()  # no sources: nothing to poll yet
    assert first.json()["checks"]["polling"]["detail"] == "no active sources to poll"

    opml = f'<opml version="2.0"><body><outline text="Feed" xmlUrl="{feeds.url("/feed.xml")}"/>'
    service.import_opml((opml + "</body></opml>").encode())
    failed = await asyncio.to_thread(service.ingest_sources)
    assert len(failed.failed) == 1  # the feed answers 500
    unready = await get(health_settings, "/readyz")
    assert unready.status_code == 503
    body = unready.json()
    assert body["status"] == "unready"
    polling = body["checks"]["polling"]
    assert polling["ok"] is False and polling["last_good_poll"] is None
    assert polling["detail"].startswith("no poll has succeeded for 1")  # ~180 min
    assert polling["age_seconds"] > polling["max_age_seconds"] == MAX_AGE_MINUTES * 60
    assert body["checks"]["store"]["ok"] is True

    feeds.serve_file("/feed.xml", shared_data / MINT)  # the feed is back
    recovered = await asyncio.to_thread(service.ingest_sources)
    assert recovered.failed == () and recovered.stored == 25
    ready = await get(health_settings, "/readyz")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["checks"]["polling"]["age_seconds"] < 60

    db = Path(health_settings.db)
    moved = db.with_name("moved.db")
    await asyncio.to_thread(db.rename, moved)  # the volume is gone: a fresh connection fails
    try:
        gone = await get(health_settings, "/readyz")
        assert gone.status_code == 503
        checks = gone.json()["checks"]
        assert checks["store"]["ok"] is False
        assert "Cannot open the database" in checks["store"]["detail"]
        assert checks["polling"]["detail"] == "not checked: the store is unreachable"
        assert (await get(health_settings, "/healthz")).status_code == 200  # alive all the same
    finally:
        await asyncio.to_thread(moved.rename, db)
    back = await get(health_settings, "/readyz")
    assert back.status_code == 200, back.json()


def source(**fields: Any) -> Source:
    values: dict[str, Any] = {
        "id": 1,
        "url": "https://example.org/feed",
        "kind": "feed",
        "title": "Feed",
        "added_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    return Source(**(values | fields))


def test_the_poll_age_runs_from_the_last_success_or_the_start() -> None:
    now = datetime(2026, 1, 2, 12, tzinfo=UTC)
    limit = timedelta(hours=2)
    recent = source(last_success=now - timedelta(minutes=30))
    assert poll_check([recent], now, now - timedelta(days=1), limit).ok
    stale = source(last_success=now - timedelta(hours=3))
    check = poll_check([stale, source(id=2)], now, now - timedelta(days=1), limit)
    assert not check.ok and check.values["age_seconds"] == 3 * 3600
    assert poll_check([stale], now, now - timedelta(minutes=5), limit).ok  # just restarted
    assert poll_check([source(paused=True)], now, now - timedelta(days=1), limit).ok


def test_the_digest_lag_counts_only_digests_owed() -> None:
    now = datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
    sub = Subscription(chat_id=5, thread_id=None, at=time(7, 0), timezone="UTC")
    limit = timedelta(minutes=30)
    late = digest_check([sub], {}, now, limit)
    assert not late.ok and late.values["lag_seconds"] == 3600 and late.values["late_chats"] == 1
    assert digest_check([sub], {5: date(2026, 1, 2)}, now, limit).ok  # claimed today
    assert digest_check([sub], {}, now.replace(minute=0, hour=7) + limit, limit).ok
    new = Subscription(chat_id=6, thread_id=None, at=time(7, 0), timezone="UTC", created_at=now)
    assert digest_check([new], {}, now, limit).ok  # subscribed after today's time
