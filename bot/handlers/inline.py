"""Inline mode: `@botname QUERY` in any chat offers article cards to share."""

from __future__ import annotations

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot import delivery, render
from bot.handlers.common import state
from knowledge.errors import QueryError
from knowledge.models import Brief, Hit

PAGE = 20  # results per answer; Telegram allows 50
CACHE_SECONDS = 30
MAX_OFFSET = 200  # the last page starts here: scrolling ends after MAX_OFFSET + PAGE results


def _offset(text: str) -> int:
    return min(int(text), MAX_OFFSET) if text.isascii() and text.isdigit() else 0


def _card(hit: Hit) -> InlineQueryResultArticle:
    card = render.inline_card(hit)
    content = InputTextMessageContent(
        card.message, parse_mode=ParseMode.HTML, link_preview_options=delivery.NO_PREVIEW
    )
    return InlineQueryResultArticle(
        card.id, card.title, content, url=card.url, description=card.description
    )


async def on_inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Cards for the query (the newest stories when it is empty), 20 at a time."""
    iq, st = update.inline_query, state(context)
    assert iq is not None
    query, offset = iq.query.strip(), _offset(iq.offset)
    reader = iq.from_user.id  # the mutes of the user's private chat with the bot apply
    try:
        if query:
            brief = await st.answer(st.service.ask, query, PAGE, offset, reader)
        else:
            brief = await st.answer(st.service.latest, PAGE, offset, reader)
    except QueryError:
        brief = Brief(query=query, hits=())
    results = list({card.id: card for card in map(_card, brief.hits)}.values())
    following = offset + len(brief.hits)
    next_offset = str(following) if brief.has_more and following <= MAX_OFFSET else ""
    # personal: the results follow the user's mutes, so Telegram must not hand them (or
    # another user's) to anyone else sending the same query
    await iq.answer(results, cache_time=CACHE_SECONDS, is_personal=True, next_offset=next_offset)
