"""Sending to a chat, and what each Telegram error means for that chat.

Forbidden      the user blocked the bot or removed it   → deactivate the chat
ChatMigrated   the group became a supergroup            → move the chat, resend once
RetryAfter     flood control (bot/ratelimit.py already waited and retried) → give up quietly
               (a digest waits it out DIGEST_RETRIES more times)
TimedOut       a digest whose request may have arrived → uncertain, never sent again
BadRequest "message is not modified"                    → ignore
anything else                                           → report (global error handler)
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

import httpx
from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot import ratelimit
from knowledge.models import Subscription
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


# --- digests: the fan-out ---------------------------------------------------------------------

# Under a broadcast, a RetryAfter for one chat is waited out this many times more (after the
# rate limiter's own retries) before that chat's digest counts as failed.
DIGEST_RETRIES = 3


class Outcome(enum.Enum):
    """How one chat's digest ended."""

    SENT = "sent"  # delivered (every part, or at least the first when a later one failed)
    FAILED = "failed"  # definitely not delivered: a retry or catch-up may send it
    UNCERTAIN = "uncertain"  # the request may have arrived: never sent again
    GONE = "gone"  # the chat blocked or removed the bot: its subscription is ended
    SKIPPED = "skipped"  # nothing to send, or already sent today


@dataclass(frozen=True, slots=True)
class DigestResult:
    """The outcome, and the chat it ended in (a migrated group's new id)."""

    outcome: Outcome
    chat_id: int


def never_left(error: NetworkError) -> bool:
    """True when the request surely never reached Telegram (no connection, no pool slot):
    sending again cannot duplicate it. A read timeout is not that: the message may be there."""
    cause = error.__cause__
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _seconds(retry_after: float | timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else retry_after


async def send_digest(
    bot: Bot,
    service: BriefService,
    sub: Subscription,
    parts: Sequence[str],
    reply_markup: InlineKeyboardMarkup | None = None,
    *,
    paid: bool = False,
    send_timeout: float | None = None,
    broadcast: bool = True,
) -> DigestResult:
    """Send a digest's `parts` to `sub`'s chat (and forum topic) in the broadcast lane.

    RetryAfter is waited out; ChatMigrated moves the chat and its subscription and sends at the
    new id; Forbidden ends the subscription; a send that timed out after the request left is
    UNCERTAIN and is never repeated. Only a failure of the first part can be FAILED."""
    chat_id = sub.chat_id
    lane = ratelimit.broadcast_kwargs(paid) if broadcast else {}
    for i, text in enumerate(parts):
        markup = reply_markup if i == len(parts) - 1 else None
        retries, migrated = 0, False
        while True:
            try:
                await bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW,
                    reply_markup=markup,
                    message_thread_id=sub.thread_id,
                    disable_notification=sub.silent,
                    read_timeout=send_timeout,
                    write_timeout=send_timeout,
                    **lane,
                )
                break
            except RetryAfter as exc:
                if retries >= DIGEST_RETRIES:
                    log.warning("digest to %s: still flood-limited, giving up", chat_id)
                    return DigestResult(Outcome.FAILED if i == 0 else Outcome.SENT, chat_id)
                retries += 1
                await asyncio.sleep(_seconds(exc.retry_after))
            except ChatMigrated as exc:
                if migrated:
                    raise
                migrated = True
                log.info("chat %s migrated to %s: moving its digest", chat_id, exc.new_chat_id)
                await asyncio.to_thread(service.move_chat, chat_id, exc.new_chat_id)
                chat_id = exc.new_chat_id
            except Forbidden as exc:
                log.info("chat %s is gone (%s): ending its digest", chat_id, exc.message)
                await asyncio.to_thread(service.end_subscription, chat_id, exc.message)
                await asyncio.to_thread(service.deactivate_chat, chat_id, exc.message)
                return DigestResult(Outcome.GONE if i == 0 else Outcome.SENT, chat_id)
            except NetworkError as exc:  # TimedOut is one
                if never_left(exc):
                    log.warning("digest to %s never left (%s)", chat_id, exc.message)
                    return DigestResult(Outcome.FAILED if i == 0 else Outcome.SENT, chat_id)
                log.warning("digest to %s: outcome unknown (%s): not resending", chat_id, exc)
                return DigestResult(Outcome.UNCERTAIN, chat_id)
            except TelegramError as exc:
                log.warning("digest to %s failed: %s", chat_id, exc.message)
                return DigestResult(Outcome.FAILED if i == 0 else Outcome.SENT, chat_id)
    return DigestResult(Outcome.SENT, chat_id)
