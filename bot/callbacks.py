"""Callback data: short prefixed strings (Telegram allows 64 bytes), encoded and parsed here.

more:<token>:<offset>   the next page of a brief (offset ≥ 1); the query is kept server-side by
                        token, bound to the chat (and message) that received the button
latest:<offset>         the next page of /latest (offset ≥ 1)
topic:<index>           a brief on settings topic number <index>
dq:<topic>              under a digest: a brief on a followed topic (its text, when it fits)
dg:<index>:<offset>     under a digest: that section's topic (settings topic <index>) from
                        <offset>; everything it needs is in the data, so it works after a restart
mu:<token>              /mutes: remove the mute whose key hashes to <token> (mute_token)
mk:<index>:<1|0>        /mutes and /hide: hide (1) or show (0) kind number <index> of
                        knowledge.provenance.KINDS
set:<key>:<value>       /settings buttons: at (HHMM), tz (index in REGION_TIMEZONES), tp (topic
                        index, toggled), si/ne (1/0: silent, "nothing new" notices), menu (main/
                        tz/tp/at), off (unsubscribe)
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from dataclasses import dataclass, replace

from knowledge.mutes import mute_key

MAX_BYTES = 64
MAX_OFFSET = 10_000


@dataclass(frozen=True, slots=True)
class MorePage:
    """Show the brief for the query stored under `token`, from `offset`."""

    token: str
    offset: int


@dataclass(frozen=True, slots=True)
class LatestPage:
    """Show the newest stories from `offset`."""

    offset: int


@dataclass(frozen=True, slots=True)
class TopicPick:
    """Brief on topic number `index` of the settings' topics."""

    index: int


@dataclass(frozen=True, slots=True)
class DigestSection:
    """A button under a digest: the stories of settings topic `index`, from `offset`."""

    index: int
    offset: int


@dataclass(frozen=True, slots=True)
class TopicQuery:
    """A button under a digest: a brief on the followed topic `text`."""

    text: str


SETTING_KEYS = ("at", "tz", "tp", "si", "ne", "menu", "off")
MENUS = ("main", "at", "tz", "tp")


@dataclass(frozen=True, slots=True)
class SettingChange:
    """A /settings button: `key` (one of SETTING_KEYS) set to `value`."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Unmute:
    """A /mutes button: remove the chat's mute whose mute_token is `token`."""

    token: str


@dataclass(frozen=True, slots=True)
class KindToggle:
    """A /mutes or /hide button: hide (or show) kind number `index` of KINDS."""

    index: int
    hide: bool


Callback = (
    MorePage
    | LatestPage
    | TopicPick
    | DigestSection
    | TopicQuery
    | SettingChange
    | Unmute
    | KindToggle
)


def mute_token(mute: str) -> str:
    """A short stable token for a mute (its key hashed), so any mute fits in 64 bytes."""
    return hashlib.sha256(mute_key(mute).encode()).hexdigest()[:16]


def encode(callback: Callback) -> str:
    """The callback data string for `callback`; never longer than 64 bytes."""
    match callback:
        case MorePage(token, offset):
            data = f"more:{token}:{offset}"
        case LatestPage(offset):
            data = f"latest:{offset}"
        case TopicPick(index):
            data = f"topic:{index}"
        case DigestSection(index, offset):
            data = f"dg:{index}:{offset}"
        case TopicQuery(text):
            data = f"dq:{text}"
        case SettingChange(key, value):
            data = f"set:{key}:{value}"
        case Unmute(token):
            data = f"mu:{token}"
        case KindToggle(index, hide):
            data = f"mk:{index}:{int(hide)}"
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data longer than {MAX_BYTES} bytes: {data!r}")
    return data


def _number(text: str) -> int | None:
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        return None
    value = int(text)
    return value if value <= MAX_OFFSET else None


def _next_page(text: str) -> int | None:
    """A More button's offset: the bot only issues ones past the first page."""
    value = _number(text)
    return value if value is not None and value >= 1 else None


