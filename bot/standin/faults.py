"""Fault injection: the errors, blocks and delays a test asks the stand-in to produce.

:class:`Faults` is plain state with no lock of its own: the stand-in holds its lock around every
use. A new kind of fault gets a method here, a public wrapper on ``BotAPI`` and a check in
``BotAPI._answer``.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from bot.standin.values import BotAPIError


@dataclass
class _Fault:
    error: BotAPIError
    remaining: int


@dataclass
class Faults:
    """Queued error answers per method and per chat, blocked and migrated chats, a delay added
    to every answer, and late answers for chosen chats."""

    queued: dict[str, deque[_Fault]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    latency: float = 0.0
    per_chat: dict[int, deque[_Fault]] = field(default_factory=dict)
    migrated: dict[int, int] = field(default_factory=dict)
    late: dict[int, deque[float]] = field(default_factory=dict)
    to_hold: dict[int, int] = field(default_factory=dict)  # chat → answers still to hold
    holding: dict[int, int] = field(default_factory=dict)  # chat → answers held right now
    released: threading.Event = field(default_factory=threading.Event)

    def fail_chat(self, chat_id: int, error: BotAPIError, times: int = 1) -> None:
        """Answer the next ``times`` sends to ``chat_id`` with ``error`` (e.g. a 429 with
        ``{"retry_after": 1}``), whatever the method."""
        self.per_chat.setdefault(chat_id, deque()).append(_Fault(error, times))

    def take_for_chat(self, chat_id: int) -> BotAPIError | None:
        """The error the next send to ``chat_id`` must get, if one is queued (consumes it)."""
        faults = self.per_chat.get(chat_id)
        if not faults:
            return None
        fault = faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.popleft()
        return fault.error

    def check_migrated(self, chat_id: int) -> None:
        """Raise the 400 Telegram gives for a group that became a supergroup."""
        new_id = self.migrated.get(chat_id)
        if new_id is not None:
            raise BotAPIError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": new_id},
            )

    def answer_late(self, chat_id: int, seconds: float, times: int = 1) -> None:
        """The next ``times`` sends to ``chat_id`` are carried out (the message is there) but
        answered only after ``seconds``: a client with a shorter timeout never learns it."""
        self.late.setdefault(chat_id, deque()).extend([seconds] * times)

    def take_late(self, chat_id: int) -> float:
        """How late the answer to this send to ``chat_id`` comes (consumes it); 0: on time."""
        delays = self.late.get(chat_id)
        return delays.popleft() if delays else 0.0

    def hold(self, chat_id: int, times: int = 1) -> None:
        """The next ``times`` sends to ``chat_id`` are carried out (the message is there) but
        not answered until :meth:`release`: where a test cuts a send off, not when."""
        self.to_hold[chat_id] = self.to_hold.get(chat_id, 0) + times

    def take_hold(self, chat_id: int) -> bool:
        """True when this send's answer must wait for the release (consumes one hold and
        counts it as held until :meth:`unhold`)."""
        left = self.to_hold.get(chat_id, 0)
        if left <= 0:
            return False
        self.to_hold[chat_id] = left - 1
        self.holding[chat_id] = self.holding.get(chat_id, 0) + 1
        return True

    def unhold(self, chat_id: int) -> None:
        """A held answer went out."""
        self.holding[chat_id] -= 1

    def release(self) -> None:
        """Every held answer goes out, and later holds are not held (``reset`` starts anew)."""
        self.to_hold.clear()
        self.released.set()

    def queue(self, method: str, error: BotAPIError, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``error`` (queued FIFO)."""
        self.queued.setdefault(method.lower(), deque()).append(_Fault(error, times))

    def take(self, method: str) -> BotAPIError | None:
        """The error the next call of ``method`` must get, if one is queued (consumes it)."""
        faults = self.queued.get(method.lower())
        if not faults:
            return None
        fault = faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.popleft()
        return fault.error

    def check_blocked(self, chat_id: int) -> None:
        """Raise the 403 Telegram gives for a chat that blocked or removed the bot."""
        if chat_id in self.blocked:
            if chat_id > 0:
                raise BotAPIError(403, "Forbidden: bot was blocked by the user")
            raise BotAPIError(403, "Forbidden: bot was kicked from the group chat")
