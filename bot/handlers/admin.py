"""Admin commands. Who is an admin is decided at registration (filters.User), not here."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Update
from telegram.ext import ContextTypes

from bot import delivery, render, texts
from bot.handlers.common import BotState, state
from bot.schedule import DigestScheduler, scheduler_of


async def cmd_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Counts and health, for admins."""
    st, chat = state(context), update.effective_chat
    assert chat is not None
    async with delivery.typing_while_slow(context.bot, chat.id):
        stats = await asyncio.to_thread(st.service.stats)
        more = await digest_rows(st, scheduler_of(context.application))
    text = render.render_stats(stats, datetime.now(UTC) - st.started, more=more)
    await delivery.send(context.bot, st.service, chat.id, [text])


async def cmd_stats_refused(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats from anyone else: a polite no, and nothing else happens."""
    chat = update.effective_chat
    assert chat is not None
    await delivery.send(context.bot, state(context).service, chat.id, [texts.NOT_ADMIN])


async def digest_rows(st: BotState, scheduler: DigestScheduler) -> list[tuple[str, str]]:
    """/stats rows for digests: subscribers, the last run, the next one."""
    subscribers = await asyncio.to_thread(st.service.subscriber_count)
    last = await asyncio.to_thread(st.service.last_digest_run)
    upcoming = scheduler.next_any()
    return [
        (texts.STATS_SUBSCRIBERS, str(subscribers)),
        (texts.STATS_LAST_RUN, render.format_run(last)),
        (
            texts.STATS_NEXT_RUN,
            render.format_when(upcoming, "UTC") if upcoming else texts.STATS_NEVER,
        ),
    ]
