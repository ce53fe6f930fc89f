"""Daily digests: /subscribe /unsubscribe /settings (with buttons) /follow /unfollow /digest,
the buttons under a digest, and the bot's membership changes. Thin: parse, call the service,
render, reply. In groups only the group's admins change the subscription."""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot import callbacks, delivery, render, texts
from bot.handlers.common import BotState, reply_brief, state
from bot.schedule import scheduler_of
from knowledge.errors import SubscriptionError
from knowledge.models import Subscription

log = logging.getLogger(__name__)

_ADMINS = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
_GONE = {ChatMemberStatus.BANNED, ChatMemberStatus.LEFT}


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None  # every handler here is registered for updates with a chat
    return chat.id


async def may_change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """True in a private chat, and in a group for its admins (asked of Telegram each time:
    admins change) or an anonymous admin posting as the group."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id
    if user is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("could not ask who %s is in %s: %s", user.id, chat.id, exc)
        return False
    return member.status in _ADMINS


async def _say(context: ContextTypes.DEFAULT_TYPE, update: Update, text: str) -> None:
    """A one-message answer in the chat (and forum topic) the command came from."""
    await delivery.send(
        context.bot,
        state(context).service,
        _chat_id(update),
        [text],
        thread_id=_thread(update.effective_message),
    )


async def _refuse_unless_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Say so and return True when this user may not change the chat's digest."""
    if await may_change(update, context):
        return False
    await _say(context, update, texts.ADMINS_ONLY)
    return True


def _thread(message: Message | None) -> int | None:
    """The forum topic a message was sent in, if any."""
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


def _split_when(args: list[str]) -> tuple[str | None, str | None, str | None]:
    """`/subscribe [HH:MM] [Area/City]` → (time, timezone, problem)."""
    at = zone = None
    for arg in args:
        if arg[:1].isdigit():
            if at is not None:
                return None, None, texts.SUBSCRIBE_USAGE
            at = arg
        else:
            if zone is not None:
                return None, None, texts.SUBSCRIBE_USAGE
            zone = arg
    return at, zone, None


async def cmd_subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/subscribe [HH:MM] [Area/City]: a daily digest here (defaults from the settings)."""
    if await _refuse_unless_admin(update, context):
        return
    st, chat_id = state(context), _chat_id(update)
    at, zone, problem = _split_when(list(context.args or ()))
    if problem:
        await _say(context, update, texts.SUBSCRIBE_PROBLEM.format(reason=render.escape(problem)))
        return
    thread = _thread(update.effective_message)
    try:
        sub = await asyncio.to_thread(st.service.subscribe, chat_id, thread, at, zone)
    except SubscriptionError as exc:
        reason = render.escape(str(exc))
        await _say(context, update, texts.SUBSCRIBE_PROBLEM.format(reason=reason))
        return
    scheduler = scheduler_of(context.application)
    scheduler.schedule(sub)
    text = render.render_subscribed(sub, scheduler.next_run(chat_id))
    await _say(context, update, text)


async def cmd_unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unsubscribe: no more digests here."""
    if await _refuse_unless_admin(update, context):
        return
    st, chat_id = state(context), _chat_id(update)
    removed = await asyncio.to_thread(st.service.unsubscribe, chat_id)
    scheduler_of(context.application).unschedule(chat_id)
    await _say(context, update, texts.UNSUBSCRIBED if removed else texts.NOT_SUBSCRIBED)


