"""`brief chat`: talk to the bot in the terminal.

The real Application and its handlers run behind it; only the transport differs: the Bot API
stand-in (bot.standin.BotAPI) answers in process, no network, validating what the bot sends as
Telegram would, and each typed line goes in as an Update through process_update.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot import texts
from bot.app import build_application, held, opt_in_to_timedelta
from bot.handlers import sources
from bot.standin import BotAPI, SentMessage
from knowledge import logs
from knowledge.build import build_service
from knowledge.models import PollReport
from knowledge.service import BriefService
from knowledge.settings import Settings

TOKEN = "0:TERMINAL"
CHAT_ID = 1000
Json = dict[str, Any]


def terminal_api() -> BotAPI:
    """The in-process Bot API the terminal chat talks to."""
    return BotAPI(TOKEN, "brief_bot", 1, bot_first_name="Indo-Pacific Brief")


def with_links(text: str, entities: list[Json]) -> str:
    """Rendered text with each link's URL after it: `title <url>` (offsets are UTF-16)."""
    units = text.encode("utf-16-le")
    links = [(e["offset"] + e["length"], e["url"]) for e in entities if e["type"] == "text_link"]
    for end, url in sorted(links, reverse=True):  # from the end: earlier offsets stay valid
        units = units[: 2 * end] + f" <{url}>".encode("utf-16-le") + units[2 * end :]
    return units.decode("utf-16-le")


def buttons_of(markup: Json | None) -> list[Json]:
    """The inline buttons of a reply_markup, row by row, as one list."""
    rows = (markup or {}).get("inline_keyboard") or []
    return [button for row in rows for button in row]


def format_buttons(buttons: list[Json]) -> str:
    """`[1] More ▸  [2] Taiwan Strait`."""
    return "  ".join(f"[{i}] {b.get('text', '')}" for i, b in enumerate(buttons, 1))


class LoopbackRequest(BaseRequest):
    """A BaseRequest that never touches the network: the in-process Bot API answers."""

    def __init__(self, api: BotAPI) -> None:
        self.api = api

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
        params = dict(request_data.parameters) if request_data else {}
        response = self.api.call(url.rsplit("/", 1)[-1], params)
        status = 200 if response.get("ok") else int(response.get("error_code") or 500)
        return status, json.dumps(response).encode()


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

    def poll_line(self, report: PollReport) -> None:
        """One dim line for a poll round with failures (the details are in the log file),
        never one line per source."""
        failed = len(report.failed)
        if not failed:
            return
        if failed == len(report.polls):
            text = texts.TERMINAL_POLL_ALL_FAILED.format(count=failed)
        else:
            text = texts.TERMINAL_POLL_SOME_FAILED.format(count=failed, total=len(report.polls))
        self.say(f"· {text}", "dim")

    def prompt(self) -> None:
        if self.console is not None:
            self.console.print(texts.TERMINAL_PROMPT, style="bold green", end="")


@dataclass
class _Chat:
    application: Any
    api: BotAPI
    screen: _Screen
    user_id: int
    shown: int = 0  # calls already shown

    async def feed(self) -> None:
        for data in self.api.take_updates():
            await self.application.process_update(Update.de_json(data, self.application.bot))
        self.show()

    def show(self) -> None:
        calls = self.api.calls
        fresh, self.shown = calls[self.shown :], len(calls)
        for call in fresh:
            if not call.ok:
                continue
            if call.method == "answerCallbackQuery" and call.params.get("text"):
                self.screen.say(f"· {call.params['text']}", "dim")
            elif call.method in ("sendMessage", "editMessageText"):
                message = call.result
                text = with_links(message["text"], message.get("entities", []))
                self.screen.say(text, "" if call.method == "sendMessage" else "italic")
                if buttons := buttons_of(message.get("reply_markup")):
                    self.screen.say(format_buttons(buttons), "cyan")
                self.screen.say("")

    def button_message(self) -> SentMessage | None:
        """The newest bot message that still has buttons."""
        live = [m for m in self.api.chat_messages(CHAT_ID) if m.buttons]
        return max(live, key=lambda m: m.message_id, default=None)

    async def press(self, number: int) -> None:
        message = self.button_message()
        buttons = buttons_of(message.reply_markup) if message else []
        if message is None or not 1 <= number <= len(buttons):
            self.screen.say(texts.TERMINAL_NO_BUTTON.format(number=number), "yellow")
            return
        button = buttons[number - 1]
        if "callback_data" in button:
            self.api.push_callback_query(
                button["callback_data"], CHAT_ID, self.user_id, message.message_id
            )
            await self.feed()
        elif "url" in button:
            self.screen.say(texts.TERMINAL_OPEN_LINK.format(url=button["url"]), "cyan")

    async def handle(self, line: str) -> None:
        message = self.button_message()
        count = len(buttons_of(message.reply_markup)) if message else 0
        if line.isdigit() and 1 <= int(line) <= max(count, 9):
            await self.press(int(line))
        else:
            self.api.push_message(line, CHAT_ID, self.user_id, first_name="You")
            await self.feed()


async def _chat_loop(
    settings: Settings, service: BriefService, input_stream: TextIO, screen: _Screen
) -> None:
    api = terminal_api()
    application = build_application(
        settings,
        service,
        request=LoopbackRequest(api),
        get_updates_request=LoopbackRequest(api),
        token=TOKEN,
    )
    user_id = settings.admin_ids[0] if settings.admin_ids else CHAT_ID
    chat = _Chat(application, api, screen, user_id)
    interactive = input_stream.isatty()
    await application.initialize()
    stop = asyncio.Event()
    polling = (
        asyncio.create_task(sources.poll_until(service, stop, screen.poll_line))
        if settings.poll
        else None
    )
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
    # background logs go to a file, never between the chat's lines
    log_file = Path(f"{settings.db}.chat.log")
    handler = logs.configure(settings.log_level, settings.log_format, file=log_file)
    own = service is None
    if service is None:
        screen.say(texts.TERMINAL_LOADING, "dim")
        service = build_service(settings, poll_in_worker=settings.ingest_worker)
    try:
        if own:
            service.warm_up()
        with held(settings):  # brief restore refuses while the chat runs
            asyncio.run(_chat_loop(settings, service, input_stream, screen))
    except KeyboardInterrupt:
        screen.say(texts.TERMINAL_BYE, "dim")
    finally:
        if own:
            service.close()
        logging.getLogger().removeHandler(handler)
        handler.close()
    return 0