def parse(data: object) -> Callback | None:
    """The callback that `data` encodes, or None for anything we did not send."""
    if not isinstance(data, str):
        return None
    kind, _, rest = data.partition(":")
    if kind == "more":
        token, _, offset_text = rest.partition(":")
        offset = _next_page(offset_text)
        if token and token.isascii() and len(token) <= 16 and offset is not None:
            return MorePage(token, offset)
    elif kind == "latest":
        offset = _next_page(rest)
        return LatestPage(offset) if offset is not None else None
    elif kind == "topic":
        index = _number(rest)
        return TopicPick(index) if index is not None else None
    elif kind == "dg":
        index_text, _, offset_text = rest.partition(":")
        index, offset = _number(index_text), _number(offset_text)
        if index is not None and offset is not None:
            return DigestSection(index, offset)
    elif kind == "dq":
        return TopicQuery(rest) if rest.strip() else None
    elif kind == "set":
        return _setting(rest)
    elif kind == "mu":
        if len(rest) == 16 and all(c in "0123456789abcdef" for c in rest):
            return Unmute(rest)
    elif kind == "mk":
        index_text, _, hide = rest.partition(":")
        index = _number(index_text)
        if index is not None and hide in ("0", "1"):
            return KindToggle(index, hide == "1")
    return None


def _setting(rest: str) -> SettingChange | None:
    key, _, value = rest.partition(":")
    if key not in SETTING_KEYS:
        return None
    valid = {
        "at": len(value) == 4 and _number(value) is not None,
        "tz": _number(value) is not None,
        "tp": _number(value) is not None,
        "si": value in ("0", "1"),
        "ne": value in ("0", "1"),
        "menu": value in MENUS,
        "off": value == "",
    }[key]
    return SettingChange(key, value) if valid else None


def is_more(data: object) -> bool:
    """Pattern for the More button of a brief."""
    return isinstance(parse(data), MorePage)


def is_latest(data: object) -> bool:
    """Pattern for the More button of /latest."""
    return isinstance(parse(data), LatestPage)


def is_topic(data: object) -> bool:
    """Pattern for a topic button."""
    return isinstance(parse(data), TopicPick)


def is_digest_section(data: object) -> bool:
    """Pattern for a section button under a digest."""
    return isinstance(parse(data), DigestSection)


def is_topic_query(data: object) -> bool:
    """Pattern for a followed topic's button under a digest."""
    return isinstance(parse(data), TopicQuery)


def fits(callback: Callback) -> bool:
    """True when `callback` encodes within 64 bytes."""
    try:
        encode(callback)
    except ValueError:
        return False
    return True


def is_filter(data: object) -> bool:
    """Pattern for a /mutes or /hide button."""
    return isinstance(parse(data), Unmute | KindToggle)


def is_setting(data: object) -> bool:
    """Pattern for a /settings button."""
    return isinstance(parse(data), SettingChange)


@dataclass(frozen=True, slots=True)
class StoredQuery:
    """A query behind a More button, the heading its brief was shown under, and where the
    button was sent: its chat, and its message once known."""

    query: str
    title: str
    chat_id: int = 0
    message_id: int | None = None


class QueryStore:
    """Queries by short token, for More buttons: bounded, least recently used dropped first.
    A token answers only in the chat it was issued to (and, once bound, only for the message
    that carries it): another chat's token is as good as an expired one."""

    def __init__(self, capacity: int = 2048) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, StoredQuery] = OrderedDict()

    def put(self, query: str, title: str = "", chat_id: int = 0) -> str:
        """Store `query` for a button in `chat_id`; its new token."""
        token = secrets.token_urlsafe(6)
        while token in self._items:
            token = secrets.token_urlsafe(6)
        self._items[token] = StoredQuery(query, title or query, chat_id)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return token

    def bind(self, token: str, chat_id: int, message_id: int) -> None:
        """The button with `token` went out on `message_id` in `chat_id` (a group that just
        migrated has a new id): only that message's press counts."""
        entry = self._items.get(token)
        if entry is not None:
            self._items[token] = replace(entry, chat_id=chat_id, message_id=message_id)

    def get(
        self, token: str, chat_id: int = 0, message_id: int | None = None
    ) -> StoredQuery | None:
        """What was stored under `token` for this chat (and message), or None: expired, or
        issued to another chat or message."""
        entry = self._items.get(token)
        if entry is None or entry.chat_id != chat_id:
            return None
        if entry.message_id is not None and entry.message_id != message_id:
            return None
        self._items.move_to_end(token)
        return entry

    def __len__(self) -> int:
        return len(self._items)


# The /settings timezone buttons (the index goes in the callback data: append, never reorder).
REGION_TIMEZONES = (
    "UTC",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Singapore",
    "Asia/Manila",
    "Asia/Shanghai",
    "Asia/Taipei",
    "Asia/Hong_Kong",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Perth",
    "Australia/Sydney",
    "Pacific/Guam",
    "Pacific/Auckland",
    "Pacific/Fiji",
    "Europe/London",
    "America/New_York",
)
