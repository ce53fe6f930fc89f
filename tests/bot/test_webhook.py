"""Webhook mode end to end: the real Application serves a webhook on 127.0.0.1, sets it on the
Bot API stand-in, and answers an update POSTed to it as Telegram would.

The webhook runs against a stand-in of its own: with a webhook set the stand-in answers
getUpdates with 409, which would disturb the session's polling Application on the shared one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Update
from telegram.ext import Application

from bot import app as bot_app
from bot import texts
from bot.app import (
    build_application,
    run_bot,
    serve_webhook,
    start_updates,
    stop_updates,
    updater_options,
)
from bot.standin import BotAPIStandIn
from knowledge.service import BriefService
from knowledge.settings import Settings, load_settings

WEBHOOK_URL = "https://bot.example.org/hook/abc"
SECRET = "test-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

_update_ids = itertools.count(900_000)
_user_ids = itertools.count(5_000)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def hook_api() -> Iterator[BotAPIStandIn]:
    with BotAPIStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def hook_settings(settings: Settings, hook_api: BotAPIStandIn) -> Settings:
    return load_settings(
        db=settings.db,
        admin_ids=settings.admin_ids,
        telegram_token=hook_api.token,
        telegram_api_url=hook_api.base_url,
        brief_size=settings.brief_size,
        webhook_url=WEBHOOK_URL,
        webhook_listen="127.0.0.1",
        webhook_port=free_port(),
        webhook_secret=SECRET,
    )


@pytest.fixture(scope="module")
async def hook_app(
    hook_settings: Settings, service: BriefService, hook_api: BotAPIStandIn
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The real Application in webhook mode, started as run_webhook starts it."""
    app = build_application(hook_settings, service)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    await start_updates(app, hook_settings)
    await app.start()
    yield app
    await stop_updates(app)
    await app.stop()
    await app.shutdown()


@pytest.fixture
async def hook(hook_app: Application, hook_api: BotAPIStandIn) -> AsyncIterator[BotAPIStandIn]:  # type: ignore[type-arg]
    yield hook_api
    assert not hook_api.errors, hook_api.errors


def endpoint(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.webhook_port}/hook/abc"


def private_text(text: str, user_id: int) -> dict[str, Any]:
    """An update as Telegram POSTs it: a private message from a user."""
    user = {"id": user_id, "is_bot": False, "first_name": "Hook", "username": f"hook{user_id}"}
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Hook"},
            "from": user,
            "text": text,
        },
    }


async def post(settings: Settings, update: dict[str, Any], secret: str | None) -> httpx.Response:
    headers = {} if secret is None else {SECRET_HEADER: secret}
    async with httpx.AsyncClient() as client:
        return await client.post(endpoint(settings), json=update, headers=headers, timeout=120)


async def test_start_sets_the_webhook_with_the_secret(
    hook: BotAPIStandIn, hook_settings: Settings
) -> None:
    (call,) = [c for c in hook.calls_to("setWebhook") if c.params.get("url") == WEBHOOK_URL]
    assert call.ok
    assert call.params["url"] == WEBHOOK_URL
    assert call.params["secret_token"] == SECRET
    assert sorted(call.params["allowed_updates"]) == sorted(Update.ALL_TYPES)
    info = await hook.wait_for("getMe")
    assert info
    assert hook.my_commands()  # post_init ran against this stand-in


async def test_a_posted_update_is_answered(hook: BotAPIStandIn, hook_settings: Settings) -> None:
    uid = next(_user_ids)
    response = await post(hook_settings, private_text("Taiwan", uid), SECRET)
    assert response.status_code == 200
    reply = await hook.wait_for_message(uid)
    assert reply.text.startswith("<b>Brief: ")
    assert "Taiwan" in reply.plain_text
    (send,) = [c for c in hook.calls_to("sendMessage") if c.params.get("chat_id") == uid]
    assert send.ok


@pytest.mark.parametrize("secret", ["wrong-secret", None], ids=["wrong", "missing"])
async def test_a_post_without_the_secret_is_refused(
    hook: BotAPIStandIn, hook_settings: Settings, secret: str | None
) -> None:
    uid = next(_user_ids)
    response = await post(hook_settings, private_text("Taiwan", uid), secret)
    assert response.status_code == 403  # refused before any handler ran
    assert hook.chat_messages(uid) == []
    assert not [c for c in hook.calls if c.params.get("chat_id") == uid]


async def test_no_polling_in_webhook_mode(hook: BotAPIStandIn, hook_settings: Settings) -> None:
    uid = next(_user_ids)
    assert (await post(hook_settings, private_text("Taiwan", uid), SECRET)).status_code == 200
    await hook.wait_for_message(uid)
    assert hook.calls_to("getUpdates") == []


