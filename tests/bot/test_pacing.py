"""How much the bot asks of Telegram: the rate limiter it is built with (bot/ratelimit.py, alone
in tests/bot/test_ratelimit.py; here through the real Application and the stand-in), and
"typing…" only around slow work (each chat action is one more request)."""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram.constants import ChatAction
from telegram.error import NetworkError
from telegram.ext import Application

from bot import delivery, ratelimit
from bot.app import build_application, rate_limit_text, rate_limiter
from bot.ratelimit import MAX_RETRIES, LaneRateLimiter
from bot.standin import BotAPIStandIn
from knowledge.service import BriefService
from knowledge.settings import Settings
from tests.bot.conftest import say


class FakeBot:
    """Records chat actions (when, relative to creation); optionally fails them. The
    `hold_at`-th one is answered only once `released` is set: the work can end while it is
    under way, at a point the test chooses."""

    def __init__(self, fail: bool = False, hold_at: int | None = None) -> None:
        self.start = time.monotonic()
        self.actions: list[tuple[float, int, str]] = []
        self.fail = fail
        self.acted = asyncio.Condition()
        self.hold_at = hold_at
        self.released = asyncio.Event()

    async def send_chat_action(self, chat_id: int, action: str) -> bool:
        self.actions.append((time.monotonic() - self.start, chat_id, action))
        async with self.acted:
            self.acted.notify_all()
        if len(self.actions) == self.hold_at:
            await self.released.wait()
        if self.fail:
            raise NetworkError("down")
        return True

    async def wait_actions(self, count: int) -> None:
        """Until `count` chat actions were sent."""
        async with self.acted:
            await self.acted.wait_for(lambda: len(self.actions) >= count)


def no_typing_task_left() -> bool:
    """typing_while_slow awaited its task on exit: none is left to fire later."""
    return not [t for t in asyncio.all_tasks() if "indicate" in repr(t.get_coro())]


def test_the_limiter_follows_the_settings(settings: Settings) -> None:
    assert (settings.rate_limits, settings.broadcast_per_second) == (True, 30)  # default.toml
    assert settings.allow_paid_broadcast is False
    limiter = rate_limiter(settings)
    assert (limiter.limits, limiter.broadcast_per_second, limiter.paid_broadcast) == (
        True,
        30,
        False,
    )
    assert limiter.max_retries == MAX_RETRIES
    paid = settings.model_copy(update={"broadcast_per_second": 20, "allow_paid_broadcast": True})
    assert rate_limit_text(paid) == (
        "rate limits: 3 per 3 s per chat, 20/min per group, broadcasts 20/s (1000/s paid)"
    )


def test_rate_limits_off_lifts_every_limit_but_retry_after_is_still_honoured(
    settings: Settings, service: BriefService
) -> None:
    local = settings.model_copy(update={"rate_limits": False})
    assert rate_limit_text(local) == "no rate limits (RetryAfter honoured)"
    limiter = build_application(local, service).bot.rate_limiter
    assert isinstance(limiter, LaneRateLimiter)
    assert (limiter.limits, limiter.max_retries) == (False, MAX_RETRIES)


async def test_no_typing_when_the_work_is_quick() -> None:
    bot = FakeBot()
    async with delivery.typing_while_slow(bot, 7, after=60):  # type: ignore[arg-type]
        await asyncio.sleep(0)  # the work is done long before the delay
    assert bot.actions == []
    assert no_typing_task_left()


async def test_typing_after_the_delay_then_repeated_until_done() -> None:
    bot = FakeBot(hold_at=2)
    async with delivery.typing_while_slow(bot, 7, after=0.1, every=0.3):  # type: ignore[arg-type]
        await bot.wait_actions(2)  # the work ends while the second "typing…" is under way
        bot.released.set()  # (answered only now: so there is never a third, however slow)
    assert no_typing_task_left()
    assert [(chat, action) for _, chat, action in bot.actions] == [(7, ChatAction.TYPING)] * 2
    first, second = (at for at, _, _ in bot.actions)
    assert first >= 0.1
    assert second - first >= 0.3


async def test_a_failing_chat_action_does_not_stop_the_work() -> None:
    bot = FakeBot(fail=True)
    async with delivery.typing_while_slow(bot, 7, after=0.05, every=60):  # type: ignore[arg-type]
        await bot.wait_actions(1)
    assert len(bot.actions) == 1
    assert no_typing_task_left()


async def test_an_error_in_the_work_ends_the_typing() -> None:
    bot = FakeBot()
    with pytest.raises(RuntimeError):
        async with delivery.typing_while_slow(bot, 7, after=0.05, every=60):  # type: ignore[arg-type]
            await bot.wait_actions(1)
            raise RuntimeError("boom")
    assert no_typing_task_left()
    assert len(bot.actions) == 1


async def test_a_question_is_answered_while_a_broadcast_queue_waits(
    application: Application,  # type: ignore[type-arg]
    bot: BotAPIStandIn,
    uid: int,
) -> None:
    fan_out = [
        asyncio.create_task(
            application.bot.send_message(50_000 + i, f"digest {i}", **ratelimit.broadcast_kwargs())
        )
        for i in range(1800)  # a minute of broadcasts at 30/s: the reply comes long before
    ]
    try:
        await bot.wait_for("sendMessage", lambda c: c.params.get("text") == "digest 0")
        reply = await say(bot, "/help", uid)
        assert reply.plain_text.startswith("Commands\n")
        assert not all(task.done() for task in fan_out)  # answered while the queue waited
        digests = [c for c in bot.calls_to("sendMessage") if c.params["chat_id"] != uid]
        assert [c.params["text"] for c in digests] == [f"digest {i}" for i in range(len(digests))]
    finally:
        for task in fan_out:
            task.cancel()
        await asyncio.gather(*fan_out, return_exceptions=True)


async def test_a_429_on_a_broadcast_is_retried_through_the_stand_in(
    application: Application,  # type: ignore[type-arg]
    bot: BotAPIStandIn,
) -> None:
    bot.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1}
    )
    message = await application.bot.send_message(60_001, "digest", **ratelimit.broadcast_kwargs())
    assert message.text == "digest"
    first, second = bot.calls_to("sendMessage")
    assert (first.error_code, second.ok) == (429, True)
    assert second.at - first.at >= 1.0 + ratelimit.RETRY_MARGIN_S
