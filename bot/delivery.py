"""Sending to a chat, and what each Telegram error means for that chat.

Forbidden      the user blocked the bot or removed it   → deactivate the chat
ChatMigrated   the group became a supergroup            → move the chat, resend once
RetryAfter     flood control (bot/ratelimit.py already waited and retried) → give up quietly
BadRequest "message is not modified"                    → ignore
anything else                                           → report (global error handler)
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Sequence

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from knowledge.service import BriefService

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

# "typing…" only when the user would otherwise wait: most answers take tens of milliseconds,
# and every chat action is one more request (bot/ratelimit.py sends it at once, taking no
# chat's slot). Telegram shows it for 5 s.
TYPING_AFTER_S = 0.5
TYPING_EVERY_S = 4.5


class Reaction(enum.Enum):
    """What we do about a Telegram error."""

    DEACTIVATE = "deactivate"
    MIGRATE = "migrate"
    GIVE_UP = "give up"
    IGNORE = "ignore"
    REPORT = "report"


def reaction_to(error: BaseException) -> Reaction:
    """Classify `error` by what it means for the chat we were talking to."""
    if isinstance(error, Forbidden):
        return Reaction.DEACTIVATE
    if isinstance(error, ChatMigrated):
        return Reaction.MIGRATE
    if isinstance(error, RetryAfter):
        return Reaction.GIVE_UP
    if isinstance(error, BadRequest) and "not modified" in error.message.lower():
        return Reaction.IGNORE
    return Reaction.REPORT


async def deactivate(service: BriefService, chat_id: int, error: TelegramError) -> None:
    """Stop talking to a chat that blocked or removed the bot."""
    log.info("chat %s is gone (%s): deactivating", chat_id, error.message)
    await asyncio.to_thread(service.deactivate_chat, chat_id, error.message)


async def migrate(service: BriefService, chat_id: int, new_chat_id: int) -> None:
    """Move a group that became a supergroup to its new id."""
    log.info("chat %s migrated to %s", chat_id, new_chat_id)
    await asyncio.to_thread(service.migrate_chat, chat_id, new_chat_id)


async def send(
    bot: Bot,
    service: BriefService,
    chat_id: int,
    parts: Sequence[str],
    reply_markup: InlineKeyboardMarkup | None = None,
    *,
    _migrated: bool = False,
) -> list[Message]:
    """Send HTML `parts` in order (the keyboard goes on the last one). A chat that blocked the
    bot is deactivated and gets nothing; a migrated group is moved and sent to once more."""
    sent: list[Message] = []
    for i, text in enumerate(parts):
        markup = reply_markup if i == len(parts) - 1 else None
        try:
            message = await bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_markup=markup,
            )
        except Forbidden as exc:
            await deactivate(service, chat_id, exc)
            return sent
        except ChatMigrated as exc:
            if _migrated:
                raise
            await migrate(service, chat_id, exc.new_chat_id)
            rest = parts[i:]
            return sent + await send(
                bot, service, exc.new_chat_id, rest, reply_markup, _migrated=True
            )
        sent.append(message)
    return sent


async def typing(bot: Bot, chat_id: int) -> None:
    """Show "typing…" once; a failure here is not worth stopping for."""
    try:
        await bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError as exc:
        log.debug("chat action in %s failed: %s", chat_id, exc)


@contextlib.asynccontextmanager
async def typing_while_slow(
    bot: Bot, chat_id: int, after: float = TYPING_AFTER_S, every: float = TYPING_EVERY_S
) -> AsyncIterator[None]:
    """Around slow work before a reply: "typing…" once the work has taken `after` seconds,
    again every `every` seconds while it goes on; nothing at all when it is done sooner. On
    exit a chat action already under way is awaited (so it never lands after the reply);
    one not yet started never is."""
    done = asyncio.Event()

    async def indicate() -> None:
        delay = after
        while True:
            try:
                await asyncio.wait_for(done.wait(), delay)
                return
            except TimeoutError:
                await typing(bot, chat_id)
            delay = every

    task = asyncio.create_task(indicate())
    try:
        yield
    finally:
        done.set()
        await task


async def drop_keyboard(bot: Bot, chat_id: int, message_id: int) -> None:
    """Remove the buttons of a message whose More button was pressed, so it is pressed once."""
    try:
        await bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
    except TelegramError as exc:
        log.debug("could not drop the keyboard of %s/%s: %s", chat_id, message_id, exc)
