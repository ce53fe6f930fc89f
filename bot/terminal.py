"""`brief chat`: talk to the bot in the terminal.

The real Application and its handlers run behind it; only the transport differs. A loopback
"Bot API" (a BaseRequest answering the few methods the bot calls, in process, no network)
stores what the bot sends, and each typed line goes in as an Update through process_update.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, TextIO

from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot import texts
from bot.app import build_application, opt_in_to_timedelta
from bot.handlers import sources
from knowledge.service import BriefService
from knowledge.settings import Settings

TOKEN = "0:TERMINAL"
BOT_USER = {"id": 1, "is_bot": True, "first_name": "Indo-Pacific Brief", "username": "brief_bot"}
BOT_USER |= {"can_join_groups": True, "supports_inline_queries": True}
CHAT_ID = 1000
Json = dict[str, Any]


# --- HTML → plain text -----------------------------------------------------------------------


class _Plain(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href:
            self.out.append(f" <{self._href}>")
            self._href = None

    def handle_data(self, data: str) -> None:
        self.out.append(data)


def html_to_plain(html: str) -> str:
    """Telegram HTML as plain text: tags dropped, entities decoded, links as `title <url>`."""
    parser = _Plain()
    parser.feed(html)
    parser.close()
    return "".join(parser.out)


def buttons_of(markup: Json | None) -> list[Json]:
    """The inline buttons of a reply_markup, row by row, as one list."""
    rows = (markup or {}).get("inline_keyboard") or []
    return [button for row in rows for button in row]


def format_buttons(buttons: list[Json]) -> str:
    """`[1] More ▸  [2] Taiwan Strait`."""
    return "  ".join(f"[{i}] {b.get('text', '')}" for i, b in enumerate(buttons, 1))


# --- the loopback Bot API ----------------------------------------------------------------------


@dataclass
class Loopback:
    """What the bot sent, kept in process; the methods the handlers call, answered locally."""

    messages: dict[int, Json] = field(default_factory=dict)  # message_id → bot message
    events: list[tuple[str, Json]] = field(default_factory=list)  # ("sent"|"edited"|"notice")
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def call(self, method: str, params: Json) -> Json | bool | list[Any]:
        """The result of Bot API `method`, or raise LookupError for one we do not serve."""
        if method == "getMe":
            return BOT_USER
        if method == "sendMessage":
            message = {
                "message_id": next(self.ids),
                "date": int(time.time()),
                "chat": {"id": params["chat_id"], "type": "private", "first_name": "You"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            self.messages[message["message_id"]] = message
            self.events.append(("sent", message))
            return message
        if method in ("editMessageText", "editMessageReplyMarkup"):
            message = self.messages[int(params["message_id"])]
            if method == "editMessageText":
                message["text"] = params.get("text", "")
                self.events.append(("edited", message))
            message.pop("reply_markup", None)
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "answerCallbackQuery":
            if params.get("text"):
                self.events.append(("notice", {"text": params["text"]}))
            return True
        if method == "getUpdates":
            return []
        if method in {"sendChatAction", "setMyCommands", "deleteWebhook", "answerInlineQuery"}:
            return True
        raise LookupError(method)


class LoopbackRequest(BaseRequest):
    """A BaseRequest that never touches the network: Loopback answers every call."""

    def __init__(self, loopback: Loopback) -> None:
        self.loopback = loopback

    @property
    def read_timeout(self) -> float | None:
        """No network, no timeouts."""
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = None,
        write_timeout: object = None,
        connect_timeout: object = None,
        pool_timeout: object = None,
    ) -> tuple[int, bytes]:
        """Answer a Bot API call as Telegram would, in JSON."""
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        try:
            result = self.loopback.call(api_method, params)
        except (LookupError, ValueError) as exc:
            body = {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
            return 400, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()


# --- the chat loop -----------------------------------------------------------------------------


class _Screen:
    """Writes to the output: rich colours on a terminal, plain text otherwise."""

    def __init__(self, output: TextIO) -> None:
        self.output = output
        self.console: Any = None
        if output.isatty():
            from rich.console import Console

            self.console = Console(file=output, highlight=False, markup=False)

    def say(self, text: str, style: str = "") -> None:
        if self.console is not None:
            self.console.print(text, style=style or None, soft_wrap=True)
        else:
            self.output.write(text + "\n")
            self.output.flush()

    def prompt(self) -> None:
        if self.console is not None:
            self.console.print(texts.TERMINAL_PROMPT, style="bold green", end="")


@dataclass
class _Chat:
    application: Any
    loopback: Loopback
    screen: _Screen
    user_id: int
    updates: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    buttons: list[Json] = field(default_factory=list)
    button_message: Json | None = None

    def user(self) -> Json:
        return {"id": self.user_id, "is_bot": False, "first_name": "You"}

    def message_update(self, text: str) -> Json:
        message: Json = {
            "message_id": next(self.loopback.ids),
            "date": int(time.time()),
            "chat": {"id": CHAT_ID, "type": "private", "first_name": "You"},
            "from": self.user(),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"update_id": next(self.updates), "message": message}

    def callback_update(self, data: str, message: Json) -> Json:
        query = {
            "id": str(next(self.updates)),
            "from": self.user(),
            "chat_instance": "terminal",
            "data": data,
            "message": message,
        }
        return {"update_id": next(self.updates), "callback_query": query}

    async def feed(self, data: Json) -> None:
        update = Update.de_json(data, self.application.bot)
        await self.application.process_update(update)
        self.show()

    def show(self) -> None:
        events, self.loopback.events[:] = list(self.loopback.events), []
        for kind, message in events:
            if kind == "notice":
                self.screen.say(f"· {message['text']}", "dim")
                continue
            self.screen.say(html_to_plain(message["text"]), "" if kind == "sent" else "italic")
            if buttons := buttons_of(message.get("reply_markup")):
                self.screen.say(format_buttons(buttons), "cyan")
            self.screen.say("")
        live = [m for m in self.loopback.messages.values() if buttons_of(m.get("reply_markup"))]
        self.button_message = max(live, key=lambda m: int(m["message_id"]), default=None)
        latest = self.button_message
        self.buttons = buttons_of(latest.get("reply_markup") if latest else None)

    async def press(self, number: int) -> None:
        if not 1 <= number <= len(self.buttons) or self.button_message is None:
            self.screen.say(texts.TERMINAL_NO_BUTTON.format(number=number), "yellow")
            return
        button = self.buttons[number - 1]
        if "callback_data" in button:
            await self.feed(self.callback_update(button["callback_data"], self.button_message))
        elif "url" in button:
            self.screen.say(texts.TERMINAL_OPEN_LINK.format(url=button["url"]), "cyan")

    async def handle(self, line: str) -> None:
        if line.isdigit() and 1 <= int(line) <= max(len(self.buttons), 9):
            await self.press(int(line))
        else:
            await self.feed(self.message_update(line))


async def _chat_loop(
    settings: Settings, service: BriefService, input_stream: TextIO, screen: _Screen
) -> None:
    loopback = Loopback()
    application = build_application(
        settings,
        service,
        request=LoopbackRequest(loopback),
        get_updates_request=LoopbackRequest(loopback),
        token=TOKEN,
    )
    user_id = settings.admin_ids[0] if settings.admin_ids else CHAT_ID
    chat = _Chat(application, loopback, screen, user_id)
    interactive = input_stream.isatty()
    await application.initialize()
    stop = asyncio.Event()
    polling = asyncio.create_task(sources.poll_until(service, stop)) if settings.poll else None
    try:
        screen.say(texts.TERMINAL_INTRO, "dim")
        while True:
            if interactive:
                screen.prompt()
            line = await asyncio.to_thread(input_stream.readline)
            if not line:
                break
            line = line.strip()
            if line in ("/quit", "/exit"):
                break
            if line:
                await chat.handle(line)
    finally:
        stop.set()
        if polling is not None:
            await polling  # a poll under way finishes (nothing is half-stored)
        await application.shutdown()
    screen.say(texts.TERMINAL_BYE, "dim")


def run_chat(
    settings: Settings,
    input_stream: TextIO = sys.stdin,
    output: TextIO = sys.stdout,
    service: BriefService | None = None,
) -> int:
    """`brief chat`: the bot's conversation in this terminal, no token needed. 0 on leaving."""
    opt_in_to_timedelta()
    screen = _Screen(output)
    own = service is None
    if service is None:
        screen.say(texts.TERMINAL_LOADING, "dim")
        service = BriefService(settings)
    try:
        if own:
            service.warm_up()
        asyncio.run(_chat_loop(settings, service, input_stream, screen))
    except KeyboardInterrupt:
        screen.say(texts.TERMINAL_BYE, "dim")
    finally:
        if own:
            service.close()
    return 0
