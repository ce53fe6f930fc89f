"""A local stand-in for the Telegram Bot API, for tests and benchmarks.

It is a real HTTP server on ``127.0.0.1`` (ephemeral port, background daemon threads) that speaks
enough of the Bot API for python-telegram-bot's ``Bot`` and ``Application`` to run against it::

    with BotAPIStandIn() as api:
        app = (
            ApplicationBuilder()
            .token(api.token)
            .base_url(api.base_url)
            .base_file_url(api.base_file_url)
            .build()
        )
        api.push_message("/start")
        ...
        msg = await api.wait_for_message(api.DEFAULT_USER_ID)

It validates like the real server where bots commonly get things wrong (HTML parse mode, message
length, ``callback_data`` size, inline query results), records every call, keeps what a user
would see per chat, queues updates for ``getUpdates`` long polling, and injects faults.

Run by hand with ``python -m tests.support.botapi --port 9000``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import copy
import dataclasses
import email.parser
import email.policy
import http.server
import itertools
import json
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "BotAPIError",
    "BotAPIStandIn",
    "Call",
    "HTMLParseError",
    "SentMessage",
    "inline_buttons",
    "parse_html",
    "utf16_len",
]

MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_RESULTS = 50
MAX_INLINE_RESULT_ID_BYTES = 64

JSONDict = dict[str, Any]
ButtonRows = list[list[tuple[str, str | None]]]


# --------------------------------------------------------------------------------------------
# Public value types
# --------------------------------------------------------------------------------------------


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


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram counts in."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


# --------------------------------------------------------------------------------------------
# Telegram's HTML parse mode
# --------------------------------------------------------------------------------------------


class HTMLParseError(ValueError):
    """Text is not valid under Telegram's HTML parse mode."""


_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9A-Fa-f]{1,8})|([A-Za-z][A-Za-z0-9]*));")
_UNQUOTED_VALUE_RE = re.compile(r"[A-Za-z0-9.\-_:/?#=%+~@!$,;]*")


@dataclass
class _OpenTag:
    tag: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the output text
    byte_offset: int
    language: str | None = None


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(text: str, index: int, strict: bool) -> tuple[str, int]:
    """Decode the character reference at ``text[index] == '&'``; return (char(s), next index)."""
    match = _ENTITY_RE.match(text, index)
    if match is None:
        if strict:
            raise HTMLParseError(
                f'Character "&" at byte offset {_byte_offset(text, index)} must be escaped '
                'as "&amp;"'
            )
        return "&", index + 1
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        if name not in _NAMED_ENTITIES:
            if strict:
                raise HTMLParseError(
                    f'Unsupported HTML entity "&{name};" at byte offset '
                    f"{_byte_offset(text, index)}; only &lt; &gt; &amp; &quot; and numeric "
                    "character references are supported"
                )
            return "&", index + 1
        return _NAMED_ENTITIES[name], match.end()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        if strict:
            raise HTMLParseError(
                f"Invalid numeric character reference at byte offset {_byte_offset(text, index)}"
            )
        return "&", index + 1
    return chr(code), match.end()


