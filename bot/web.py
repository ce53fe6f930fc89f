"""The bot's HTTP server (tornado, which PTB's webhooks extra installs): GET /healthz, GET /readyz
and, in webhook mode, the webhook path Telegram POSTs updates to.

PTB's own webhook server has no room for other routes, so in webhook mode this one takes its
place, as PTB's custom-webhook examples do: updates go on `application.update_queue`, which the
running Application reads. A body that is not a JSON object, or not an Update, gets 400 (PTB's
answers 500); a missing or wrong secret token gets 403, before the body is read.

/healthz answers 200 while the event loop runs. /readyz answers 200 when every check of
knowledge/health.py passes and 503 otherwise, with the checks as JSON either way.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import tornado.web
from telegram import Update
from tornado.httpserver import HTTPServer

from knowledge.health import Readiness

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ReadyFn = Callable[[], Awaitable[Readiness]]


class _Json(tornado.web.RequestHandler):
    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")

    def reply(self, status: int, body: dict[str, object]) -> None:
        self.set_status(status)
        self.finish(json.dumps(body, ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors as JSON too (a GET to the webhook path: 405)."""
        self.finish(json.dumps({"ok": False, "error": self._reason}))


class _Alive(_Json):
    def get(self) -> None:
        self.reply(200, {"status": "alive"})


class _Ready(_Json):
    def initialize(self, ready: ReadyFn) -> None:
        self.ready = ready

    async def get(self) -> None:
        readiness = await self.ready()
        self.reply(200 if readiness.ready else 503, readiness.as_json())


class _Updates(_Json):
    SUPPORTED_METHODS = ("POST",)  # type: ignore[assignment]

    def initialize(self, bot_app: Any, secret: str) -> None:
        self.bot_app = bot_app  # tornado's own `application` is the web application
        self.secret = secret

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            self.reply(403, {"ok": False, "error": "missing or wrong secret token"})
            return
        try:
            data = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError):
            self.reply(400, {"ok": False, "error": "the body is not JSON"})
            return
        update = None
        # every Update has an integer update_id; PTB takes a string one on trust
        if isinstance(data, dict) and type(data.get("update_id")) is int:
            try:
                update = Update.de_json(data, self.bot_app.bot)
            except Exception as exc:  # whatever PTB makes of a malformed update
                log.info("webhook: a body that is not an Update: %s", exc)
        if update is None:
            self.reply(400, {"ok": False, "error": "the body is not a Telegram Update"})
            return
        await self.bot_app.update_queue.put(update)
        self.reply(200, {"ok": True})


class _Quiet(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """No access log: a probe every few seconds would fill it (failures log themselves)."""


class WebServer:
    """/healthz, /readyz and (when `application` and `path` are given) the webhook."""

    def __init__(
        self,
        listen: str,
        port: int,
        ready: ReadyFn,
        *,
        application: Any = None,
        path: str = "",
        secret: str = "",
    ) -> None:
        routes: list[Any] = [(r"/healthz", _Alive), (r"/readyz", _Ready, {"ready": ready})]
        if application is not None:
            hook = {"bot_app": application, "secret": secret}
            routes.append((rf"/{path.strip('/')}/?", _Updates, hook))
        self.listen, self.port = listen, port
        self._server = HTTPServer(_Quiet(routes))
        self._running = False

    async def start(self) -> None:
        """Listen now (OSError when the port is taken)."""
        self._server.listen(self.port, address=self.listen)
        self._running = True
        log.info("health checks on http://%s:%d/healthz and /readyz", self.listen, self.port)

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if not self._running:
            return
        self._running = False
        self._server.stop()
        await self._server.close_all_connections()


def readiness_of(service: Any, settings: Any, started: datetime) -> ReadyFn:
    """The /readyz callable for a bot process: the service's checks, off the event loop."""

    async def ready() -> Readiness:
        now = datetime.now(UTC)
        return await asyncio.to_thread(service.readiness, now, started, settings.poll)

    return ready
