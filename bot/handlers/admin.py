"""Admin commands. Who is an admin is decided at registration (filters.User), not here."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Update
from telegram.ext import ContextTypes

from bot import delivery, render, texts
from bot.handlers.common import state


async def cmd_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Counts and health, for admins."""
    st, chat = state(context), update.effective_chat
    assert chat is not None
    async with delivery.typing_while_slow(context.bot, chat.id):
        stats = await asyncio.to_thread(st.service.stats)
    text = render.render_stats(stats, datetime.now(UTC) - st.started)
    await delivery.send(context.bot, st.service, chat.id, [text])


async def cmd_stats_refused(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats from anyone else: a polite no, and nothing else happens."""
    chat = update.effective_chat
    assert chat is not None
    await delivery.send(context.bot, state(context).service, chat.id, [texts.NOT_ADMIN])
