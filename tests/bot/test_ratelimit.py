"""bot/ratelimit.py on a virtual clock: the limiter alone, its callback recording when each
request would have reached Telegram. Time moves only when every task is waiting on the clock,
straight to the next wake-up, so the times are exact and nothing sleeps for real."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.ratelimit import (
    BROADCAST,
    GROUP_LIMIT,
    GROUP_PERIOD_S,
    PAID_PER_SECOND,
    PER_CHAT_BURST,
    PER_CHAT_PERIOD_S,
    RETRY_MARGIN_S,
    LaneRateLimiter,
    broadcast_kwargs,
)

GROUP = -100_200


class VirtualClock:
    """`clock` and `sleep` for the limiter: sleepers wake in time order as `run` advances."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(delay, 0.0), next(self._seq), future))
        await future

    async def _quiet(self) -> None:
        """Until no task is runnable (everyone waits on the clock, an event or is done)."""
        loop = asyncio.get_running_loop()
        calm = 0
        while calm < 3:
            await asyncio.sleep(0)
            calm = calm + 1 if not loop._ready else 0  # type: ignore[attr-defined]

    async def run(self, *coros: Awaitable[Any]) -> list[Any]:
        """Run `coros` to completion on virtual time; their results (or exceptions)."""
        tasks = [asyncio.ensure_future(c) for c in coros]
        while True:
            await self._quiet()
            if all(t.done() for t in tasks):
                break
            while self._timers and self._timers[0][2].done():  # cancelled sleeps
                heapq.heappop(self._timers)
            if not self._timers:
                raise AssertionError("stuck: tasks wait and no timer is due")
            when, _, future = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            future.set_result(None)
        return [t.exception() or t.result() for t in tasks]


@dataclass
class FakeTelegram:
    """The callback the limiter calls: records (virtual time, method, chat, text); answers
    429 to the first `flood[chat]` requests to a chat."""

    clock: VirtualClock
    sent: list[tuple[float, str, Any, str]] = field(default_factory=list)
    flood: dict[Any, int] = field(default_factory=dict)
    retry_after: float = 2.0

    async def post(self, endpoint: str, data: dict[str, Any]) -> dict[str, Any]:
        chat = data.get("chat_id")
        self.sent.append((self.clock.now, endpoint, chat, str(data.get("text", ""))))
        if self.flood.get(chat, 0) > 0:
            self.flood[chat] -= 1
            raise RetryAfter(timedelta(seconds=self.retry_after))
        return {"ok": True}

    def times(self, chat: Any = None, method: str = "sendMessage") -> list[float]:
        return [t for t, m, c, _ in self.sent if m == method and (chat is None or c == chat)]