def _unescape_attribute(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            decoded, i = _decode_entity(value, i, strict=False)
            out.append(decoded)
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _parse_attributes(text: str, j: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse attributes from ``text[j:]`` up to the closing ``>``; return (attrs, index of >)."""
    n = len(text)
    attrs: dict[str, str] = {}

    def unclosed() -> HTMLParseError:
        return HTMLParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")

    while True:
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise unclosed()
        if text[j] == ">":
            return attrs, j
        k = j
        while k < n and not text[k].isspace() and text[k] not in "=>":
            k += 1
        if k >= n:
            raise unclosed()
        name = text[j:k].lower()
        if not name:
            raise HTMLParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset '
                f"{_byte_offset(text, begin)}"
            )
        while k < n and text[k].isspace():
            k += 1
        if k >= n:
            raise unclosed()
        if text[k] != "=":
            if tag == "blockquote" and name == "expandable":
                attrs[name] = ""
                j = k
                continue
            raise HTMLParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte '
                f"offset {_byte_offset(text, begin)}"
            )
        k += 1
        while k < n and text[k].isspace():
            k += 1
        if k >= n:
            raise unclosed()
        quote = text[k]
        if quote in "\"'":
            end = text.find(quote, k + 1)
            if end < 0:
                raise unclosed()
            value = _unescape_attribute(text[k + 1 : end])
            k = end + 1
        else:
            match = _UNQUOTED_VALUE_RE.match(text, k)
            assert match is not None  # the pattern matches the empty string
            if not match.group(0):
                raise HTMLParseError(
                    f'Expected quote in declaration of an attribute of the tag "{tag}" at byte '
                    f"offset {_byte_offset(text, begin)}"
                )
            value = _unescape_attribute(match.group(0))
            k = match.end()
        attrs[name] = value
        j = k


def _close_tag(top: _OpenTag, end: int, entities: list[JSONDict], stack: list[_OpenTag]) -> None:
    if top.tag == "code" and stack and stack[-1].tag == "pre":
        css = top.attrs.get("class", "")
        if css.startswith("language-") and len(css) > len("language-"):
            stack[-1].language = css[len("language-") :]
            return
    length = end - top.start
    if length <= 0:
        return
    entity: JSONDict = {"type": _HTML_TAGS[top.tag], "offset": top.start, "length": length}
    if top.tag == "a":
        entity["url"] = top.attrs["href"]
    elif top.tag == "pre" and top.language:
        entity["language"] = top.language
    elif top.tag == "blockquote" and "expandable" in top.attrs:
        entity["type"] = "expandable_blockquote"
    elif top.tag == "tg-emoji":
        entity["custom_emoji_id"] = top.attrs["emoji-id"]
    entities.append(entity)


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse ``text`` with Telegram's HTML rules; return (plain text, entities).

    Entity offsets and lengths are in UTF-16 code units. Raises :class:`HTMLParseError` with the
    reason Telegram would give after ``"Bad Request: can't parse entities: "``.
    """
    out: list[str] = []
    pos = 0  # UTF-16 length of out so far
    stack: list[_OpenTag] = []
    entities: list[JSONDict] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "&":
            decoded, i = _decode_entity(text, i, strict=True)
            out.append(decoded)
            pos += utf16_len(decoded)
            continue
        if ch != "<":
            out.append(ch)
            pos += 2 if ord(ch) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        if text.startswith("</", i):
            end = text.find(">", i)
            if end < 0:
                raise HTMLParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(text, begin)}"
                )
            name = text[i + 2 : end].strip().lower()
            if not stack:
                raise HTMLParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(text, begin)}"
                )
            top = stack.pop()
            if name and name != top.tag:
                raise HTMLParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, expected "
                    f'"</{top.tag}>", found "</{name}>"'
                )
            _close_tag(top, pos, entities, stack)
            i = end + 1
            continue
        j = i + 1
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        if j >= n:
            raise HTMLParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        tag = text[i + 1 : j].lower()
        if tag not in _HTML_TAGS:
            raise HTMLParseError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        attrs, j = _parse_attributes(text, j, tag, begin)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise HTMLParseError('Tag "span" must have class "tg-spoiler"')
        if tag == "a" and not attrs.get("href"):
            raise HTMLParseError(
                f'Tag "a" at byte offset {_byte_offset(text, begin)} must have attribute "href"'
            )
        if tag == "tg-emoji" and not attrs.get("emoji-id"):
            raise HTMLParseError('Custom emoji entity must contain a tag "emoji-id"')
        stack.append(_OpenTag(tag=tag, attrs=attrs, start=pos, byte_offset=_byte_offset(text, i)))
        i = j + 1
    if stack:
        raise HTMLParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Strip surrounding whitespace like Telegram does, moving entities with the text."""
    stripped = text.strip()
    lead = utf16_len(text) - utf16_len(text.lstrip())
    total = utf16_len(stripped)
    out: list[JSONDict] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end > start:
            out.append({**entity, "offset": start, "length": end - start})
    return stripped, out


# --------------------------------------------------------------------------------------------
# Request decoding
# --------------------------------------------------------------------------------------------

# Parameters whose values are strings even when they look like JSON numbers/literals.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "query",
        "data",
        "id",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "business_connection_id",
        "url",
        "title",
        "description",
        "short_description",
        "name",
        "parse_mode",
        "next_offset",
        "switch_pm_text",
        "switch_pm_parameter",
        "language_code",
        "emoji",
        "secret_token",
        "ip_address",
        "file_id",
        "custom_emoji_id",
        "message_effect_id",
        "action",
        "question",
        "explanation",
        "first_name",
        "last_name",
        "phone_number",
        "address",
        "payload",
        "start_parameter",
    }
)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _decode_value(key: str, value: str) -> Any:
    """PTB JSON-encodes every non-string parameter; undo that for the recorded call."""
    if key in _STRING_PARAMS or not value or value[0] not in '{["-0123456789tfn':
        return value
    try:
        return json.loads(value, parse_constant=_reject_constant)
    except ValueError:
        return value


def _parse_multipart(content_type: str, body: bytes) -> JSONDict:
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    params: JSONDict = {}
    if not message.is_multipart():
        return params
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            params[name] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "content": raw,
            }
        else:
            charset = part.get_content_charset() or "utf-8"
            params[name] = _decode_value(name, raw.decode(charset, "replace"))
    return params


def _parse_params(query: str, content_type: str, body: bytes) -> JSONDict:
    params: JSONDict = {
        key: _decode_value(key, value) for key, value in parse_qsl(query, keep_blank_values=True)
    }
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params
    if media_type == "application/json":
        decoded = json.loads(body.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise BotAPIError(400, "Bad Request: request body must be a JSON object")
        for key, value in decoded.items():
            params[key] = _decode_value(key, value) if isinstance(value, str) else value
    elif media_type == "multipart/form-data":
        params.update(_parse_multipart(content_type, body))
    else:  # application/x-www-form-urlencoded, or unlabelled
        for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
            params[key] = _decode_value(key, value)
    return params


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], standin: BotAPIStandIn) -> None:
        self.standin = standin
        self.closing = False
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if self.closing or isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def open_connections(self) -> int:
        with self._connections_lock:
            return len(self._connections)

    def interrupt_connections(self) -> None:
        """Make every handler thread see EOF so it finishes and closes its socket."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, each answer waits ~40 ms for the
    # client's delayed ACK, which the real Bot API does not do.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        body = self._read_body()
        status, payload = self.server.standin._dispatch(
            self.command, self.path, self.headers.get("Content-Type", ""), body
        )
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()


