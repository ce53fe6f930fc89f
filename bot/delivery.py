"""Sending to Telegram: every message the bot sends (replies, digests, admin notices, the error
handler's one line) goes through `deliver`, and what each Telegram error means for the chat is
decided here, by what the message is (`Kind`):

                 REPLY (someone asked)     NOTICE (unasked: an admin,    DIGEST (the daily fan-out)
                                           the error handler's line)
lane             the chat's own limits     the chat's own limits         the broadcast lane
Forbidden        deactivate the chat       not sent (reason kept)        end the subscription,
                                                                         deactivate the chat
ChatMigrated     move the chat, resend     not sent                      move the chat (and its
                 at the new id once                                      subscription), resend
RetryAfter       waited out by bot/ratelimit.py (MAX_RETRIES; a digest DIGEST_RETRIES more), then
                 raised                    not sent                      FAILED
TimedOut         raised                    not sent                      UNCERTAIN (the request
                                                                         may have arrived): never
                                                                         sent again; FAILED when
                                                                         it surely never left
anything else    raised (the global        not sent                      FAILED
                 error handler reports)
BadRequest "message is not modified" (edits) → ignore

The limits themselves (per chat, per group, the broadcast lane, RetryAfter) live in one place:
bot/ratelimit.py, the Application's rate limiter; `deliver` only names the lane and the retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
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

# A digest's RetryAfter is waited out this many times more than a reply's (the limiter's
# MAX_RETRIES) before that chat's digest counts as failed: nobody is waiting for it.
DIGEST_RETRIES = 3


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
    """Move a group that became a supergroup (its chat, subscription and claims) to its new
    id."""
    log.info("chat %s migrated to %s", chat_id, new_chat_id)
    await asyncio.to_thread(service.migrate_chat, chat_id, new_chat_id)


class Kind(enum.Enum):
    """What a message is: it decides the lane and what a failure means (module docstring)."""

    REPLY = "reply"
    NOTICE = "notice"
    DIGEST = "digest"


class Outcome(enum.Enum):
    """How one delivery (a digest: one chat's digest) ended."""

    SENT = "sent"  # delivered (every part, or at least the first when a later one failed)
    FAILED = "failed"  # definitely not delivered: a retry or catch-up may send it
    UNCERTAIN = "uncertain"  # the request may have arrived: never sent again
    GONE = "gone"  # the chat blocked or removed the bot (a digest: its subscription ended)
    SKIPPED = "skipped"  # nothing to send, or already sent today


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome, the chat it ended in (a migrated group's new id), the messages sent, and
    why it stopped short (empty when every part went)."""

    outcome: Outcome
    chat_id: int
    messages: tuple[Message, ...] = ()
    reason: str = ""


def never_left(error: NetworkError) -> bool:
    """True when the request surely never reached Telegram (no connection, no pool slot):
    sending again cannot duplicate it. A read timeout is not that: the message may be there."""
    cause = error.__cause__
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


async def deliver(
    bot: Bot,
    service: BriefService,
    chat_id: int,
    parts: Sequence[str],
    reply_markup: InlineKeyboardMarkup | None = None,
    *,
    kind: Kind = Kind.REPLY,
    thread_id: int | None = None,
    silent: bool = False,
    broadcast: bool | None = None,
    paid: bool = False,
    request_timeout: ODVInput[float] = DEFAULT_NONE,
) -> Delivery:
    """Send HTML `parts` to `chat_id` (and forum topic `thread_id`) in order, the keyboard on
    the last one; what a Telegram error means depends on `kind` (module docstring).

    `broadcast` puts the message in the broadcast lane (a digest's default), `paid` marks it
    for the paid lane; `request_timeout` bounds each request's read and write (PTB's default when
    not given)."""
    lane = ratelimit.BROADCAST_LANE if kind is Kind.DIGEST else ratelimit.REPLY_LANE
    if broadcast is not None:
        lane = ratelimit.BROADCAST_LANE if broadcast else ratelimit.REPLY_LANE
    extra: dict[str, Any] = {}
    options: dict[str, Any] = {}  # what the rate limiter needs to know; a reply: nothing
    if lane == ratelimit.BROADCAST_LANE:
        options["lane"] = lane
        if paid:
            extra["allow_paid_broadcast"] = True
    if kind is Kind.DIGEST:
        options["max_retries"] = ratelimit.MAX_RETRIES + DIGEST_RETRIES
    if options:
        extra["rate_limit_args"] = options
    if thread_id is not None:
        extra["message_thread_id"] = thread_id
    if silent:
        extra["disable_notification"] = True
    if request_timeout is not DEFAULT_NONE:
        extra["read_timeout"] = extra["write_timeout"] = request_timeout

    sent: list[Message] = []
    migrated = False

    def stopped(outcome: Outcome, reason: str) -> Delivery:
        # a digest whose first part went counts as sent: its claim must not be released
        if sent and outcome in (Outcome.FAILED, Outcome.GONE) and kind is Kind.DIGEST:
            outcome = Outcome.SENT
        return Delivery(outcome, chat_id, tuple(sent), reason)

    i = 0
    while i < len(parts):
        markup = reply_markup if i == len(parts) - 1 else None
        try:
            message = await bot.send_message(
                chat_id,
                parts[i],
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_markup=markup,
                **extra,
            )
        except Forbidden as exc:
            if kind is Kind.NOTICE:
                return stopped(Outcome.FAILED, exc.message)
            if kind is Kind.DIGEST:
                log.info("chat %s is gone (%s): ending its digest", chat_id, exc.message)
                await asyncio.to_thread(service.end_subscription, chat_id, exc.message)
            await deactivate(service, chat_id, exc)
            return stopped(Outcome.GONE, exc.message)
        except ChatMigrated as exc:
            if kind is Kind.NOTICE:
                return stopped(Outcome.FAILED, exc.message)
            if migrated:
                raise
            migrated = True
            await migrate(service, chat_id, exc.new_chat_id)
            chat_id = exc.new_chat_id
            continue  # the same part, at the new id
        except TelegramError as exc:
            if kind is Kind.REPLY:
                raise
            if kind is Kind.NOTICE:
                return stopped(Outcome.FAILED, exc.message)
            if isinstance(exc, RetryAfter):
                log.warning("digest to %s: still flood-limited, giving up", chat_id)
                return stopped(Outcome.FAILED, exc.message)
            if isinstance(exc, NetworkError):  # TimedOut is one
                if never_left(exc):
                    log.warning("digest to %s never left (%s)", chat_id, exc.message)
                    return stopped(Outcome.FAILED, exc.message)
                log.warning("digest to %s: outcome unknown (%s): not resending", chat_id, exc)
                return Delivery(Outcome.UNCERTAIN, chat_id, tuple(sent), exc.message)
            log.warning("digest to %s failed: %s", chat_id, exc.message)
            return stopped(Outcome.FAILED, exc.message)
        sent.append(message)
        i += 1
    return Delivery(Outcome.SENT, chat_id, tuple(sent))


async def send(
    bot: Bot,
    service: BriefService,
    chat_id: int,
    parts: Sequence[str],
    reply_markup: InlineKeyboardMarkup | None = None,
    *,
    thread_id: int | None = None,
) -> list[Message]:
    """A reply: HTML `parts` in order (the keyboard goes on the last one). A chat that blocked
    the bot is deactivated and gets nothing; a migrated group is moved and sent to once more;
    any other error is raised for the global error handler."""
    result = await deliver(bot, service, chat_id, parts, reply_markup, thread_id=thread_id)
    return list(result.messages)


async def notify(bot: Bot, service: BriefService, chat_id: int, text: str) -> Delivery:
    """A notice nobody asked for (an admin's, the error handler's one line): sent if it can
    be; a failure is returned (`reason`), never raised."""
    return await deliver(bot, service, chat_id, [text], kind=Kind.NOTICE)


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
) -> Delivery:
    """A digest's `parts` to `sub`'s chat (and forum topic), in the broadcast lane unless
    `broadcast` is false (/digest, asked for in the chat). Only a failure of the first part
    can be FAILED; see the module docstring for the rest."""
    return await deliver(
        bot,
        service,
        sub.chat_id,
        parts,
        reply_markup,
        kind=Kind.DIGEST,
        thread_id=sub.thread_id,
        silent=sub.silent,
        broadcast=broadcast,
        paid=paid,
        request_timeout=send_timeout,
    )