async def cmd_settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/settings: the subscription, with buttons to change it."""
    st, chat_id = state(context), _chat_id(update)
    sub = await asyncio.to_thread(st.service.subscription, chat_id)
    if sub is None:
        await _say(context, update, texts.NOT_SUBSCRIBED)
        return
    text, keyboard = _settings_view(context, sub, "main", st)
    await delivery.send(
        context.bot,
        st.service,
        chat_id,
        [text],
        keyboard,
        thread_id=_thread(update.effective_message),
    )


def _settings_view(
    context: ContextTypes.DEFAULT_TYPE, sub: Subscription, menu: str, st: BotState
) -> tuple[str, InlineKeyboardMarkup]:
    next_run = scheduler_of(context.application).next_run(sub.chat_id)
    text = render.render_settings(sub, next_run)
    if menu == "at":
        hint = texts.SETTINGS_PICK_TIME.format(timezone=render.escape(sub.timezone))
        return f"{text}\n\n{hint}", render.time_keyboard(sub)
    if menu == "tz":
        return f"{text}\n\n{texts.SETTINGS_PICK_TIMEZONE}", render.timezone_keyboard(sub)
    if menu == "tp":
        return f"{text}\n\n{texts.SETTINGS_PICK_TOPICS}", render.topics_keyboard(sub, st.topics())
    return text, render.settings_keyboard(sub)


async def on_setting(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A /settings button: answered first, then the change, then the message shows it."""
    cq, st, chat_id = update.callback_query, state(context), _chat_id(update)
    assert cq is not None
    change = callbacks.parse(cq.data)
    assert isinstance(change, callbacks.SettingChange)  # the handler's pattern guarantees it
    allowed = await may_change(update, context)
    current = await asyncio.to_thread(st.service.subscription, chat_id) if allowed else None
    if not allowed or current is None:
        # no subscription here (a forged button on another message): nothing changes
        await cq.answer(texts.ADMINS_ONLY if not allowed else texts.SETTINGS_NONE, show_alert=True)
        return
    await cq.answer()
    if cq.message is None:
        return
    try:
        sub, menu = await _apply(st, chat_id, change)
    except SubscriptionError as exc:
        await _say(context, update, texts.TOPIC_PROBLEM.format(reason=render.escape(str(exc))))
        return
    scheduler = scheduler_of(context.application)
    if sub is None:
        scheduler.unschedule(chat_id)
        await _edit(context, chat_id, cq.message.message_id, texts.UNSUBSCRIBED, None)
        return
    if change.key in ("at", "tz"):
        scheduler.schedule(sub)
    text, keyboard = _settings_view(context, sub, menu, st)
    await _edit(context, chat_id, cq.message.message_id, text, keyboard)


async def _apply(
    st: BotState, chat_id: int, change: callbacks.SettingChange
) -> tuple[Subscription | None, str]:
    """Make the change; the subscription after it (None: gone) and the menu to show."""
    service, key, value = st.service, change.key, change.value
    current = await asyncio.to_thread(service.subscription, chat_id)
    if current is None:
        return None, "main"
    if key == "menu":
        return current, value
    if key == "off":
        await asyncio.to_thread(service.unsubscribe, chat_id)
        return None, "main"
    if key == "at":
        at = f"{value[:2]}:{value[2:]}"
        return await asyncio.to_thread(service.update_subscription, chat_id, at=at), "main"
    if key == "tz":
        zones = callbacks.REGION_TIMEZONES
        zone = zones[int(value)] if int(value) < len(zones) else current.timezone
        sub = await asyncio.to_thread(service.update_subscription, chat_id, timezone=zone)
        return sub, "main"
    if key == "tp":
        topics = st.topics()
        if int(value) >= len(topics):
            return current, "tp"
        label = topics[int(value)].label
        followed = {t.casefold() for t in current.topics}
        act = service.unfollow if label.casefold() in followed else service.follow
        return await asyncio.to_thread(act, chat_id, label), "tp"
    flag = value == "1"
    if key == "si":
        sub = await asyncio.to_thread(service.update_subscription, chat_id, silent=flag)
    else:
        sub = await asyncio.to_thread(service.update_subscription, chat_id, notify_empty=flag)
    return sub, "main"


async def _edit(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    message_id: int,
    text: str,
    keyboard: InlineKeyboardMarkup | None,
) -> None:
    try:
        await context.bot.edit_message_text(
            text, chat_id, message_id, parse_mode=ParseMode.HTML, reply_markup=keyboard
        )
    except BadRequest as exc:
        if delivery.reaction_to(exc) is not delivery.Reaction.IGNORE:
            raise