def request(
    limiter: LaneRateLimiter,
    tg: FakeTelegram,
    chat: Any,
    text: str = "",
    *,
    method: str = "sendMessage",
    args: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Awaitable[Any]:
    """One Bot API request through the limiter, as ExtBot makes it."""
    data = {"chat_id": chat, "text": text, **extra}
    return limiter.process_request(
        callback=tg.post,
        args=(method, data),
        kwargs={},
        endpoint=method,
        data=data,
        rate_limit_args=args,
    )


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def tg(clock: VirtualClock) -> FakeTelegram:
    return FakeTelegram(clock)


def limiter_on(clock: VirtualClock, **options: Any) -> LaneRateLimiter:
    return LaneRateLimiter(clock=clock, sleep=clock.sleep, **options)


def most_in_any_window(times: list[float], period: float) -> int:
    """The largest number of `times` inside one half-open window [t, t + period)."""
    ordered = sorted(times)
    return max((sum(t <= x < t + period for x in ordered) for t in ordered), default=0)


async def test_replies_to_one_chat_keep_its_spacing_and_order(
    clock: VirtualClock, tg: FakeTelegram
) -> None:
    limiter = limiter_on(clock)
    await clock.run(*(request(limiter, tg, 7, f"part {i}") for i in range(10)))
    times = tg.times(7)
    assert times[:PER_CHAT_BURST] == [0.0] * PER_CHAT_BURST  # a 3-part answer at once
    assert most_in_any_window(times, PER_CHAT_PERIOD_S) == PER_CHAT_BURST
    assert times[-1] == pytest.approx(9.0)  # 1/s sustained: part 9 at 3 × 3 s
    assert [text for _, _, _, text in tg.sent] == [f"part {i}" for i in range(10)]


async def test_a_group_gets_at_most_20_a_minute(clock: VirtualClock, tg: FakeTelegram) -> None:
    limiter = limiter_on(clock)
    await clock.run(*(request(limiter, tg, GROUP, f"m{i}") for i in range(45)))
    times = tg.times(GROUP)
    assert len(times) == 45
    assert most_in_any_window(times, GROUP_PERIOD_S) == GROUP_LIMIT
    assert most_in_any_window(times, PER_CHAT_PERIOD_S) <= PER_CHAT_BURST
    assert times[GROUP_LIMIT] >= times[0] + GROUP_PERIOD_S
    # m40 opens the third minute at 120 s, m41-42 with it, m43-44 three seconds later
    assert times[40:] == [120.0, 120.0, 120.0, 123.0, 123.0]


async def test_a_username_chat_counts_as_a_group(clock: VirtualClock, tg: FakeTelegram) -> None:
    limiter = limiter_on(clock)
    await clock.run(*(request(limiter, tg, "@channel") for _ in range(GROUP_LIMIT + 1)))
    assert tg.times("@channel")[-1] >= GROUP_PERIOD_S


async def test_a_hundred_chats_asking_at_once_are_not_throttled(
    clock: VirtualClock, tg: FakeTelegram
) -> None:
    limiter = limiter_on(clock)
    replies = [request(limiter, tg, chat, "answer") for chat in range(1, 101)]
    groups = [request(limiter, tg, -chat, "answer") for chat in range(1, 101)]
    await clock.run(*replies, *groups)
    assert tg.times() == [0.0] * 200  # no budget shared between chats


async def test_the_broadcast_lane_keeps_its_rate(clock: VirtualClock, tg: FakeTelegram) -> None:
    limiter = limiter_on(clock, broadcast_per_second=30)
    await clock.run(*(request(limiter, tg, c, "digest", args=BROADCAST) for c in range(1, 301)))
    times = tg.times()
    assert len(times) == 300
    assert most_in_any_window(times, 1.0) == 30
    assert max(b - a for a, b in itertools.pairwise(times)) == pytest.approx(1 / 30)  # spaced
    assert times[-1] == pytest.approx(299 / 30)  # and no slower than the rate


class LateClock(VirtualClock):
    """A busy event loop: every sleeper wakes 5 ms after its time."""

    async def sleep(self, delay: float) -> None:
        await super().sleep(delay + 0.005)


async def test_the_broadcast_lane_keeps_its_rate_when_wake_ups_are_late(
    tg: FakeTelegram,
) -> None:
    clock = LateClock()
    tg.clock = clock
    limiter = limiter_on(clock, broadcast_per_second=30)
    await clock.run(*(request(limiter, tg, c, "digest", args=BROADCAST) for c in range(1, 301)))
    times = tg.times()
    assert len(times) == 300
    assert most_in_any_window(times, 1.0) <= 30
    assert times[-1] - times[0] <= 299 / 30 * 1.02  # the lateness does not add up


async def test_the_broadcast_lane_keeps_the_group_limit(
    clock: VirtualClock, tg: FakeTelegram
) -> None:
    limiter = limiter_on(clock)
    await clock.run(*(request(limiter, tg, GROUP, args=BROADCAST) for _ in range(GROUP_LIMIT + 5)))
    assert most_in_any_window(tg.times(GROUP), GROUP_PERIOD_S) == GROUP_LIMIT


async def test_paid_broadcasts_go_at_the_paid_rate_only_when_allowed(
    clock: VirtualClock, tg: FakeTelegram
) -> None:
    paid = limiter_on(clock, paid_broadcast=True)
    sends = [request(paid, tg, c, args=BROADCAST, allow_paid_broadcast=True) for c in range(2000)]
    await clock.run(*sends)
    times = tg.times()
    assert most_in_any_window(times, 1.0) == PAID_PER_SECOND
    assert times[-1] == pytest.approx(1999 / PAID_PER_SECOND)

    tg.sent.clear()
    start = clock.now
    free = limiter_on(clock, paid_broadcast=False)  # the flag alone does not lift the lane
    await clock.run(
        *(request(free, tg, c, args=BROADCAST, allow_paid_broadcast=True) for c in range(60))
    )
    assert tg.times()[-1] - start == pytest.approx(59 / 30)


def test_broadcast_kwargs() -> None:
    assert broadcast_kwargs() == {"rate_limit_args": BROADCAST}
    assert broadcast_kwargs(True) == {"rate_limit_args": BROADCAST, "allow_paid_broadcast": True}
    assert dict(BROADCAST) == {"lane": "broadcast"}


async def test_a_reply_does_not_wait_behind_queued_broadcasts(
    clock: VirtualClock, tg: FakeTelegram
) -> None:
    limiter = limiter_on(clock)
    digests = [request(limiter, tg, c, "digest", args=BROADCAST) for c in range(1, 1001)]

    async def question_at(at: float, chat: int) -> None:
        await clock.sleep(at)
        await request(limiter, tg, chat, "answer")

    # one chat that has a digest queued, one that has none, both asking 5 s into the fan-out
    await clock.run(*digests, question_at(5.0, 900), question_at(5.0, 5000))
    answers = [(t, c) for t, _, c, text in tg.sent if text == "answer"]
    assert answers == [(5.0, 900), (5.0, 5000)]
    assert tg.times()[-1] == pytest.approx(999 / 30)  # the fan-out went on


async def test_a_reply_goes_before_a_broadcast_waiting_for_the_same_chat(
    clock: VirtualClock, tg: FakeTelegram
) -> None:
    limiter = limiter_on(clock)
    await clock.run(*(request(limiter, tg, 7, "earlier") for _ in range(PER_CHAT_BURST)))
    start = clock.now
    await clock.run(
        request(limiter, tg, 7, "digest", args=BROADCAST), request(limiter, tg, 7, "answer")
    )
    order = [(t - start, text) for t, _, _, text in tg.sent[PER_CHAT_BURST:]]
    assert order == [(PER_CHAT_PERIOD_S, "answer"), (PER_CHAT_PERIOD_S, "digest")]


async def test_chat_actions_take_no_slot_and_never_wait(
    clock: VirtualClock, tg: FakeTelegram
) -> None:
    limiter = limiter_on(clock)
    typing = [request(limiter, tg, 7, method="sendChatAction") for _ in range(10)]
    answers = [request(limiter, tg, 7, "answer") for _ in range(PER_CHAT_BURST)]
    await clock.run(*typing, *answers)
    assert tg.times(7, "sendChatAction") == [0.0] * 10
    assert tg.times(7) == [0.0] * PER_CHAT_BURST  # the answers were not slowed by them
    await clock.run(*(request(limiter, tg, 7, method="sendChatAction") for _ in range(3)))
    assert tg.times(7, "sendChatAction")[-3:] == [0.0] * 3  # nor they by a full chat


async def test_a_429_pauses_the_chat_and_the_request_is_retried(
    clock: VirtualClock, tg: FakeTelegram
) -> None:
    limiter = limiter_on(clock)
    tg.flood[7] = 1
    pause = tg.retry_after + RETRY_MARGIN_S

    async def later(at: float, coro: Awaitable[Any]) -> Any:
        await clock.sleep(at)
        return await coro

    results = await clock.run(
        request(limiter, tg, 7, "first"),
        later(1.0, request(limiter, tg, 7, "second")),  # same chat, during the pause
        later(1.0, request(limiter, tg, 8, "elsewhere")),  # another chat: not paused
        later(1.0, request(limiter, tg, 7, method="sendChatAction")),  # fails at once
    )
    sent = [(t, c, text) for t, m, c, text in tg.sent if m == "sendMessage"]
    assert sent == [
        (0.0, 7, "first"),
        (1.0, 8, "elsewhere"),
        (pause, 7, "first"),
        (pause, 7, "second"),
    ]
    assert results[:3] == [{"ok": True}] * 3
    assert isinstance(results[3], RetryAfter)
    assert tg.times(7, "sendChatAction") == []  # not sent during the pause


async def test_a_429_in_the_broadcast_lane_pauses_the_lane_not_the_replies(
    clock: VirtualClock, tg: FakeTelegram
) -> None:
    limiter = limiter_on(clock)
    tg.flood[1] = 1
    digests = [request(limiter, tg, c, "digest", args=BROADCAST) for c in range(1, 11)]

    async def question() -> None:
        await clock.sleep(1.0)
        await request(limiter, tg, 99, "answer")

    await clock.run(*digests, question())
    pause = tg.retry_after + RETRY_MARGIN_S
    digest_times = [t for t, _, _, text in tg.sent if text == "digest"]
    assert digest_times[0] == 0.0 and min(digest_times[1:]) == pytest.approx(pause)
    assert [t for t, _, _, text in tg.sent if text == "answer"] == [1.0]
    assert len(digest_times) == 11  # ten digests, one of them twice


async def test_after_max_retries_the_error_surfaces(clock: VirtualClock, tg: FakeTelegram) -> None:
    limiter = limiter_on(clock, max_retries=2)
    tg.flood[7] = 100
    (result,) = await clock.run(request(limiter, tg, 7))
    assert isinstance(result, RetryAfter)
    times = tg.times(7)
    assert len(times) == 3  # the first try and two retries
    assert [b - a for a, b in itertools.pairwise(times)] == [pytest.approx(2.1)] * 2
    tg.flood[7] = 100
    (once,) = await clock.run(request(limiter, tg, 7, args={"max_retries": 0}))
    assert isinstance(once, RetryAfter) and len(tg.times(7)) == 4


async def test_a_request_without_a_chat_waits_alone(clock: VirtualClock, tg: FakeTelegram) -> None:
    limiter = limiter_on(clock)
    tg.flood[None] = 1
    await clock.run(
        request(limiter, tg, None, method="answerCallbackQuery"), request(limiter, tg, 7)
    )
    assert tg.times(None, "answerCallbackQuery") == [0.0, pytest.approx(2.1)]
    assert tg.times(7) == [0.0]


async def test_without_limits_only_retry_after_holds(
    clock: VirtualClock, tg: FakeTelegram
) -> None:
    limiter = limiter_on(clock, limits=False)
    sends = [request(limiter, tg, GROUP, args=BROADCAST) for _ in range(100)]
    await clock.run(*sends, *(request(limiter, tg, 7) for _ in range(10)))
    assert tg.times() == [0.0] * 110
    tg.flood[7] = 1
    await clock.run(request(limiter, tg, 7))
    assert tg.times(7)[-2:] == [0.0, pytest.approx(2.1)]
    assert limiter.describe() == "no rate limits (RetryAfter honoured)"


async def test_a_cancelled_request_leaves_the_queue(clock: VirtualClock, tg: FakeTelegram) -> None:
    limiter = limiter_on(clock)
    await clock.run(*(request(limiter, tg, 7) for _ in range(PER_CHAT_BURST)))
    stuck = asyncio.ensure_future(request(limiter, tg, 7, "cancelled"))
    await clock.run(asyncio.sleep(0))
    stuck.cancel()
    await clock.run(request(limiter, tg, 7, "next"))
    assert [text for _, _, _, text in tg.sent[-1:]] == ["next"]
    assert "cancelled" not in [text for _, _, _, text in tg.sent]


async def test_idle_chats_are_forgotten(clock: VirtualClock, tg: FakeTelegram) -> None:
    limiter = limiter_on(clock)
    await clock.run(*(request(limiter, tg, c) for c in range(1, 1501)))
    assert len(limiter._chats) == 1500  # all recent: none forgotten yet
    clock.now += PER_CHAT_PERIOD_S
    await clock.run(*(request(limiter, tg, c) for c in range(2001, 2601)))
    assert len(limiter._chats) == 600


def test_broadcast_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        LaneRateLimiter(broadcast_per_second=0)
