"""The one global error handler: log with the traceback, then one line to the user."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import ChatMigrated, TelegramError
from telegram.ext import ContextTypes

from bot import delivery, texts
from bot.handlers.common import state

log = logging.getLogger("bot.errors")


def describe(update: object) -> str:
    """A short, token-free description of the update that failed."""
    if isinstance(update, Update):
        chat = update.effective_chat
        kind = next((k for k in update.to_dict() if k != "update_id"), "unknown")
        where = f" in chat {chat.id}" if chat else ""
        return f"update {update.update_id} ({kind}){where}"
    return repr(update)[:200]


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure; act on what it means for the chat; tell the user in one line."""
    error = context.error
    log.error("%s failed: %r", describe(update), error, exc_info=error)
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is None or error is None:
        return
    st, reaction = state(context), delivery.reaction_to(error)
    if reaction is delivery.Reaction.DEACTIVATE and isinstance(error, TelegramError):
        await delivery.deactivate(st.service, chat.id, error)
    elif reaction is delivery.Reaction.MIGRATE and isinstance(error, ChatMigrated):
        await delivery.migrate(st.service, chat.id, error.new_chat_id)
    elif reaction is delivery.Reaction.REPORT:
        told = await delivery.notify(context.bot, st.service, chat.id, texts.SOMETHING_WRONG)
        if told.reason:
            log.warning("could not tell chat %s about the failure: %s", chat.id, told.reason)
