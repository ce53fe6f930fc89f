"""Fault injection: the errors, blocks and delays a test asks the stand-in to produce.

:class:`Faults` is plain state with no lock of its own: the stand-in holds its lock around every
use. A new kind of fault gets a method here, a public wrapper on ``BotAPI`` and a check in
``BotAPI._answer``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from bot.standin.values import BotAPIError


@dataclass
class _Fault:
    error: BotAPIError
    remaining: int


@dataclass
class Faults:
    """Queued error answers per method, blocked chats and a delay added to every answer."""

    queued: dict[str, deque[_Fault]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    latency: float = 0.0

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
