"""Telegram's flood limits, in two lanes: replies to people, and broadcasts (digests).

Replies are not bulk notifications. Telegram's "about 30 messages per second" is for messages
sent to many users at once (Bot FAQ); a reply is bound only by its own chat's limits:

- every chat: at most PER_CHAT_BURST messages in any PER_CHAT_PERIOD_S seconds, i.e. 1 message
  a second averaged over 3 s. Telegram tolerates short bursts above 1/s and answers sustained
  ones with 429; a burst of 3 lets a 2-3-part answer (or an answer plus the edit that drops the
  More button it replaces) go out at once, while no chat ever gets more than 3 in 3 s.
- group chats and channels (a negative or @username chat_id) also: at most GROUP_LIMIT in any
  GROUP_PERIOD_S seconds (Telegram's 20 messages a minute per group).

So 100 chats asking at once are answered as fast as the handlers go, with no global budget.

Broadcasts (the digest fan-out) are marked with `rate_limit_args=BROADCAST`:

    await bot.send_message(chat_id, text, rate_limit_args=BROADCAST)

and go in a lane of their own: at most `broadcast_per_second` messages in any second (Telegram's
30/s, `BRIEF_BROADCAST_PER_SECOND`), evenly spaced, on top of the per-chat and per-group limits
above. With `paid_broadcast` on (`BRIEF_ALLOW_PAID_BROADCAST`), broadcast requests that carry
`allow_paid_broadcast=True` go in a paid lane at Telegram's paid rate (1000/s) instead; without
it they are paced at the free rate even when they carry the flag. A reply never waits behind
queued broadcasts: broadcasts queue in their own lane, and where a reply and a broadcast wait for
the same chat the reply goes first. Unmarked requests are replies.

Chat actions ("typing…") are not messages: they take no chat's slot and never wait, so they
cannot delay an answer. While a chat is paused by a 429 they fail at once with RetryAfter (a
late "typing…" is worthless) instead of being sent.

RetryAfter (a 429): the request is retried after `retry_after` (+0.1 s) up to `max_retries`
times, then the error surfaces. The 429 pauses what it concerns: the chat (every lane's requests
to it), and for a broadcast also its broadcast lane; replies to other chats go on. A request
without a chat (answerCallbackQuery, setMyCommands…) waits alone.
`rate_limit_args={"lane": ..., "max_retries": N}` overrides the retries for one request.

`limits=False` (`BRIEF_RATE_LIMITS=false`, for a local Bot API server) lifts every limit;
RetryAfter is still honoured.

`clock` and `sleep` are injectable (tests drive the limiter on a virtual clock).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Final

from telegram._utils.types import JSONDict
from telegram.constants import FloodLimit
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

REPLY_LANE: Final = "reply"
BROADCAST_LANE: Final = "broadcast"
BROADCAST: Final[Mapping[str, Any]] = MappingProxyType({"lane": BROADCAST_LANE})
"""`rate_limit_args` of a broadcast (digest) request."""

PER_CHAT_BURST: Final = 3
PER_CHAT_PERIOD_S: Final = 3.0
GROUP_LIMIT: Final = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP  # 20
GROUP_PERIOD_S: Final = 60.0
BROADCAST_PER_SECOND: Final = FloodLimit.MESSAGES_PER_SECOND  # 30
PAID_PER_SECOND: Final = FloodLimit.PAID_MESSAGES_PER_SECOND  # 1000
MAX_RETRIES: Final = 3
RETRY_MARGIN_S: Final = 0.1
CHAT_ACTION: Final = "sendChatAction"

_REPLY, _BROADCAST = 0, 1  # priorities where lanes meet (a chat): lower goes first

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Callback = Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]]


def broadcast_kwargs(paid: bool = False) -> dict[str, Any]:
    """Keyword arguments for one broadcast send: its lane, plus `allow_paid_broadcast=True`
    when `paid` (settings.allow_paid_broadcast): `bot.send_message(..., **broadcast_kwargs(p))`."""
    return {"rate_limit_args": BROADCAST, **({"allow_paid_broadcast": True} if paid else {})}


class Window:
    """At most `limit` sends in any `period` seconds (a sliding window over the last sends)."""

    def __init__(self, limit: int, period: float, *, paced: bool = False) -> None:
        self.limit = limit
        self.period = period
        self.paced = paced
        self._sent: deque[float] = deque(maxlen=limit)

    def ready_at(self) -> float:
        """The earliest time the next send may go."""
        if len(self._sent) < self.limit:
            return -math.inf
        return self._sent[0] + self.period

    def record(self, now: float) -> None:
        """Count a send at `now`. A paced window (a lane's even spacing) counts a send that
        went less than a period after its slot at the slot: a sleeper always wakes a little
        late, and counting from the wake-up would add that lateness to every gap (26/s, not
        30/s, on a busy machine). The lane's whole-second window still counts real times."""
        if self.paced and len(self._sent) == self.limit:
            slot = self._sent[0] + self.period
            if slot <= now < slot + self.period:
                now = slot
        self._sent.append(now)

    def expired(self, now: float) -> bool:
        """No send within the last period: forgetting this window changes nothing."""
        return not self._sent or self._sent[-1] + self.period <= now


class _Waiter:
    """One request waiting for its turn; nudged when it may have become first in a line."""

    __slots__ = ("nudge", "order")

    def __init__(self, priority: int, seq: int) -> None:
        self.order = (priority, seq)
        self.nudge = asyncio.Event()


class _Gate:
    """A chat's or a lane's windows, the requests queued for them (by priority, then arrival),
    and a pause set by a 429."""

    __slots__ = ("paused_until", "waiters", "windows")

    def __init__(self, windows: tuple[Window, ...]) -> None:
        self.windows = windows
        self.waiters: list[_Waiter] = []
        self.paused_until = -math.inf

    def ready_at(self) -> float:
        """The earliest time a send may go (windows and pause)."""
        return max([self.paused_until, *(w.ready_at() for w in self.windows)])

    def open_for(self, waiter: _Waiter, now: float) -> bool:
        """May `waiter` send now without jumping ahead of anyone queued here?"""
        first = not self.waiters or self.waiters[0].order >= waiter.order
        return first and self.ready_at() <= now

    def join(self, waiter: _Waiter) -> None:
        """Queue `waiter` (no-op when queued)."""
        if waiter in self.waiters:
            return
        # no nudge: a new first checks for itself, and a displaced first finds out when its
        # sleep ends and then waits to be nudged
        bisect.insort(self.waiters, waiter, key=lambda w: w.order)

    def leave(self, waiter: _Waiter) -> None:
        """Unqueue `waiter` (no-op when not queued); the next in line is nudged."""
        try:
            index = self.waiters.index(waiter)
        except ValueError:
            return
        del self.waiters[index]
        if index == 0 and self.waiters:
            self.waiters[0].nudge.set()

    def record(self, now: float) -> None:
        """Count a send at `now` in every window."""
        for window in self.windows:
            window.record(now)

    def pause(self, until: float) -> None:
        """Nothing goes through before `until` (a 429)."""
        self.paused_until = max(self.paused_until, until)
        if self.waiters:
            self.waiters[0].nudge.set()

    def idle(self, now: float) -> bool:
        """Nobody waiting, no pause, no window holding a recent send: safe to forget."""
        return (
            not self.waiters
            and self.paused_until <= now
            and all(w.expired(now) for w in self.windows)
        )


def retry_after_seconds(error: RetryAfter) -> float:
    """`error.retry_after` in seconds (an int or a timedelta, depending on PTB_TIMEDELTA)."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class LaneRateLimiter(BaseRateLimiter[Mapping[str, Any]]):
    """Per-chat and per-group limits for replies, a broadcast lane for digests, RetryAfter
    honoured; see the module docstring."""

    def __init__(
        self,
        *,
        limits: bool = True,
        broadcast_per_second: float = BROADCAST_PER_SECOND,
        paid_broadcast: bool = False,
        max_retries: int = MAX_RETRIES,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if broadcast_per_second <= 0:
            raise ValueError("broadcast_per_second must be positive")
        self.limits = limits
        self.broadcast_per_second = broadcast_per_second
        self.paid_broadcast = paid_broadcast
        self.max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._seq = itertools.count()
        self._chats: dict[int | str, _Gate] = {}
        self._sweep_at = 1024
        self._free = _Gate(self._lane_windows(broadcast_per_second))
        self._paid = _Gate(self._lane_windows(PAID_PER_SECOND))

    def _lane_windows(self, per_second: float) -> tuple[Window, ...]:
        if not self.limits:
            return ()
        # evenly spaced (1/rate apart), and never more than the rate in any one second
        return (
            Window(1, 1.0 / per_second, paced=True),
            Window(max(1, math.floor(per_second)), 1.0),
        )

    def describe(self) -> str:
        """The limits in effect, for the ready line."""
        if not self.limits:
            return "no rate limits (RetryAfter honoured)"
        lane = f"broadcasts {self.broadcast_per_second:g}/s"
        if self.paid_broadcast:
            lane += f" ({PAID_PER_SECOND}/s paid)"
        return (
            f"rate limits: {PER_CHAT_BURST} per {PER_CHAT_PERIOD_S:g} s per chat, "
            f"{GROUP_LIMIT}/min per group, {lane}"
        )

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    # ------------------------------------------------------------------------ gates

    def chat_gate(self, chat_id: int | str) -> _Gate:
        """The gate of one chat (created on first use; idle ones are swept now and then)."""
        gate = self._chats.get(chat_id)
        if gate is None:
            if len(self._chats) >= self._sweep_at:
                now = self._clock()
                for key in [k for k, g in self._chats.items() if g.idle(now)]:
                    del self._chats[key]
                self._sweep_at = max(1024, 2 * len(self._chats))
            gate = _Gate(self._chat_windows(chat_id))
            self._chats[chat_id] = gate
        return gate

    def _chat_windows(self, chat_id: int | str) -> tuple[Window, ...]:
        if not self.limits:
            return ()
        windows = [Window(PER_CHAT_BURST, PER_CHAT_PERIOD_S)]
        if isinstance(chat_id, str) or chat_id < 0:  # groups, supergroups, channels
            windows.append(Window(GROUP_LIMIT, GROUP_PERIOD_S))
        return tuple(windows)

    async def _wait(self, waiter: _Waiter, delay: float | None) -> None:
        """Until `delay` seconds have passed (None: no limit) or `waiter` is nudged."""
        if delay is None:
            await waiter.nudge.wait()
        else:
            sleeper = asyncio.ensure_future(self._sleep(delay))
            nudged = asyncio.ensure_future(waiter.nudge.wait())
            try:
                await asyncio.wait((sleeper, nudged), return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                nudged.cancel()
        waiter.nudge.clear()

    async def _first_and_open(self, gate: _Gate, waiter: _Waiter) -> None:
        """Queue at `gate` and return once `waiter` is first there and the gate is open (the
        waiter stays queued: the caller records its send or leaves)."""
        gate.join(waiter)
        while True:
            now = self._clock()
            if gate.waiters[0] is waiter:
                ready = gate.ready_at()
                if ready <= now:
                    return
                await self._wait(waiter, ready - now)
            else:
                await self._wait(waiter, None)

    async def _admit(self, chat: _Gate, lane: _Gate | None, seq: int) -> None:
        """Wait until a request to `chat` (in broadcast `lane`, or a reply when None) may go,
        and count it as sent now. `seq` keeps a retried request's place in line."""
        waiter = _Waiter(_REPLY if lane is None else _BROADCAST, seq)
        try:
            while True:
                await self._first_and_open(chat, waiter)
                if lane is None:
                    chat.record(self._clock())
                    return
                # wait in the lane without holding the chat: replies to it go on meanwhile
                chat.leave(waiter)
                await self._first_and_open(lane, waiter)
                now = self._clock()
                if chat.open_for(waiter, now):
                    chat.record(now)
                    lane.record(now)
                    return
                lane.leave(waiter)  # the chat got busy meanwhile: wait for it again
        finally:
            chat.leave(waiter)
            if lane is not None:
                lane.leave(waiter)

    # ------------------------------------------------------------------------ requests

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Mapping[str, Any] | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Send one request when its chat (and lane) allow it; retry it on RetryAfter."""
        options = rate_limit_args or {}
        broadcast = options.get("lane", REPLY_LANE) == BROADCAST_LANE
        max_retries = int(options.get("max_retries", self.max_retries))
        chat_id = _chat_key(data.get("chat_id"))
        chat = None if chat_id is None else self.chat_gate(chat_id)
        if endpoint == CHAT_ACTION and chat is not None:
            return await self._chat_action(chat, callback, args, kwargs)
        lane = None
        if broadcast:
            paid = self.paid_broadcast and bool(data.get("allow_paid_broadcast"))
            lane = self._paid if paid else self._free
        seq = next(self._seq)
        for attempt in itertools.count():
            if chat is not None:
                await self._admit(chat, lane, seq)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_after_seconds(exc) + RETRY_MARGIN_S
                if chat is not None:  # what Telegram refuses now, it refuses to every request
                    until = self._clock() + wait
                    chat.pause(until)
                    if lane is not None:
                        lane.pause(until)
                if attempt >= max_retries:
                    log.warning(
                        "%s to %s: flood control after %d retries, giving up",
                        endpoint,
                        chat_id,
                        max_retries,
                    )
                    raise
                log.info("%s to %s: flood control, retrying in %.1f s", endpoint, chat_id, wait)
                if chat is None:
                    await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _chat_action(
        self, chat: _Gate, callback: Callback, args: Any, kwargs: dict[str, Any]
    ) -> bool | JSONDict | list[JSONDict]:
        """A chat action goes at once, taking no slot; during a pause it fails at once, and a
        429 it meets pauses the chat without a retry (a late "typing…" is worthless)."""
        paused_for = chat.paused_until - self._clock()
        if paused_for > 0:
            raise RetryAfter(timedelta(seconds=math.ceil(paused_for)))
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:
            chat.pause(self._clock() + retry_after_seconds(exc) + RETRY_MARGIN_S)
            raise


def _chat_key(chat_id: object) -> int | str | None:
    """The chat a request goes to: an int id, an @username, or None."""
    if chat_id is None:
        return None
    if isinstance(chat_id, int):
        return chat_id
    try:
        return int(str(chat_id))
    except ValueError:
        return str(chat_id)


__all__ = [
    "BROADCAST",
    "BROADCAST_PER_SECOND",
    "GROUP_LIMIT",
    "GROUP_PERIOD_S",
    "MAX_RETRIES",
    "PAID_PER_SECOND",
    "PER_CHAT_BURST",
    "PER_CHAT_PERIOD_S",
    "LaneRateLimiter",
    "Window",
    "broadcast_kwargs",
    "retry_after_seconds",
]
