"""How much the bot asks of Telegram: the rate limiter it is built with, and "typing…" only
around slow work (each chat action is one more rate-limited request)."""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram.constants import ChatAction
from telegram.error import NetworkError
from telegram.ext import AIORateLimiter

from bot import delivery
from bot.app import MAX_RETRIES, build_application, rate_limit_text, rate_limiter
from knowledge.service import BriefService
from knowledge.settings import Settings


class FakeBot:
    """Records chat actions (when, relative to creation); optionally fails them."""

    def __init__(self, fail: bool = False) -> None:
        self.start = time.monotonic()
        self.actions: list[tuple[float, int, str]] = []
        self.fail = fail
        self.acted = asyncio.Event()

    async def send_chat_action(self, chat_id: int, action: str) -> bool:
        self.actions.append((time.monotonic() - self.start, chat_id, action))
        self.acted.set()
        if self.fail:
            raise NetworkError("down")
        return True


def _limits(limiter: AIORateLimiter) -> tuple[float | None, float, int]:
    """(overall max rate or None when off, group max rate (0: off), max retries)."""
    base = limiter._base_limiter
    return (base.max_rate if base else None, limiter._group_max_rate, limiter._max_retries)


def test_the_limiter_follows_the_setting(settings: Settings) -> None:
    assert settings.rate_limit_per_second == 30  # config/default.toml
    assert _limits(rate_limiter(settings)) == (30, 20, MAX_RETRIES)
    faster = settings.model_copy(update={"rate_limit_per_second": 55.5})
    assert _limits(rate_limiter(faster)) == (55.5, 20, MAX_RETRIES)
    assert rate_limit_text(faster) == "rate limit 55.5/s"


def test_zero_means_no_limiter_but_retry_after_is_still_honoured(
    settings: Settings, service: BriefService
) -> None:
    local = settings.model_copy(update={"rate_limit_per_second": 0.0})
    assert _limits(rate_limiter(local)) == (None, 0, MAX_RETRIES)
    assert rate_limit_text(local) == "no rate limit"
    limiter = build_application(local, service).bot.rate_limiter
    assert isinstance(limiter, AIORateLimiter)
    assert _limits(limiter) == (None, 0, MAX_RETRIES)


async def test_no_typing_when_the_work_is_quick() -> None:
    bot = FakeBot()
    async with delivery.typing_while_slow(bot, 7, after=0.2):  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert bot.actions == []


async def test_typing_after_the_delay_then_repeated_until_done() -> None:
    bot = FakeBot()
    async with delivery.typing_while_slow(bot, 7, after=0.1, every=0.3):  # type: ignore[arg-type]
        await asyncio.sleep(0.6)  # actions at ~0.1 and ~0.4 s, the next would be at 0.7
    done = time.monotonic() - bot.start
    await asyncio.sleep(0.3)
    assert [(chat, action) for _, chat, action in bot.actions] == [(7, ChatAction.TYPING)] * 2
    first, second = (at for at, _, _ in bot.actions)
    assert 0.1 <= first < second < done
    assert second - first >= 0.3


async def test_a_failing_chat_action_does_not_stop_the_work() -> None:
    bot = FakeBot(fail=True)
    async with delivery.typing_while_slow(bot, 7, after=0.05, every=10):  # type: ignore[arg-type]
        await asyncio.sleep(0.15)
    assert len(bot.actions) == 1


async def test_an_error_in_the_work_ends_the_typing() -> None:
    bot = FakeBot()
    with pytest.raises(RuntimeError):
        async with delivery.typing_while_slow(bot, 7, after=0.05, every=0.1):  # type: ignore[arg-type]
            await bot.acted.wait()
            raise RuntimeError("boom")
    await asyncio.sleep(0.3)
    assert len(bot.actions) == 1
