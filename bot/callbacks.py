"""Callback data: short prefixed strings (Telegram allows 64 bytes), encoded and parsed here.

more:<token>:<offset>   the next page of a brief; the query is kept server-side by token
latest:<offset>         the next page of /latest
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
from dataclasses import dataclass

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


def parse(data: object) -> Callback | None:
    """The callback that `data` encodes, or None for anything we did not send."""
    if not isinstance(data, str):
        return None
    kind, _, rest = data.partition(":")
    if kind == "more":
        token, _, offset_text = rest.partition(":")
        offset = _number(offset_text)
        if token and token.isascii() and len(token) <= 16 and offset is not None:
            return MorePage(token, offset)
    elif kind == "latest":
        offset = _number(rest)
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
    """A query behind a More button, and the heading its brief was shown under."""

    query: str
    title: str


class QueryStore:
    """Queries by short token, for More buttons: bounded, least recently used dropped first."""

    def __init__(self, capacity: int = 2048) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, StoredQuery] = OrderedDict()
        self._tokens: dict[StoredQuery, str] = {}

    def put(self, query: str, title: str = "") -> str:
        """Store `query` and return its token (the same token for the same query and title)."""
        entry = StoredQuery(query, title or query)
        token = self._tokens.get(entry)
        if token is not None:
            self._items.move_to_end(token)
            return token
        token = secrets.token_urlsafe(6)
        while token in self._items:
            token = secrets.token_urlsafe(6)
        self._items[token] = entry
        self._tokens[entry] = token
        while len(self._items) > self._capacity:
            _, dropped = self._items.popitem(last=False)
            del self._tokens[dropped]
        return token

    def get(self, token: str) -> StoredQuery | None:
        """What was stored under `token`, or None once it has expired."""
        entry = self._items.get(token)
        if entry is not None:
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