@dataclass
class _Fault:
    error_code: int
    description: str
    parameters: JSONDict | None
    remaining: int


# Canonical spelling of every method the stand-in implements.
_METHODS = (
    "getMe",
    "getUpdates",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "deleteMessage",
    "sendChatAction",
    "answerCallbackQuery",
    "answerInlineQuery",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "close",
    "logOut",
)
_CANONICAL = {name.lower(): name for name in _METHODS}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_SENDING_METHODS = frozenset(
    {"sendMessage", "sendChatAction", "editMessageText", "editMessageReplyMarkup"}
)
_USERNAME_RE = re.compile(r"(?<![\w@/])@([A-Za-z][A-Za-z0-9_]{2,31})\b")
_COMMAND_RE = re.compile(r"(?:^|(?<=\s))/[A-Za-z0-9_]{1,32}(?:@[A-Za-z][A-Za-z0-9_]{2,31})?")
_BOT_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")


# --------------------------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------------------------


class BotAPIStandIn:
    """A local Telegram Bot API server. See the module docstring."""

    DEFAULT_USER_ID = 111_111
    DEFAULT_GROUP_ID = -1_009_876_543_210

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "indopac_test_bot",
        bot_id: int = 123456,
        *,
        bot_first_name: str = "IndoPac Brief (test)",
        port: int = 0,
        max_poll_timeout: float = 10.0,
        strict_query_ids: bool = True,
    ) -> None:
        self._token = token
        self.bot_username = bot_username
        self.bot_id = bot_id
        self.bot_first_name = bot_first_name
        self.max_poll_timeout = max_poll_timeout
        self.strict_query_ids = strict_query_ids
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition(threading.Lock())
        self._closing = False
        self._seq = itertools.count()
        self._next_update_id = 1  # never reset: a running Application remembers its offset
        self._query_ids = itertools.count(1)
        self._latency = 0.0
        self._init_state()

    def _init_state(self) -> None:
        self._calls: list[tuple[int, Call]] = []
        self._updates: list[JSONDict] = []
        self._messages: dict[int, list[SentMessage]] = {}
        self._user_messages: dict[tuple[int, int], JSONDict] = {}
        self._next_message_id: dict[int, int] = {}
        self._chats: dict[int, JSONDict] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._blocked: set[int] = set()
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._webhook_url = ""
        self._allowed_updates: list[str] | None = None
        self._known_callback_ids: set[str] = set()
        self._known_inline_ids: set[str] = set()
        self.errors: list[BaseException] = []  # unexpected exceptions inside the server

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Bind 127.0.0.1 (ephemeral port unless ``port`` was given) and serve in a thread."""
        if self._server is not None:
            return self
        self._closing = False
        server = _Server(("127.0.0.1", self._requested_port), self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"BotAPIStandIn:{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: unblocks long polls, closes every connection and the listening socket."""
        server, thread = self._server, self._thread
        if server is None:
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        server.shutdown()
        server.closing = True
        server.interrupt_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        deadline = time.monotonic() + 2.0
        while server.open_connections() and time.monotonic() < deadline:
            time.sleep(0.005)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget calls, messages, queued updates, faults, blocks, commands and latency.

        ``update_id`` keeps counting up so a running Application's offset stays valid.
        """
        with self._cond:
            self._init_state()
            self._latency = 0.0
            self._cond.notify_all()

    @property
    def token(self) -> str:
        return self._token

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("BotAPIStandIn is not started; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot`` — PTB appends ``<token>/<method>``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """``http://127.0.0.1:PORT/file/bot`` (file downloads are not served)."""
        return f"{self.url}/file/bot"

    # ---------------------------------------------------------------- inspection

    @property
    def calls(self) -> list[Call]:
        """Every call received so far, in arrival order."""
        with self._cond:
            return [call for _, call in self._calls]

    def calls_to(self, method: str) -> list[Call]:
        """Calls of one method (case-insensitive), in arrival order."""
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def chat_messages(self, chat_id: int) -> list[SentMessage]:
        """Snapshot of the bot's messages in a chat (deleted ones are gone, edits applied)."""
        with self._cond:
            return [copy.deepcopy(m) for m in self._messages.get(chat_id, [])]

    def last_message(self, chat_id: int) -> SentMessage | None:
        messages = self.chat_messages(chat_id)
        return messages[-1] if messages else None

    def buttons(self, chat_id: int, message_id: int | None = None) -> ButtonRows:
        """Inline keyboard of a bot message (the last one if no id) as rows of (text, data)."""
        messages = self.chat_messages(chat_id)
        for message in reversed(messages):
            if message_id is None or message.message_id == message_id:
                return message.buttons
        raise LookupError(f"no bot message {message_id} in chat {chat_id}")

    def my_commands(
        self, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """Commands last set with setMyCommands for that scope and language."""
        with self._cond:
            return copy.deepcopy(self._commands.get(_commands_key(scope, language_code), []))

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates queued and not yet confirmed by an offset."""
        with self._cond:
            return copy.deepcopy(self._updates)

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        parameters: JSONDict | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error (queued FIFO)."""
        with self._cond:
            self._faults.setdefault(method.lower(), deque()).append(
                _Fault(error_code, description, parameters, times)
            )

    def block_chat(self, chat_id: int) -> None:
        """Every later send/edit to ``chat_id`` fails with 403 (blocked / kicked)."""
        with self._cond:
            self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        with self._cond:
            self._blocked.discard(chat_id)

    def latency(self, seconds: float) -> None:
        """Delay every later response by ``seconds`` (0 to turn off)."""
        with self._cond:
            self._latency = max(0.0, float(seconds))

    # ---------------------------------------------------------------- pushing updates

    def _user(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str = "en",
    ) -> JSONDict:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or f"Tester{user_id}",
            "username": username or f"user{user_id}",
            "language_code": language_code,
        }

    def _remember_chat(
        self, chat_id: int, chat_type: str, user: JSONDict | None, title: str | None
    ) -> JSONDict:
        chat: JSONDict = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = (user or {}).get("first_name", f"Tester{chat_id}")
            if user and user.get("username"):
                chat["username"] = user["username"]
        else:
            chat["title"] = title or self._chats.get(chat_id, {}).get("title") or f"Chat {chat_id}"
        self._chats[chat_id] = chat
        return dict(chat)

    def _chat(self, chat_id: int) -> JSONDict:
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"Tester{chat_id}"}
        chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": chat_type, "title": f"Chat {chat_id}"}

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _enqueue(self, payload: JSONDict) -> JSONDict:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._cond.notify_all()
        return copy.deepcopy(update)

    def push_message(
        self,
        text: str,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        chat_type: str = "private",
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str = "en",
        chat_title: str | None = None,
        entities: list[JSONDict] | None = None,
        reply_to_message: JSONDict | None = None,
        reply_to_message_id: int | None = None,
        extra: JSONDict | None = None,
    ) -> JSONDict:
        """Queue a ``message`` update from a user; returns the update.

        ``chat_id`` defaults to ``user_id`` in private chats and to ``DEFAULT_GROUP_ID``
        otherwise. ``bot_command`` (incl. an ``@botname`` suffix) and ``mention`` entities are
        computed unless ``entities`` is given. ``reply_to_message_id`` looks the message up
        among stored bot/user messages; ``reply_to_message`` gives the dict directly.
        """
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else self.DEFAULT_GROUP_ID
        with self._cond:
            user = self._user(user_id, first_name, username, language_code)
            chat = self._remember_chat(chat_id, chat_type, user, chat_title)
            message: JSONDict = {
                "message_id": self._new_message_id(chat_id),
                "date": int(time.time()),
                "chat": chat,
                "from": user,
                "text": text,
            }
            found = entities if entities is not None else _auto_entities(text)
            if found:
                message["entities"] = found
            if reply_to_message is None and reply_to_message_id is not None:
                reply_to_message = self._message_dict_by_id(chat_id, reply_to_message_id)
            if reply_to_message is not None:
                message["reply_to_message"] = reply_to_message
            if extra:
                message.update(extra)
            self._user_messages[(chat_id, message["message_id"])] = copy.deepcopy(message)
            return self._enqueue({"message": message})

    def push_callback_query(
        self,
        data: str,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        message_id: int | None = None,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str = "en",
    ) -> JSONDict:
        """Queue a ``callback_query`` pressed on a bot message; returns the update.

        ``chat_id`` defaults to ``user_id``; ``message_id`` to the bot's last message in the
        chat. The attached ``message`` is the stored bot message (text, entities, keyboard).
        """
        if chat_id is None:
            chat_id = user_id
        with self._cond:
            if message_id is None:
                stored = self._messages.get(chat_id, [])
                if not stored:
                    raise LookupError(f"the bot has no message in chat {chat_id} to press")
                message_id = stored[-1].message_id
            message = self._message_dict_by_id(chat_id, message_id)
            if message is None:
                message = {"message_id": message_id, "date": 0, "chat": self._chat(chat_id)}
            query_id = str(next(self._query_ids) + 4_000_000_000_000_000_000)
            self._known_callback_ids.add(query_id)
            return self._enqueue(
                {
                    "callback_query": {
                        "id": query_id,
                        "from": self._user(user_id, first_name, username, language_code),
                        "message": message,
                        "chat_instance": str(abs(hash((chat_id, self.bot_id)))),
                        "data": data,
                    }
                }
            )

    def push_inline_query(
        self,
        query: str,
        user_id: int = DEFAULT_USER_ID,
        offset: str = "",
        *,
        chat_type: str | None = "sender",
        first_name: str | None = None,
        username: str | None = None,
        language_code: str = "en",
    ) -> JSONDict:
        """Queue an ``inline_query``; its id is accepted by answerInlineQuery."""
        with self._cond:
            query_id = str(next(self._query_ids) + 5_000_000_000_000_000_000)
            self._known_inline_ids.add(query_id)
            inline: JSONDict = {
                "id": query_id,
                "from": self._user(user_id, first_name, username, language_code),
                "query": query,
                "offset": offset,
            }
            if chat_type:
                inline["chat_type"] = chat_type
            return self._enqueue({"inline_query": inline})

    def push_my_chat_member(
        self,
        chat_id: int,
        user_id: int = DEFAULT_USER_ID,
        old_status: str = "member",
        new_status: str = "kicked",
        chat_type: str = "private",
        *,
        auto_block: bool = True,
    ) -> JSONDict:
        """Queue a ``my_chat_member`` update (the bot's status changed in a chat).

        With ``auto_block`` a new status of ``kicked``/``left`` also blocks the chat (later sends
        get 403) and ``member``/``administrator`` unblocks it, as on Telegram.
        """
        with self._cond:
            user = self._user(user_id)
            chat = self._remember_chat(chat_id, chat_type, user, None)
            if auto_block:
                if new_status in ("kicked", "left"):
                    self._blocked.add(chat_id)
                elif new_status in ("member", "administrator", "creator"):
                    self._blocked.discard(chat_id)
            return self._enqueue(
                {
                    "my_chat_member": {
                        "chat": chat,
                        "from": user,
                        "date": int(time.time()),
                        "old_chat_member": self._chat_member(old_status),
                        "new_chat_member": self._chat_member(new_status),
                    }
                }
            )

    def push_raw(self, update: JSONDict) -> JSONDict:
        """Queue an update dict as-is (``update_id`` is assigned unless present)."""
        with self._cond:
            payload = {k: v for k, v in update.items() if k != "update_id"}
            if "update_id" in update:
                self._next_update_id = max(self._next_update_id, int(update["update_id"]))
            return self._enqueue(payload)

    def _chat_member(self, status: str) -> JSONDict:
        member: JSONDict = {"status": status, "user": self._bot_user()}
        if status == "kicked":
            member["until_date"] = 0
        elif status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": False,
                    "can_manage_video_chats": False,
                    "can_restrict_members": False,
                    "can_promote_members": False,
                    "can_change_info": False,
                    "can_invite_users": False,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
            )
        elif status == "restricted":
            member.update(
                {
                    "is_member": True,
                    "until_date": 0,
                    **{
                        f"can_{perm}": False
                        for perm in (
                            "change_info",
                            "invite_users",
                            "pin_messages",
                            "send_messages",
                            "send_polls",
                            "send_other_messages",
                            "add_web_page_previews",
                            "manage_topics",
                            "send_audios",
                            "send_documents",
                            "send_photos",
                            "send_videos",
                            "send_video_notes",
                            "send_voice_notes",
                            "edit_tag",
                            "react_to_messages",
                        )
                    },
                }
            )
        return member

    # ---------------------------------------------------------------- waiting (async)

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 (a plain deadline is the point)
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` (matching ``predicate``) have been received.

        Returns every matching call so far (successful or failed), at least ``count``. Raises
        ``TimeoutError`` listing the calls seen. Polls without blocking the event loop.
        """
        deadline = time.monotonic() + timeout
        while True:
            matched = [c for c in self.calls_to(method) if predicate is None or predicate(c)]
            if len(matched) >= count:
                return matched
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"waited {timeout}s for {count} {method} call(s)"
                    f"{' matching the predicate' if predicate else ''}, got {len(matched)}. "
                    f"Calls seen:\n{self.describe_calls()}"
                )
            await asyncio.sleep(0.01)

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> SentMessage:
        """Wait until the chat holds a bot message matching ``predicate``; return the first.

        Messages already in the chat count; use ``reset()`` or a predicate to skip older ones.
        """
        deadline = time.monotonic() + timeout
        while True:
            for message in self.chat_messages(chat_id):
                if predicate is None or predicate(message):
                    return message
            if time.monotonic() >= deadline:
                texts = [m.text for m in self.chat_messages(chat_id)]
                raise TimeoutError(
                    f"waited {timeout}s for a bot message in chat {chat_id}"
                    f"{' matching the predicate' if predicate else ''}; messages there: "
                    f"{texts!r}. Calls seen:\n{self.describe_calls()}"
                )
            await asyncio.sleep(0.01)

    def describe_calls(self, limit: int = 50) -> str:
        """One line per recent call, for failure messages."""
        lines = []
        for call in self.calls[-limit:]:
            params = {k: v for k, v in call.params.items() if not isinstance(v, dict | bytes)}
            status = "ok" if call.ok else f"{call.error_code} {call.description}"
            lines.append(f"  {call.method} {json.dumps(params, default=str)[:200]} -> {status}")
        return "\n".join(lines) if lines else "  (none)"

    # ---------------------------------------------------------------- dispatch

    def _dispatch(
        self, http_method: str, raw_path: str, content_type: str, body: bytes
    ) -> tuple[int, JSONDict]:
        split = urlsplit(raw_path)
        if split.path.startswith("/_standin/"):
            return self._control(split.path[len("/_standin/") :], body)
        match = re.fullmatch(r"/bot([^/]*)/([^/]+)/?", split.path)
        if match is None or match.group(1) != self._token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        arrived = time.monotonic()
        with self._cond:
            seq = next(self._seq)
            latency = self._latency
        method = _CANONICAL.get(match.group(2).lower(), match.group(2))
        params: JSONDict = {}
        try:
            params = _parse_params(split.query, content_type, body)
            response = self._answer(method, params)
        except BotAPIError as err:
            response = err.to_response()
        except Exception as exc:  # a bug in the stand-in: answer 500 and keep it for tests
            self.errors.append(exc)
            response = BotAPIError(500, f"Internal Server Error: {exc!r}").to_response()
        if latency:
            time.sleep(latency)
        call = Call(method=method, params=params, at=arrived, response=response)
        with self._cond:
            bisect.insort(self._calls, (seq, call), key=lambda item: item[0])
            self._cond.notify_all()
        status = 200 if response.get("ok") else int(response.get("error_code") or 500)
        return status, response

    def _answer(self, method: str, params: JSONDict) -> JSONDict:
        with self._cond:
            faults = self._faults.get(method.lower())
            if faults:
                fault = faults[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    faults.popleft()
                raise BotAPIError(fault.error_code, fault.description, fault.parameters)
            handler = getattr(self, f"_m_{method.lower()}", None) if method in _METHODS else None
            if handler is None:
                raise BotAPIError(404, "Not Found: method not found")
            if method in _SENDING_METHODS and params.get("chat_id") is not None:
                self._check_blocked(_chat_id(params))
            return {"ok": True, "result": handler(params)}

    def _control(self, action: str, body: bytes) -> tuple[int, JSONDict]:
        """Tiny control API for manual runs: POST JSON kwargs to /_standin/push_message etc."""
        kwargs = json.loads(body.decode("utf-8")) if body else {}
        actions: dict[str, Callable[..., Any]] = {
            "push_message": self.push_message,
            "push_callback_query": self.push_callback_query,
            "push_inline_query": self.push_inline_query,
            "push_my_chat_member": self.push_my_chat_member,
            "push_raw": self.push_raw,
            "reset": self.reset,
            "calls": lambda: [dataclasses.asdict(c) for c in self.calls],
            "messages": lambda chat_id: [
                dataclasses.asdict(m) for m in self.chat_messages(chat_id)
            ],
        }
        if action not in actions:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        try:
            result = actions[action](**kwargs)
        except (TypeError, LookupError, ValueError) as exc:
            return 400, {"ok": False, "error_code": 400, "description": str(exc)}
        return 200, json.loads(json.dumps({"ok": True, "result": result}, default=repr))

    # ---------------------------------------------------------------- helpers (lock held)

    def _bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _check_blocked(self, chat_id: int) -> None:
        if chat_id in self._blocked:
            if chat_id > 0:
                raise BotAPIError(403, "Forbidden: bot was blocked by the user")
            raise BotAPIError(403, "Forbidden: bot was kicked from the group chat")

    def _message_dict(self, sent: SentMessage) -> JSONDict:
        message: JSONDict = {
            "message_id": sent.message_id,
            "date": sent.date,
            "chat": self._chat(sent.chat_id),
            "from": self._bot_user(),
            "text": sent.plain_text,
        }
        if sent.entities:
            message["entities"] = copy.deepcopy(sent.entities)
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:
            message["reply_markup"] = {
                "inline_keyboard": copy.deepcopy(sent.reply_markup["inline_keyboard"])
            }
        if sent.edit_date is not None:
            message["edit_date"] = sent.edit_date
        if sent.link_preview_options:
            message["link_preview_options"] = copy.deepcopy(sent.link_preview_options)
        return message

    def _find_sent(self, chat_id: int, message_id: int) -> SentMessage | None:
        for sent in self._messages.get(chat_id, []):
            if sent.message_id == message_id:
                return sent
        return None

    def _message_dict_by_id(self, chat_id: int, message_id: int) -> JSONDict | None:
        sent = self._find_sent(chat_id, message_id)
        if sent is not None:
            return self._message_dict(sent)
        user_message = self._user_messages.get((chat_id, message_id))
        return copy.deepcopy(user_message) if user_message is not None else None

    def _render_text(
        self, text: Any, parse_mode: Any, entities: Any
    ) -> tuple[str, list[JSONDict]]:
        if not isinstance(text, str) or not text.strip():
            raise BotAPIError(400, "Bad Request: message text is empty")
        if parse_mode in (None, ""):
            plain = text
            found = entities if isinstance(entities, list) else []
        elif str(parse_mode).lower() == "html":
            try:
                plain, found = parse_html(text)
            except HTMLParseError as err:
                raise BotAPIError(400, f"Bad Request: can't parse entities: {err}") from None
        elif str(parse_mode).lower() in ("markdown", "markdownv2"):
            plain, found = text, []  # Markdown is not parsed by the stand-in
        else:
            raise BotAPIError(400, "Bad Request: unsupported parse_mode")
        plain, found = _strip_text(plain, found)
        if not plain:
            raise BotAPIError(400, "Bad Request: message text is empty")
        if utf16_len(plain) > MAX_MESSAGE_LENGTH:
            raise BotAPIError(400, "Bad Request: message is too long")
        return plain, found

    # ---------------------------------------------------------------- methods (lock held)

    def _m_getme(self, params: JSONDict) -> JSONDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_getupdates(self, params: JSONDict) -> list[JSONDict]:
        if self._webhook_url:
            raise BotAPIError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), self.max_poll_timeout)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed] or None
        deadline = time.monotonic() + timeout
        while True:
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            if self._allowed_updates is not None:
                allowed_set = set(self._allowed_updates)
                self._updates = [
                    u for u in self._updates if (set(u) - {"update_id"}) & allowed_set
                ]
            if self._updates or self._closing:
                return copy.deepcopy(self._updates[:limit])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._cond.wait(remaining)

    def _m_sendmessage(self, params: JSONDict) -> JSONDict:
        chat_id = _chat_id(params)
        text = params.get("text")
        parse_mode = params.get("parse_mode")
        plain, entities = self._render_text(text, parse_mode, params.get("entities"))
        markup = params.get("reply_markup")
        _validate_markup(markup)
        preview = params.get("link_preview_options")
        disable_preview = params.get("disable_web_page_preview")
        if disable_preview is None and isinstance(preview, dict) and "is_disabled" in preview:
            disable_preview = bool(preview["is_disabled"])
        reply_to = params.get("reply_to_message_id")
        reply_parameters = params.get("reply_parameters")
        if reply_to is None and isinstance(reply_parameters, dict):
            reply_to = reply_parameters.get("message_id")
        sent = SentMessage(
            chat_id=chat_id,
            message_id=self._new_message_id(chat_id),
            text=str(text),
            parse_mode=parse_mode,
            reply_markup=markup if isinstance(markup, dict) else None,
            disable_web_page_preview=disable_preview,
            link_preview_options=preview if isinstance(preview, dict) else None,
            plain_text=plain,
            entities=entities,
            date=int(time.time()),
            reply_to_message_id=int(reply_to) if reply_to is not None else None,
        )
        self._messages.setdefault(chat_id, []).append(sent)
        message = self._message_dict(sent)
        if sent.reply_to_message_id is not None:
            replied = self._message_dict_by_id(chat_id, sent.reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = replied
        return message

    def _editable(self, params: JSONDict) -> SentMessage | None:
        """The stored message an edit targets, or None for inline messages."""
        if params.get("inline_message_id"):
            return None
        chat_id = _chat_id(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise BotAPIError(400, "Bad Request: message identifier is not specified")
        sent = self._find_sent(chat_id, int(message_id))
        if sent is None:
            if (chat_id, int(message_id)) in self._user_messages:
                raise BotAPIError(400, "Bad Request: message can't be edited")
            raise BotAPIError(400, "Bad Request: message to edit not found")
        return sent

    def _m_editmessagetext(self, params: JSONDict) -> JSONDict | bool:
        text = params.get("text")
        parse_mode = params.get("parse_mode")
        plain, entities = self._render_text(text, parse_mode, params.get("entities"))
        markup = params.get("reply_markup")
        _validate_markup(markup)
        sent = self._editable(params)
        if sent is None:
            return True
        new_markup = markup if isinstance(markup, dict) else None
        if (
            plain == sent.plain_text
            and entities == sent.entities
            and _inline_part(new_markup) == _inline_part(sent.reply_markup)
        ):
            raise BotAPIError(400, _NOT_MODIFIED)
        preview = params.get("link_preview_options")
        sent.text = str(text)
        sent.parse_mode = parse_mode
        sent.plain_text = plain
        sent.entities = entities
        sent.reply_markup = new_markup
        if isinstance(preview, dict):
            sent.link_preview_options = preview
            if "is_disabled" in preview:
                sent.disable_web_page_preview = bool(preview["is_disabled"])
        if params.get("disable_web_page_preview") is not None:
            sent.disable_web_page_preview = bool(params["disable_web_page_preview"])
        sent.edited = True
        sent.edit_date = int(time.time())
        return self._message_dict(sent)

    def _m_editmessagereplymarkup(self, params: JSONDict) -> JSONDict | bool:
        markup = params.get("reply_markup")
        _validate_markup(markup)
        sent = self._editable(params)
        if sent is None:
            return True
        new_markup = markup if isinstance(markup, dict) else None
        if _inline_part(new_markup) == _inline_part(sent.reply_markup):
            raise BotAPIError(400, _NOT_MODIFIED)
        sent.reply_markup = new_markup
        sent.edited = True
        sent.edit_date = int(time.time())
        return self._message_dict(sent)

    def _m_deletemessage(self, params: JSONDict) -> bool:
        chat_id = _chat_id(params)
        message_id = int(params.get("message_id") or 0)
        messages = self._messages.get(chat_id, [])
        for index, sent in enumerate(messages):
            if sent.message_id == message_id:
                del messages[index]
                return True
        if self._user_messages.pop((chat_id, message_id), None) is not None:
            return True
        raise BotAPIError(400, "Bad Request: message to delete not found")

    def _m_sendchataction(self, params: JSONDict) -> bool:
        _chat_id(params)
        if not params.get("action"):
            raise BotAPIError(400, "Bad Request: action is empty")
        return True

    def _m_answercallbackquery(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if self.strict_query_ids and query_id not in self._known_callback_ids:
            raise BotAPIError(400, _QUERY_INVALID)
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise BotAPIError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _m_answerinlinequery(self, params: JSONDict) -> bool:
        query_id = str(params.get("inline_query_id") or "")
        if self.strict_query_ids and query_id not in self._known_inline_ids:
            raise BotAPIError(400, _QUERY_INVALID)
        results = params.get("results")
        if not isinstance(results, list):
            raise BotAPIError(400, "Bad Request: can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise BotAPIError(400, "Bad Request: RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            if not isinstance(result, dict) or not result.get("type"):
                raise BotAPIError(400, "Bad Request: RESULT_TYPE_INVALID")
            result_id = result.get("id")
            if (
                not isinstance(result_id, str)
                or not result_id
                or len(result_id.encode("utf-8")) > MAX_INLINE_RESULT_ID_BYTES
            ):
                raise BotAPIError(400, "Bad Request: RESULT_ID_INVALID")
            if result_id in seen:
                raise BotAPIError(400, "Bad Request: RESULT_ID_DUPLICATE")
            seen.add(result_id)
            _validate_markup(result.get("reply_markup"))
            content = result.get("input_message_content")
            if isinstance(content, dict) and "message_text" in content:
                self._render_text(
                    content["message_text"], content.get("parse_mode"), content.get("entities")
                )
        next_offset = params.get("next_offset")
        if isinstance(next_offset, str) and len(next_offset.encode("utf-8")) > 64:
            raise BotAPIError(400, "Bad Request: NEXT_OFFSET_INVALID")
        return True

    def _m_setmycommands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise BotAPIError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise BotAPIError(400, "Bad Request: too many commands")
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND_NAME_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise BotAPIError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise BotAPIError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = _commands_key(params.get("scope"), params.get("language_code") or "")
        self._commands[key] = copy.deepcopy(commands)
        return True

    def _m_getmycommands(self, params: JSONDict) -> list[JSONDict]:
        key = _commands_key(params.get("scope"), params.get("language_code") or "")
        return copy.deepcopy(self._commands.get(key, []))

    def _m_deletemycommands(self, params: JSONDict) -> bool:
        key = _commands_key(params.get("scope"), params.get("language_code") or "")
        self._commands.pop(key, None)
        return True

    def _m_setwebhook(self, params: JSONDict) -> bool:
        url = params.get("url")
        self._webhook_url = url if isinstance(url, str) else ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_deletewebhook(self, params: JSONDict) -> bool:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_getwebhookinfo(self, params: JSONDict) -> JSONDict:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _m_close(self, params: JSONDict) -> bool:
        return True

    def _m_logout(self, params: JSONDict) -> bool:
        return True


def _chat_id(params: JSONDict) -> int:
    chat_id = params.get("chat_id")
    if chat_id is None or chat_id == "":
        raise BotAPIError(400, "Bad Request: chat_id is empty")
    if isinstance(chat_id, bool) or not isinstance(chat_id, int):
        raise BotAPIError(400, "Bad Request: chat not found")
    return chat_id


def _commands_key(scope: Any, language_code: str) -> tuple[str, str]:
    scope = scope if isinstance(scope, dict) and scope else {"type": "default"}
    return json.dumps(scope, sort_keys=True), language_code


def _inline_part(markup: JSONDict | None) -> Any:
    return markup.get("inline_keyboard") if isinstance(markup, dict) else None


_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _validate_markup(markup: Any) -> None:
    """Validate an inline keyboard like Telegram does (other markups pass unchecked)."""
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise BotAPIError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise BotAPIError(
            400, "Bad Request: can't parse inline keyboard button: field must be an array"
        )
    if sum(len(row) for row in rows) > 100:
        raise BotAPIError(400, "Bad Request: reply markup is too long")
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise BotAPIError(400, "Bad Request: can't parse inline keyboard button")
            if not isinstance(button.get("text"), str) or not button["text"]:
                raise BotAPIError(400, "Bad Request: inline keyboard button text is empty")
            if not any(action in button for action in _BUTTON_ACTIONS):
                raise BotAPIError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                size = len(data.encode("utf-8")) if isinstance(data, str) else 0
                if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                    raise BotAPIError(400, "Bad Request: BUTTON_DATA_INVALID")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not re.match(r"(?i)(https?|tg)://\S+$", url):
                    raise BotAPIError(400, "Bad Request: BUTTON_URL_INVALID")


def _auto_entities(text: str) -> list[JSONDict]:
    """``bot_command`` and ``mention`` entities, as Telegram computes them for users' text."""
    entities: list[JSONDict] = []
    command_spans: list[tuple[int, int]] = []
    for match in _COMMAND_RE.finditer(text):
        command_spans.append(match.span())
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    for match in _USERNAME_RE.finditer(text):
        if any(start <= match.start() < end for start, end in command_spans):
            continue
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    entities.sort(key=lambda e: e["offset"])
    return entities


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.botapi",
        description="Serve a local Telegram Bot API stand-in on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument("--bot-username", default="indopac_test_bot")
    parser.add_argument("--bot-id", type=int, default=123456)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per response")
    args = parser.parse_args(argv)
    standin = BotAPIStandIn(
        token=args.token, bot_username=args.bot_username, bot_id=args.bot_id, port=args.port
    ).start()
    standin.latency(args.latency)
    print(f"Bot API stand-in serving; base URL: {standin.base_url}", flush=True)
    print(f"  token:          {standin.token}")
    print(f"  export BRIEF_TELEGRAM_API_URL={standin.base_url}")
    print(
        f'  act as a user:  curl -d \'{{"text": "/start"}}\' {standin.url}/_standin/push_message'
    )
    print(f"  see calls:      curl {standin.url}/_standin/calls", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
