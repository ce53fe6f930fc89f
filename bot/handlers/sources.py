"""Sources: the admin commands and the polling job. Who is an admin is decided at registration
(filters.User); everyone else reaches cmd_sources_refused."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from telegram import Bot, Update
from telegram.ext import ContextTypes

from bot import delivery, render, texts
from bot.handlers.common import BotState, state
from knowledge.errors import BriefError, FilterError, IngestWorkerError, SourceError
from knowledge.ids import parse_id
from knowledge.models import PollReport
from knowledge.provenance import KINDS
from knowledge.service import BriefService

log = logging.getLogger(__name__)

POLL_JOB = "poll:sources"
POLL_START_JOB = "poll:sources:start"
POLL_TICK_SECONDS = 60.0  # how often the job looks for due sources (each has its own interval)


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


async def _say(context: ContextTypes.DEFAULT_TYPE, chat_id: int, parts: list[str]) -> None:
    await delivery.send(context.bot, state(context).service, chat_id, parts)


def _source_id(args: list[str] | None) -> int | None:
    """The one id argument (`#3` or `3`, ASCII digits in range), or None."""
    if not args or len(args) != 1:
        return None
    return parse_id(args[0])


async def cmd_addsource(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/addsource URL [name]: fetch once, say what it is and how many items, store it."""
    st, chat_id = state(context), _chat_id(update)
    if not context.args:
        await _say(context, chat_id, [texts.ADDSOURCE_USAGE])
        return
    url, name = context.args[0], " ".join(context.args[1:]) or None
    user = update.effective_user
    try:
        async with delivery.typing_while_slow(context.bot, chat_id):
            added = await asyncio.to_thread(
                st.service.add_source, url, name, user.id if user else None
            )
    except SourceError as exc:
        await _say(context, chat_id, [texts.SOURCE_REFUSED.format(reason=render.escape(str(exc)))])
        return
    await _say(context, chat_id, [render.render_added(added)])


async def cmd_sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/sources: each source with its health."""
    sources = await asyncio.to_thread(state(context).service.list_sources)
    await _say(context, _chat_id(update), render.render_sources(sources))


async def cmd_removesource(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/removesource ID: stop polling it; its articles stay."""
    st, chat_id = state(context), _chat_id(update)
    source_id = _source_id(context.args)
    if source_id is None:
        await _say(context, chat_id, [texts.REMOVESOURCE_USAGE])
        return
    try:
        source = await asyncio.to_thread(st.service.remove_source, source_id)
    except SourceError:
        await _say(context, chat_id, [texts.SOURCE_MISSING.format(id=source_id)])
        return
    articles = render.plural(source.articles, "article")
    text = texts.SOURCE_REMOVED.format(
        id=source.id, title=render.escape(source.name), articles=articles
    )
    await _say(context, chat_id, [text])


async def cmd_ingest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ingest [ID]: poll every source now, or one (a paused one too)."""
    st, chat_id = state(context), _chat_id(update)
    source_id = _source_id(context.args)
    if context.args and source_id is None:
        await _say(context, chat_id, [texts.INGEST_USAGE])
        return
    try:
        async with delivery.typing_while_slow(context.bot, chat_id):
            report = await asyncio.to_thread(st.service.ingest_sources, source_id)
    except SourceError:
        await _say(context, chat_id, [texts.SOURCE_MISSING.format(id=source_id)])
        return
    except IngestWorkerError as exc:  # the worker died mid-poll; the next poll restarts it
        log.warning("/ingest: %s", exc)
        await _say(context, chat_id, [texts.INGEST_STOPPED.format(reason=render.escape(str(exc)))])
        return
    await _say(context, chat_id, [render.render_poll(report)])
    await notify_paused(context.bot, st)


async def cmd_sourcekind(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/sourcekind ID KIND: set a source's kind of outlet ("auto": the shipped table's)."""
    st, chat_id, args = state(context), _chat_id(update), list(context.args or ())
    source_id = _source_id(args[:1])
    kinds = ", ".join(KINDS)
    if source_id is None or len(args) < 2:
        await _say(context, chat_id, [texts.SOURCEKIND_USAGE.format(kinds=kinds)])
        return
    try:
        source = await asyncio.to_thread(st.service.set_source_kind, source_id, " ".join(args[1:]))
    except FilterError as exc:
        reason = render.escape(str(exc))
        await _say(context, chat_id, [texts.FILTER_PROBLEM.format(reason=reason)])
        return
    except SourceError:
        await _say(context, chat_id, [texts.SOURCE_MISSING.format(id=source_id)])
        return
    text = texts.SOURCEKIND_SET.format(
        id=source.id, title=render.escape(source.name), kind=render.escape(source.outlet_kind)
    )
    await _say(context, chat_id, [text])


async def cmd_sources_refused(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A source command from anyone but an admin: a polite no, and nothing changes."""
    message = update.effective_message
    text = message.text if message and message.text else "/sources"
    command = text.split(maxsplit=1)[0].lstrip("/").split("@", 1)[0]
    await _say(context, _chat_id(update), [texts.ADMIN_ONLY.format(command=command)])


async def job_poll_sources(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The scheduled poll: the sources that are due, then the admins told of new pauses."""
    st = state(context)
    try:
        report = await asyncio.to_thread(st.service.poll_due)
    except BriefError as exc:  # e.g. the ingest worker died: logged, and the next tick retries
        log.warning("poll: %s", exc)
        report = PollReport()
    if report.polls:
        log.info(
            "poll: %d sources, %d stored, %d duplicates, %d failed",
            len(report.polls),
            report.stored,
            report.duplicates,
            len(report.failed),
        )
    await notify_paused(context.bot, st)


async def poll_until(
    service: BriefService,
    stop: asyncio.Event,
    told: Callable[[PollReport], None] | None = None,
) -> None:
    """Without a JobQueue (`brief chat`): poll the due sources at once, then every tick, until
    `stop` is set; `told` hears of each round's report."""
    while not stop.is_set():
        try:
            report = await asyncio.to_thread(service.poll_due)
            if told is not None and report.polls:
                told(report)
        except BriefError as exc:
            log.error("poll: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_TICK_SECONDS)


async def notify_paused(bot: Bot, st: BotState) -> None:
    """Tell every admin, once, about each source paused since they were last told."""
    paused = await asyncio.to_thread(st.service.pause_notices)
    if not paused:
        return
    for source in paused:
        text = render.render_paused_notice(source)
        for admin_id in st.settings.admin_ids:
            told = await delivery.notify(bot, st.service, admin_id, text)
            if told.reason:  # e.g. an admin who never opened a chat with the bot
                log.info(
                    "cannot tell admin %s about source %d: %s", admin_id, source.id, told.reason
                )
    await asyncio.to_thread(st.service.mark_notified, [s.id for s in paused])
