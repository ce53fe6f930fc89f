"""What the handlers share: the bot's state and the two answers most commands end in."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from telegram import Bot
from telegram.ext import ContextTypes

from bot import callbacks, delivery, render, texts
from knowledge.errors import QueryError
from knowledge.models import Topic
from knowledge.service import BriefService
from knowledge.settings import Settings

STATE_KEY = "brief"
# Questions answered at once. The model encodes the questions waiting for it in one batch, so
# the more that wait together the cheaper each one is: with asyncio's default executor (6
# threads on 2 cores) a burst of 100 chats was encoded 5 at a time (bench/bench_bot.py).
ANSWER_THREADS = 32

T = TypeVar("T")


def _answer_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(ANSWER_THREADS, thread_name_prefix="answer")


@dataclass
class BotState:
    """Everything handlers need, built once in build_application and kept in bot_data."""

    settings: Settings
    service: BriefService
    queries: callbacks.QueryStore = field(default_factory=callbacks.QueryStore)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    _topics: tuple[Topic, ...] | None = None
    answer_threads: ThreadPoolExecutor = field(default_factory=_answer_threads)

    async def answer(self, work: Callable[..., T], *args: object) -> T:
        """Run a question's work (`service.ask`, `service.latest`) off the event loop, in the
        threads kept for answers."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.answer_threads, functools.partial(work, *args))

    def topics(self) -> tuple[Topic, ...]:
        """The settings' topics (read once)."""
        if self._topics is None:
            self._topics = self.service.topics()
        return self._topics


def state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    """The BotState of the application this handler runs in."""
    value = context.bot_data[STATE_KEY]
    assert isinstance(value, BotState)
    return value


async def reply_brief(
    bot: Bot, st: BotState, chat_id: int, query: str, offset: int = 0, title: str | None = None
) -> None:
    """Answer `query` in `chat_id` with a page of its brief, or say why not. Polling waits
    while an answer is in progress (ingestion takes the idle time)."""
    with st.service.answers.answering():
        await _reply_brief(bot, st, chat_id, query, offset, title)


async def _reply_brief(
    bot: Bot, st: BotState, chat_id: int, query: str, offset: int, title: str | None
) -> None:
    try:
        async with delivery.typing_while_slow(bot, chat_id):
            brief = await st.answer(st.service.ask, query, st.settings.brief_size, offset, chat_id)
    except QueryError as exc:
        text = texts.QUERY_PROBLEM.format(reason=render.escape(str(exc)))
        await delivery.send(bot, st.service, chat_id, [text])
        return
    if not brief.hits:
        if offset:
            await delivery.send(bot, st.service, chat_id, [texts.NO_MORE])
        elif brief.muted or brief.kind_hidden:
            text = render.render_all_hidden(brief.muted, brief.kind_hidden)
            await delivery.send(bot, st.service, chat_id, [text])
        else:
            topics = render.topic_keyboard(st.topics())
            await delivery.send(bot, st.service, chat_id, [texts.NOTHING_FOUND], topics)
        return
    parts = render.render_brief(brief, render.brief_heading(title or query))
    if not brief.has_more:
        await delivery.send(bot, st.service, chat_id, parts)
        return
    token = st.queries.put(query, title or query, chat_id)
    more = callbacks.MorePage(token, brief.offset + len(brief.hits))
    sent = await delivery.send(bot, st.service, chat_id, parts, render.more_keyboard(more))
    if sent:
        last = sent[-1]  # the keyboard went on the last part
        st.queries.bind(token, last.chat_id, last.message_id)


async def reply_latest(bot: Bot, st: BotState, chat_id: int, offset: int = 0) -> None:
    """The newest stories in `chat_id`, a page at a time."""
    async with delivery.typing_while_slow(bot, chat_id):
        brief = await st.answer(st.service.latest, st.settings.brief_size, offset, chat_id)
    if not brief.hits:
        text = texts.NO_MORE if offset else texts.NOTHING_LATEST
        if not offset and (brief.muted or brief.kind_hidden):
            text = render.render_all_hidden(brief.muted, brief.kind_hidden)
        await delivery.send(bot, st.service, chat_id, [text])
        return
    parts = render.render_brief(brief, texts.LATEST_HEADING)
    more = callbacks.LatestPage(brief.offset + len(brief.hits))
    keyboard = render.more_keyboard(more) if brief.has_more else None
    await delivery.send(bot, st.service, chat_id, parts, keyboard)
