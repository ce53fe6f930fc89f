"""Callback data: short prefixed strings (Telegram allows 64 bytes), encoded and parsed here.

more:<token>:<offset>   the next page of a brief; the query is kept server-side by token
latest:<offset>         the next page of /latest
topic:<index>           a brief on settings topic number <index>
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

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


Callback = MorePage | LatestPage | TopicPick


def encode(callback: Callback) -> str:
    """The callback data string for `callback`; never longer than 64 bytes."""
    match callback:
        case MorePage(token, offset):
            data = f"more:{token}:{offset}"
        case LatestPage(offset):
            data = f"latest:{offset}"
        case TopicPick(index):
            data = f"topic:{index}"
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
    return None


def is_more(data: object) -> bool:
    """Pattern for the More button of a brief."""
    return isinstance(parse(data), MorePage)


def is_latest(data: object) -> bool:
    """Pattern for the More button of /latest."""
    return isinstance(parse(data), LatestPage)


def is_topic(data: object) -> bool:
    """Pattern for a topic button."""
    return isinstance(parse(data), TopicPick)


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
