"""What readers choose: /mute /unmute /mutes (buttons to remove), /hide /show (kinds of outlet)
and their buttons. Thin: parse, call the service, render, reply. In groups only the group's
admins change them (as with the digest)."""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot import callbacks, delivery, render, texts
from bot.handlers.common import state
from bot.handlers.digests import may_change
from knowledge.errors import FilterError
from knowledge.provenance import KINDS, UNKNOWN

_KIND_LIST = ", ".join(k for k in KINDS if k != UNKNOWN)


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None  # every handler here is registered for updates with a chat
    return chat.id


async def _say(context: ContextTypes.DEFAULT_TYPE, update: Update, text: str) -> None:
    await delivery.send(context.bot, state(context).service, _chat_id(update), [text])


def _args(context: ContextTypes.DEFAULT_TYPE) -> str:
    return " ".join(context.args or ()).strip()


async def _refused(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Say so and return True when this user may not change the chat's filters."""
    if await may_change(update, context):
        return False
    await _say(context, update, texts.MUTES_GROUP)
    return True


async def _problem(update: Update, context: ContextTypes.DEFAULT_TYPE, exc: FilterError) -> None:
    await _say(context, update, texts.FILTER_PROBLEM.format(reason=render.escape(str(exc))))


async def cmd_mute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/mute WORD OR PHRASE: stories that mention it are left out in this chat."""
    st, chat_id, text = state(context), _chat_id(update), _args(context)
    if not text:
        await _say(context, update, texts.MUTE_USAGE)
        return
    if await _refused(update, context):
        return
    try:
        mute, added = await asyncio.to_thread(st.service.mute, chat_id, text)
    except FilterError as exc:
        await _problem(update, context, exc)
        return
    if not added:
        await _say(context, update, texts.ALREADY_MUTED.format(mute=render.escape(mute)))
        return
    count = len(await asyncio.to_thread(st.service.mutes, chat_id))
    limit = st.settings.mute_max_count
    reply = texts.MUTED.format(mute=render.escape(mute), count=count, limit=limit)
    await _say(context, update, reply)


async def cmd_unmute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unmute WORD OR PHRASE: stop muting it."""
    st, chat_id, text = state(context), _chat_id(update), _args(context)
    if not text:
        mutes = await asyncio.to_thread(st.service.mutes, chat_id)
        shown = ", ".join(f"“{render.escape(m)}”" for m in mutes) or texts.NOTHING_HIDDEN
        await _say(context, update, texts.UNMUTE_USAGE.format(mutes=shown))
        return
    if await _refused(update, context):
        return
    try:
        removed = await asyncio.to_thread(st.service.unmute, chat_id, text)
    except FilterError as exc:
        await _problem(update, context, exc)
        return
    await _say(context, update, texts.UNMUTED.format(mute=render.escape(removed)))


async def _mutes_view(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    st = state(context)
    mutes = await asyncio.to_thread(st.service.mutes, chat_id)
    kinds = await asyncio.to_thread(st.service.hidden_kinds, chat_id)
    text = render.render_mutes(mutes, kinds, st.settings.mute_max_count)
    return text, render.mutes_keyboard(mutes, kinds)


async def cmd_mutes(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/mutes: the chat's mutes and hidden kinds, a button to remove each."""
    chat_id = _chat_id(update)
    text, keyboard = await _mutes_view(context, chat_id)
    await delivery.send(context.bot, state(context).service, chat_id, [text], keyboard)


async def cmd_hide(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/hide KIND: stories from that kind of outlet are left out; without a kind, buttons."""
    st, chat_id, text = state(context), _chat_id(update), _args(context)
    if not text:
        hidden = await asyncio.to_thread(st.service.hidden_kinds, chat_id)
        usage = texts.HIDE_USAGE.format(kinds=render.escape(_KIND_LIST))
        keyboard = render.kinds_keyboard(hidden)
        await delivery.send(context.bot, st.service, chat_id, [usage], keyboard)
        return
    if await _refused(update, context):
        return
    try:
        kind, changed = await asyncio.to_thread(st.service.hide_kind, chat_id, text)
    except FilterError as exc:
        await _problem(update, context, exc)
        return
    reply = texts.HIDDEN_KIND if changed else texts.ALREADY_HIDDEN
    await _say(context, update, reply.format(kind=render.escape(kind)))


async def cmd_show(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/show KIND: stories from that kind of outlet are shown again."""
    st, chat_id, text = state(context), _chat_id(update), _args(context)
    if not text:
        hidden = await asyncio.to_thread(st.service.hidden_kinds, chat_id)
        shown = render.escape(", ".join(hidden) or texts.NOTHING_HIDDEN)
        await _say(context, update, texts.SHOW_USAGE.format(kinds=shown))
        return
    if await _refused(update, context):
        return
    try:
        kind, changed = await asyncio.to_thread(st.service.hide_kind, chat_id, text, False)
    except FilterError as exc:
        await _problem(update, context, exc)
        return
    reply = texts.SHOWN_KIND if changed else texts.NOT_HIDDEN
    await _say(context, update, reply.format(kind=render.escape(kind)))


async def on_filter_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A /mutes or /hide button: answered first, then the change, then the message shows it."""
    cq, st, chat_id = update.callback_query, state(context), _chat_id(update)
    assert cq is not None
    pressed = callbacks.parse(cq.data)
    allowed = await may_change(update, context)
    if not allowed:
        await cq.answer(texts.MUTES_GROUP, show_alert=True)
        return
    await cq.answer()
    if isinstance(pressed, callbacks.Unmute):
        mutes = await asyncio.to_thread(st.service.mutes, chat_id)
        for mute in mutes:
            if callbacks.mute_token(mute) == pressed.token:
                await asyncio.to_thread(st.service.unmute, chat_id, mute)
                break
        text, keyboard = await _mutes_view(context, chat_id)
    elif isinstance(pressed, callbacks.KindToggle) and pressed.index < len(KINDS):
        kind = KINDS[pressed.index]
        await asyncio.to_thread(st.service.hide_kind, chat_id, kind, pressed.hide)
        if _is_hide_menu(cq.message):
            hidden = await asyncio.to_thread(st.service.hidden_kinds, chat_id)
            text = texts.HIDE_USAGE.format(kinds=render.escape(_KIND_LIST))
            keyboard = render.kinds_keyboard(hidden)
        else:
            text, keyboard = await _mutes_view(context, chat_id)
    else:
        return
    if cq.message is None:
        return
    try:
        await context.bot.edit_message_text(
            text, chat_id, cq.message.message_id, parse_mode=ParseMode.HTML, reply_markup=keyboard
        )
    except BadRequest as exc:
        if delivery.reaction_to(exc) is not delivery.Reaction.IGNORE:
            raise


def _is_hide_menu(message: object) -> bool:
    """True when the pressed button sits under /hide's menu (not under /mutes)."""
    text = getattr(message, "text", None) or ""
    return text.startswith(texts.HIDE_USAGE.split("{", 1)[0].strip())
