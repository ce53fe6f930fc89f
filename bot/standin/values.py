"""The stand-in's value types: what a test reads back (calls, messages) and the error answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_RESULTS = 50
MAX_INLINE_RESULT_ID_BYTES = 64

JSONDict = dict[str, Any]
ButtonRows = list[list[tuple[str, str | None]]]


class BotAPIError(Exception):
    """An error answer of the Bot API (``{"ok": false, ...}``) with its HTTP status."""

    def __init__(
        self, error_code: int, description: str, parameters: JSONDict | None = None
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_response(self) -> JSONDict:
        response: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            response["parameters"] = dict(self.parameters)
        return response


@dataclass(frozen=True)
class Call:
    """One request the stand-in received, with the answer it gave.

    ``method`` is the canonical Bot API spelling (``sendMessage``) whatever case the client
    used; ``params`` are decoded (nested JSON such as ``reply_markup`` is a dict/list, numbers
    are ints); ``at`` is ``time.monotonic()`` on arrival; ``response`` is the JSON body sent.
    """

    method: str
    params: JSONDict
    at: float
    response: JSONDict

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def error_code(self) -> int | None:
        return self.response.get("error_code")

    @property
    def description(self) -> str | None:
        return self.response.get("description")


@dataclass
class SentMessage:
    """A message the bot sent, as the user would see it now (edits are applied in place).

    ``text`` is the text exactly as the bot sent it (with HTML tags, if any); ``plain_text`` and
    ``entities`` are what Telegram renders after parsing.
    """

    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None
    reply_markup: JSONDict | None
    disable_web_page_preview: bool | None
    link_preview_options: JSONDict | None
    edited: bool = False
    plain_text: str = ""
    entities: list[JSONDict] = field(default_factory=list)
    date: int = 0
    edit_date: int | None = None
    reply_to_message_id: int | None = None
    message_thread_id: int | None = None  # the forum topic it was sent to

    @property
    def buttons(self) -> ButtonRows:
        """Inline keyboard as rows of ``(text, callback_data or url)``; ``[]`` if none."""
        return inline_buttons(self.reply_markup)

    @property
    def callback_data(self) -> list[str]:
        """All ``callback_data`` values of the inline keyboard, row by row."""
        return [
            str(button["callback_data"])
            for row in _keyboard_rows(self.reply_markup)
            for button in row
            if isinstance(button, dict) and "callback_data" in button
        ]


def _keyboard_rows(markup: JSONDict | None) -> list[list[Any]]:
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list):
        return []
    return [row for row in rows if isinstance(row, list)]


def inline_buttons(markup: JSONDict | None) -> ButtonRows:
    """Rows of ``(text, callback_data or url or None)`` for an inline keyboard markup dict."""
    rows: ButtonRows = []
    for row in _keyboard_rows(markup):
        out: list[tuple[str, str | None]] = []
        for button in row:
            if not isinstance(button, dict):
                continue
            target = button.get("callback_data", button.get("url"))
            out.append((str(button.get("text", "")), None if target is None else str(target)))
        rows.append(out)
    return rows