async def cmd_follow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/follow TOPIC: the digest keeps stories on TOPIC; its latest stories at once."""
    st, chat_id, topic = state(context), _chat_id(update), " ".join(context.args or ()).strip()
    if not topic:
        await _say(context, update, texts.FOLLOW_USAGE)
        return
    if await _refuse_unless_admin(update, context):
        return
    try:
        sub = await asyncio.to_thread(st.service.follow, chat_id, topic)
    except SubscriptionError as exc:
        await _say(context, update, texts.TOPIC_PROBLEM.format(reason=render.escape(str(exc))))
        return
    scheduler = scheduler_of(context.application)
    if scheduler.job(chat_id) is None:  # following subscribes a chat that was not
        scheduler.schedule(sub)
    followed = next((t for t in sub.topics if t.casefold() == topic.casefold()), topic)
    await _say(context, update, texts.FOLLOWING.format(topic=render.escape(followed)))
    await reply_brief(context.bot, st, chat_id, _query_for(st, followed), title=followed)


def _query_for(st: BotState, topic: str) -> str:
    """The search behind a topic: a settings topic's query, else the topic itself."""
    for known in st.topics():
        if known.label.casefold() == topic.casefold():
            return known.query
    return topic


async def cmd_unfollow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unfollow TOPIC: stop following it."""
    st, chat_id, topic = state(context), _chat_id(update), " ".join(context.args or ()).strip()
    if not topic:
        sub = await asyncio.to_thread(st.service.subscription, chat_id)
        followed = render.followed_text(sub.topics if sub else ())
        await _say(context, update, texts.UNFOLLOW_USAGE.format(topics=render.escape(followed)))
        return
    if await _refuse_unless_admin(update, context):
        return
    try:
        sub = await asyncio.to_thread(st.service.unfollow, chat_id, topic)
    except SubscriptionError as exc:
        await _say(context, update, texts.TOPIC_PROBLEM.format(reason=render.escape(str(exc))))
        return
    followed = render.escape(render.followed_text(sub.topics))
    await _say(
        context, update, texts.UNFOLLOWED.format(topic=render.escape(topic), topics=followed)
    )


async def cmd_digest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/digest: the digest now (it does not replace the day's scheduled one)."""
    chat_id = _chat_id(update)
    async with delivery.typing_while_slow(context.bot, chat_id):
        await scheduler_of(context.application).send_now(
            chat_id, thread_id=_thread(update.effective_message)
        )


async def on_digest_section(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A section's button under a digest: that topic's stories (works after a restart)."""
    cq, st = update.callback_query, state(context)
    assert cq is not None
    pick, topics = callbacks.parse(cq.data), st.topics()
    if isinstance(pick, callbacks.TopicQuery):
        await cq.answer()
        await reply_brief(context.bot, st, _chat_id(update), pick.text)
        return
    if not isinstance(pick, callbacks.DigestSection) or pick.index >= len(topics):
        await cq.answer(texts.EXPIRED)
        return
    await cq.answer()
    topic = topics[pick.index]
    await reply_brief(
        context.bot, st, _chat_id(update), topic.query, pick.offset, title=topic.label
    )


async def on_bot_membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot was removed or blocked: end the chat's digest (chat.on_my_chat_member keeps
    the chats table right)."""
    change, st = update.my_chat_member, state(context)
    assert change is not None
    if change.new_chat_member.status not in _GONE:
        return
    chat_id = change.chat.id
    await asyncio.to_thread(st.service.end_subscription, chat_id, change.new_chat_member.status)
    scheduler_of(context.application).unschedule(chat_id)


async def on_migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group became a supergroup: its chat and subscription move to the new id."""
    message, st = update.effective_message, state(context)
    if message is None or message.migrate_to_chat_id is None:
        return
    old, new = message.chat.id, message.migrate_to_chat_id
    await asyncio.to_thread(st.service.move_chat, old, new)
    scheduler = scheduler_of(context.application)
    scheduler.unschedule(old)
    sub = await asyncio.to_thread(st.service.subscription, new)
    if sub is not None:
        scheduler.schedule(sub)