async def test_start_updates_logs_the_mode_but_no_secret(
    hook_api: BotAPIStandIn,
    hook_settings: Settings,
    service: BriefService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A second Application on its own port, with a generated secret: logged, not leaked."""
    settings = load_settings(
        db=hook_settings.db,
        telegram_token=hook_api.token,
        telegram_api_url=hook_api.base_url,
        webhook_url="https://other.example.org/tg/path-secret",
        webhook_listen="127.0.0.1",
        webhook_port=free_port(),
    )
    options = updater_options(settings)
    generated = options["secret_token"]
    assert len(generated) >= 32
    assert updater_options(settings)["secret_token"] != generated  # random each start-up
    app = build_application(settings, service)
    await app.initialize()
    try:
        with caplog.at_level(logging.INFO, logger="bot"):
            await start_updates(app, settings, options)
        set_hook = hook_api.calls_to("setWebhook")[-1]
        assert set_hook.params["url"] == "https://other.example.org/tg/path-secret"
        assert set_hook.params["secret_token"] == generated
        logged = caplog.text
        assert "webhook" in logged and "other.example.org" in logged
        for secret in (generated, hook_api.token, "path-secret"):
            assert secret not in logged
        url = f"http://127.0.0.1:{settings.webhook_port}/tg/path-secret"
        async with httpx.AsyncClient() as client:
            refused = await client.post(url, json=private_text("x", 1), timeout=120)
        assert refused.status_code == 403
    finally:
        await stop_updates(app)
        await app.shutdown()


async def test_a_malformed_body_with_the_right_secret_gets_400(
    hook: BotAPIStandIn, hook_settings: Settings
) -> None:
    """Not JSON, empty, JSON that is not an object, an object that is not an Update: 400, and
    nothing reaches a handler; the next real update is answered as ever."""
    bodies = [b"not json{", b"", b"[1, 2]", b'"text"', b"\xff\xfe", b'{"update_id": "x"}', b"{}"]
    async with httpx.AsyncClient() as client:
        for body in bodies:
            response = await client.post(
                endpoint(hook_settings),
                content=body,
                headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"},
                timeout=10,
            )
            assert response.status_code == 400, body
            assert response.json()["ok"] is False
    uid = next(_user_ids)
    assert (await post(hook_settings, private_text("Taiwan", uid), SECRET)).status_code == 200
    assert "Taiwan" in (await hook.wait_for_message(uid)).plain_text


async def test_health_checks_are_on_the_webhook_server(
    hook: BotAPIStandIn, hook_settings: Settings
) -> None:
    base = f"http://127.0.0.1:{hook_settings.webhook_port}"
    async with httpx.AsyncClient() as client:
        alive = await client.get(f"{base}/healthz", timeout=10)
        ready = await client.get(f"{base}/readyz", timeout=10)
    assert alive.status_code == 200 and alive.json() == {"status": "alive"}
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"store", "polling", "digests"}
    assert body["checks"]["store"]["ok"] is True


async def test_serve_webhook_runs_until_stopped_and_shuts_down_cleanly(
    hook_api: BotAPIStandIn, hook_settings: Settings, service: BriefService
) -> None:
    """`brief run`'s webhook mode: PTB's life cycle (post_init, start, stop, shutdown) around
    the bot's own server; stopped by an event (the signals set it in `brief run`)."""
    settings = hook_settings.model_copy(update={"webhook_port": free_port()})
    app = build_application(settings, service)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_webhook(app, settings, updater_options(settings), stop))
    url = f"http://127.0.0.1:{settings.webhook_port}"
    async with httpx.AsyncClient() as client:
        for _ in range(500):
            try:
                if (await client.get(f"{url}/healthz", timeout=5)).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.02)
        uid = next(_user_ids)
        update = private_text("Taiwan", uid)
        answered = await client.post(
            f"{url}/hook/abc", json=update, headers={SECRET_HEADER: SECRET}, timeout=10
        )
        assert answered.status_code == 200
        assert "Taiwan" in (await hook_api.wait_for_message(uid)).plain_text
        stop.set()
        await asyncio.wait_for(task, 60)
        assert not app.running
        with pytest.raises(httpx.TransportError):
            await client.get(f"{url}/healthz", timeout=5)


def test_run_hands_the_options_to_serve_webhook_or_run_polling(
    hook_settings: Settings, service: BriefService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`brief run` serves the webhook with the options start_updates uses; polling blocks in
    PTB's run_polling (signals, clean shutdown)."""
    seen: dict[str, Any] = {}

    async def fake_serve(app: Application, settings: Settings, options: dict[str, Any]) -> None:  # type: ignore[type-arg]
        seen["webhook"] = options

    def fake_polling(self: Application, **kwargs: Any) -> None:  # type: ignore[type-arg]
        seen["polling"] = kwargs

    monkeypatch.setattr(bot_app, "serve_webhook", fake_serve)
    monkeypatch.setattr(Application, "run_polling", fake_polling)
    bot_app._run(build_application(hook_settings, service), hook_settings)
    expected = updater_options(hook_settings)
    expected.pop("secret_token")
    assert seen["webhook"] == seen["webhook"] | expected
    assert seen["webhook"]["secret_token"] == SECRET
    polling = load_settings(
        db=hook_settings.db,
        telegram_token=hook_settings.token,
        telegram_api_url=hook_settings.telegram_api_url,
        webhook_url="",
    )
    bot_app._run(build_application(polling, service), polling)
    assert seen["polling"] == {"allowed_updates": Update.ALL_TYPES, "drop_pending_updates": False}


def test_run_bot_with_a_webhook_and_no_token_explains_botfather(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(
        db=tmp_path / "brief.db",
        telegram_token="",
        webhook_url=WEBHOOK_URL,
        webhook_secret=SECRET,
    )
    assert run_bot(settings) == 2
    err = capsys.readouterr().err
    assert err == texts.NO_TOKEN
    assert "t.me/BotFather" in err
    assert not (tmp_path / "brief.db").exists()  # nothing opened
