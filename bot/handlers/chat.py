"""Commands, messages and buttons of the conversation: thin handlers over the service."""

from __future__ import annotations

import asyncio
import logging
import re

from telegram import Message, Update
from telegram.constants import ChatMemberStatus, MessageEntityType
from telegram.ext import ContextTypes, filters

from bot import callbacks, delivery, render, texts
from bot.handlers.common import reply_brief, reply_latest, state
from knowledge.errors import BriefError

log = logging.getLogger(__name__)

_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_GONE = {ChatMemberStatus.BANNED, ChatMemberStatus.LEFT}


class MentionsMe(filters.MessageFilter):
    """Messages that @-mention this bot (its username is known once the bot is initialised)."""

    def filter(self, message: Message) -> bool:
        """True when one of the message's mentions is this bot."""
        me = f"@{message.get_bot().username}".lower()
        mentions = message.parse_entities([MessageEntityType.MENTION]).values()
        return any(text.lower() == me for text in mentions)


def payload_query(payload: str) -> str | None:
    """The topic a /start deep-link payload asks for ("Scarborough_Shoal" → "Scarborough
    Shoal"), or None when it is not a valid payload."""
    if not _PAYLOAD.match(payload):
        return None
    return " ".join(payload.replace("_", " ").replace("-", " ").split()) or None


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None  # every handler here is registered for updates with a chat
    return chat.id


async def on_any_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remember every chat the bot hears from; hearing from it again re-activates it."""
    st, chat = state(context), update.effective_chat
    if chat is None:
        return
    title = chat.title or chat.username or chat.full_name or ""
    try:
        await asyncio.to_thread(st.service.record_chat, chat.id, chat.type, title)
    except BriefError as exc:  # bookkeeping only: the user still gets an answer
        log.warning("could not record chat %s: %s", chat.id, exc)


async def cmd_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Welcome with example topics; a deep-link payload is answered at once."""
    st = state(context)
    query = payload_query(context.args[0]) if context.args else None
    if query:
        await reply_brief(context.bot, st, _chat_id(update), query)
        return
    keyboard = render.topic_keyboard(st.topics(), limit=3)
    await delivery.send(context.bot, st.service, _chat_id(update), [texts.WELCOME], keyboard)


async def cmd_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every command, with what it does."""
    text = render.render_help(context.bot.username)
    await delivery.send(context.bot, state(context).service, _chat_id(update), [text])


async def cmd_brief(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/brief TOPIC: a brief; with no topic, ask for one."""
    st, query = state(context), " ".join(context.args or ())
    if not query.strip():
        keyboard = render.topic_keyboard(st.topics())
        await delivery.send(context.bot, st.service, _chat_id(update), [texts.ASK_TOPIC], keyboard)
        return
    await reply_brief(context.bot, st, _chat_id(update), query)


async def cmd_latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The newest stories."""
    await reply_latest(context.bot, state(context), _chat_id(update))


async def cmd_topics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The region's topics as buttons."""
    st = state(context)
    keyboard = render.topic_keyboard(st.topics())
    await delivery.send(context.bot, st.service, _chat_id(update), [texts.TOPICS_HEADER], keyboard)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Free text in a private chat is a query."""
    assert update.effective_message is not None
    query = update.effective_message.text or ""
    await reply_brief(context.bot, state(context), _chat_id(update), query)


async def on_mention(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`@botname TOPIC` in a group: the text without the mention is the query."""
    assert update.effective_message is not None
    me = re.escape(f"@{context.bot.username}")
    query = re.sub(me, " ", update.effective_message.text or "", flags=re.IGNORECASE).strip()
    if not query:
        await cmd_brief(update, context)
        return
    await reply_brief(context.bot, state(context), _chat_id(update), query)


async def on_more(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """More ▸ under a brief: the next page as a new message; the pressed button goes away."""
    cq, st = update.callback_query, state(context)
    assert cq is not None
    page, message_id = callbacks.parse(cq.data), cq.message.message_id if cq.message else None
    stored = (
        st.queries.get(page.token, _chat_id(update), message_id)
        if isinstance(page, callbacks.MorePage)
        else None
    )
    if not isinstance(page, callbacks.MorePage) or stored is None:
        await cq.answer(texts.EXPIRED)
        return
    await cq.answer()
    if cq.message is not None:
        await delivery.drop_keyboard(context.bot, _chat_id(update), cq.message.message_id)
    await reply_brief(
        context.bot, st, _chat_id(update), stored.query, page.offset, title=stored.title
    )


async def on_latest_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """More ▸ under /latest."""
    cq = update.callback_query
    assert cq is not None
    page = callbacks.parse(cq.data)
    assert isinstance(page, callbacks.LatestPage)  # the handler's pattern guarantees it
    await cq.answer()
    if cq.message is not None:
        await delivery.drop_keyboard(context.bot, _chat_id(update), cq.message.message_id)
    await reply_latest(context.bot, state(context), _chat_id(update), offset=page.offset)


async def on_topic(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A topic button: a brief on that topic, as a new message."""
    cq, st = update.callback_query, state(context)
    assert cq is not None
    pick, topics = callbacks.parse(cq.data), st.topics()
    if not isinstance(pick, callbacks.TopicPick) or pick.index >= len(topics):
        await cq.answer(texts.EXPIRED)
        return
    await cq.answer()
    topic = topics[pick.index]
    await reply_brief(context.bot, st, _chat_id(update), topic.query, title=topic.label)


async def on_unknown_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button we no longer understand (an old version, or tampered data)."""
    assert update.callback_query is not None
    await update.callback_query.answer(texts.EXPIRED)


async def on_my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Removed or blocked: deactivate the chat. Added: remember it."""
    change, st = update.my_chat_member, state(context)
    assert change is not None
    chat, status = change.chat, change.new_chat_member.status
    if status in _GONE:
        await asyncio.to_thread(st.service.deactivate_chat, chat.id, status)
        return
    title = chat.title or chat.username or chat.full_name or ""
    await asyncio.to_thread(st.service.record_chat, chat.id, chat.type, title)
