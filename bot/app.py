"""Build the Telegram Application (handlers, start-up I/O) and run it: polling or webhook."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import secrets
import signal
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import callbacks, texts
from bot.handlers import admin, chat, digests, inline, readers, sources
from bot.handlers.common import STATE_KEY, BotState
from bot.handlers.errors import on_error
from bot.ratelimit import MAX_RETRIES, LaneRateLimiter
from bot.schedule import SCHEDULER_KEY, DigestScheduler, scheduler_of
from bot.web import WebServer, readiness_of
from knowledge import logs
from knowledge.build import build_service
from knowledge.service import BriefService
from knowledge.settings import Settings
from knowledge.store.backup import hold_store

log = logging.getLogger("bot")

SOURCE_COMMANDS = ("addsource", "sources", "removesource", "ingest", "sourcekind")
WEB_KEY = "web"  # bot_data: the running WebServer (health checks, the webhook)
RETRY_FIRST_S = 1.0  # Telegram unreachable at start: first retry after this, doubling...
RETRY_MAX_S = 60.0  # ...up to this, for ever


def file_url(api_url: str) -> str:
    """The file download URL for a Bot API URL: ".../bot" → ".../file/bot"."""
    base = api_url.rstrip("/")
    return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"


def rate_limiter(settings: Settings) -> LaneRateLimiter:
    """Telegram's flood limits as the settings say (bot/ratelimit.py): replies bound by their
    chat, broadcasts in their own lane at `broadcast_per_second` (or the paid rate when
    `allow_paid_broadcast`); `rate_limits=false` lifts every limit (a local Bot API server).
    RetryAfter is honoured MAX_RETRIES times either way."""
    return LaneRateLimiter(
        limits=settings.rate_limits,
        broadcast_per_second=settings.broadcast_per_second,
        paid_broadcast=settings.allow_paid_broadcast,
        max_retries=MAX_RETRIES,
    )


def rate_limit_text(settings: Settings) -> str:
    """The effective limits, for the ready line."""
    return rate_limiter(settings).describe()


def menu(admin: bool = False) -> list[BotCommand]:
    """The command menu: everyone's commands, plus the admin ones for admins."""
    rows = texts.COMMANDS + (texts.ADMIN_COMMANDS if admin else ())
    return [BotCommand(name, about) for name, about in rows]


async def _post_init(application: Application) -> None:  # type: ignore[type-arg]
    """Start-up I/O: the command menus, then one ready line."""
    st: BotState = application.bot_data[STATE_KEY]
    bot = application.bot
    await bot.set_my_commands(menu(), scope=BotCommandScopeDefault())
    for admin_id in st.settings.admin_ids:
        try:
            await bot.set_my_commands(menu(admin=True), scope=BotCommandScopeChat(admin_id))
        except TelegramError as exc:  # an admin who never started the bot has no chat yet
            log.info("no admin menu for %s: %s", admin_id, exc.message)
    await scheduler_of(application).start()
    if st.settings.health_port and not st.settings.webhook_url:  # webhook mode: start_updates
        await _start_web(application, st.settings.health_listen, st.settings.health_port)
    stats = await asyncio.to_thread(st.service.stats)
    mode = "webhook" if st.settings.webhook_url else "polling"
    limit = rate_limit_text(st.settings)
    log.info("ready: @%s, %d articles, %s, %s", bot.username, stats.articles, mode, limit)


async def _post_stop(application: Application) -> None:  # type: ignore[type-arg]
    """Stop the digest workers (the JobQueue stops with the Application)."""
    await scheduler_of(application).stop()


async def _post_shutdown_web(application: Application) -> None:  # type: ignore[type-arg]
    server = application.bot_data.pop(WEB_KEY, None)
    if isinstance(server, WebServer):
        await server.stop()


async def _start_web(
    app: Application,  # type: ignore[type-arg]
    listen: str,
    port: int,
    **webhook: Any,
) -> WebServer:
    """Start the HTTP server (health checks, and the webhook when `webhook` says where)."""
    st: BotState = app.bot_data[STATE_KEY]
    ready = readiness_of(st.service, st.settings, st.started)
    server = WebServer(listen, port, ready, **webhook)
    await server.start()
    app.bot_data[WEB_KEY] = server
    return server


async def _post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
    """Let the answer threads go (answers in progress finish first)."""
    st: BotState = application.bot_data[STATE_KEY]
    await _post_shutdown_web(application)
    await asyncio.to_thread(st.answer_threads.shutdown, wait=True)


def build_application(
    settings: Settings,
    service: BriefService,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    token: str | None = None,
) -> Application:  # type: ignore[type-arg]
    """The bot with every handler registered. `request`/`get_updates_request`/`token` let the
    terminal chat run the same Application over an in-process transport."""
    builder = (
        ApplicationBuilder()
        .token(token or settings.token or "")
        .base_url(settings.telegram_api_url)
        .base_file_url(file_url(settings.telegram_api_url))
        .rate_limiter(rate_limiter(settings))
        .concurrent_updates(True)
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    application = builder.build()
    application.bot_data[STATE_KEY] = BotState(settings=settings, service=service)
    application.bot_data[SCHEDULER_KEY] = DigestScheduler(application, settings, service)
    _register(application, settings)
    if settings.poll:
        schedule_polling(application)
    return application


def schedule_polling(application: Application) -> None:  # type: ignore[type-arg]
    """The polling job: once as the Application starts, then every minute it polls the sources
    that are due (each source keeps its own interval). It runs while the Application runs."""
    jobs = application.job_queue
    if jobs is None:
        raise RuntimeError("the Application was built without a JobQueue")
    for name in (sources.POLL_JOB, sources.POLL_START_JOB):
        for job in jobs.get_jobs_by_name(name):
            job.schedule_removal()
    # A one-off run at start: it fires whenever the scheduler starts (no misfire deadline).
    jobs.run_once(
        sources.job_poll_sources,
        when=0,
        name=sources.POLL_START_JOB,
        job_kwargs={"misfire_grace_time": None},
    )
    jobs.run_repeating(
        sources.job_poll_sources,
        interval=sources.POLL_TICK_SECONDS,
        first=sources.POLL_TICK_SECONDS,
        name=sources.POLL_JOB,
        job_kwargs={"max_instances": 1, "coalesce": True},
    )


def _register(application: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    admins = filters.User(user_id=settings.admin_ids)
    add = application.add_handler
    add(MessageHandler(filters.ALL, chat.on_any_message), group=-1)
    add(CommandHandler("start", chat.cmd_start))
    add(CommandHandler("help", chat.cmd_help))
    add(CommandHandler("brief", chat.cmd_brief))
    add(CommandHandler("latest", chat.cmd_latest))
    add(CommandHandler("topics", chat.cmd_topics))
    add(CommandHandler("subscribe", digests.cmd_subscribe))
    add(CommandHandler("unsubscribe", digests.cmd_unsubscribe))
    add(CommandHandler("settings", digests.cmd_settings))
    add(CommandHandler("follow", digests.cmd_follow))
    add(CommandHandler("unfollow", digests.cmd_unfollow))
    add(CommandHandler("digest", digests.cmd_digest))
    add(CommandHandler("mute", readers.cmd_mute))
    add(CommandHandler("unmute", readers.cmd_unmute))
    add(CommandHandler("mutes", readers.cmd_mutes))
    add(CommandHandler("hide", readers.cmd_hide))
    add(CommandHandler("show", readers.cmd_show))
    add(MessageHandler(filters.StatusUpdate.MIGRATE, digests.on_migrated))
    add(CommandHandler("stats", admin.cmd_stats, filters=admins))
    add(CommandHandler("stats", admin.cmd_stats_refused))
    add(CommandHandler("addsource", sources.cmd_addsource, filters=admins))
    add(CommandHandler("sources", sources.cmd_sources, filters=admins))
    add(CommandHandler("removesource", sources.cmd_removesource, filters=admins))
    add(CommandHandler("ingest", sources.cmd_ingest, filters=admins))
    add(CommandHandler("sourcekind", sources.cmd_sourcekind, filters=admins))
    add(CommandHandler(SOURCE_COMMANDS, sources.cmd_sources_refused))
    private_text = filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
    add(MessageHandler(private_text, chat.on_text))
    group_mention = filters.ChatType.GROUPS & filters.TEXT & chat.MentionsMe()
    add(MessageHandler(group_mention & ~filters.COMMAND, chat.on_mention))
    add(CallbackQueryHandler(chat.on_more, pattern=callbacks.is_more))
    add(CallbackQueryHandler(chat.on_latest_page, pattern=callbacks.is_latest))
    add(CallbackQueryHandler(chat.on_topic, pattern=callbacks.is_topic))
    add(CallbackQueryHandler(digests.on_setting, pattern=callbacks.is_setting))
    add(CallbackQueryHandler(digests.on_digest_section, pattern=callbacks.is_digest_section))
    add(CallbackQueryHandler(digests.on_digest_section, pattern=callbacks.is_topic_query))
    add(CallbackQueryHandler(readers.on_filter_button, pattern=callbacks.is_filter))
    add(CallbackQueryHandler(chat.on_unknown_callback))
    add(InlineQueryHandler(inline.on_inline_query))
    add(ChatMemberHandler(chat.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    member = ChatMemberHandler(digests.on_bot_membership, ChatMemberHandler.MY_CHAT_MEMBER)
    add(member, group=1)  # as well as chat.on_my_chat_member
    application.add_error_handler(on_error)


def registered_commands(application: Application) -> set[str]:  # type: ignore[type-arg]
    """Every command a CommandHandler answers (for the drift tests)."""
    names: set[str] = set()
    for handlers in application.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                names |= set(handler.commands)
    return names


def _configure_logging(settings: Settings) -> None:
    logs.configure(settings.log_level, settings.log_format)


def opt_in_to_timedelta() -> None:
    """PTB 22 warns on every RetryAfter until the timedelta behaviour is chosen; choose it."""
    os.environ.setdefault("PTB_TIMEDELTA", "1")


def redact_token(token: str) -> str:
    """The token as logs may show it: the bot id (public), never the secret part."""
    bot_id, colon, _ = token.partition(":")
    return f"{bot_id}:********" if colon and bot_id.isdigit() else "********"


class RedactToken(logging.Filter):
    """Replaces the token in every record a handler emits (PTB logs URLs with it at DEBUG)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token, self.shown = token, redact_token(token)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message when it holds the token; never drops a record."""
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, self.shown), None
        return True


def backoff_delays(first: float = RETRY_FIRST_S, cap: float = RETRY_MAX_S) -> Iterator[float]:
    """Seconds to wait before each retry: 1, 2, 4, ... up to `cap`, for ever."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


async def wait_for_telegram(settings: Settings, delays: Iterable[float] | None = None) -> str:
    """Ask the Bot API who the bot is until it answers; the bot's username. While it cannot be
    reached, one log line per attempt (its URL, never the token), then wait the next delay.
    InvalidToken (Telegram rejected the token) is raised; so are other Telegram errors."""
    token = settings.token or ""
    attempts = enumerate(backoff_delays() if delays is None else delays, start=1)
    while True:
        bot = Bot(token, base_url=settings.telegram_api_url)
        try:
            async with bot:  # initialize() asks getMe
                return bot.username
        except (NetworkError, RetryAfter) as exc:  # TimedOut is a NetworkError
            number, delay = next(attempts)
            if isinstance(exc, RetryAfter):
                delay = max(delay, exc.retry_after.total_seconds())  # type: ignore[union-attr]
            reason = exc.message.replace(token, redact_token(token)) if token else exc.message
            log.warning(
                "Telegram Bot API at %s is unreachable (attempt %d: %s); retrying in %.0f s",
                settings.telegram_api_url,
                number,
                reason,
                delay,
            )
            await asyncio.sleep(delay)


def run_bot(settings: Settings) -> int:
    """`brief run`: the bot on Telegram until stopped. 2 when there is no usable token."""
    if settings.token is None:
        print(texts.NO_TOKEN, file=sys.stderr, end="")
        return 2
    if settings.webhook_url and importlib.util.find_spec("tornado") is None:
        print(texts.NO_WEBHOOK_SUPPORT, file=sys.stderr)
        return 2
    _configure_logging(settings)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactToken(settings.token))
    opt_in_to_timedelta()
    rejected = texts.INVALID_TOKEN.format(token=redact_token(settings.token))
    try:
        asyncio.run(wait_for_telegram(settings))
    except InvalidToken:
        print(rejected, file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while Telegram is still unreachable
        return 0
    with held(settings):
        return _serve(settings, rejected)


def held(settings: Settings) -> contextlib.AbstractContextManager[None]:
    """The store held for this process while it runs (brief restore refuses meanwhile); a
    PostgreSQL store has no file to hold."""
    return contextlib.nullcontext() if settings.database_url else hold_store(Path(settings.db))


def _serve(settings: Settings, rejected: str) -> int:
    service = build_service(settings, poll_in_worker=settings.ingest_worker)
    try:
        service.warm_up()
        application = build_application(settings, service)
        _run(application, settings)
    except InvalidToken:  # revoked between the check and the start
        print(rejected, file=sys.stderr)
        return 2
    finally:
        service.close()
    return 0


def updater_options(settings: Settings) -> dict[str, Any]:
    """How updates arrive: the keyword arguments of `Updater.start_webhook` when
    `settings.webhook_url` is set, else of `Updater.start_polling`; `Application.run_webhook`
    and `run_polling` take the same ones and pass them on. Without BRIEF_WEBHOOK_SECRET a random
    secret token is generated here, so call this once per start-up."""
    options: dict[str, Any] = {"allowed_updates": Update.ALL_TYPES, "drop_pending_updates": False}
    if not settings.webhook_url:
        return options
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    return {
        "listen": settings.webhook_listen,
        "port": settings.webhook_port,
        "url_path": urlsplit(settings.webhook_url).path.lstrip("/"),
        "webhook_url": settings.webhook_url,
        "secret_token": secret or secrets.token_urlsafe(32),
        **options,
    }


def _log_mode(settings: Settings) -> None:
    """Which mode, never the token, the secret or the URL path (it may hold a secret too)."""
    if not settings.webhook_url:
        log.info("updates by long polling")
        return
    origin = urlsplit(settings.webhook_url)
    secret = "BRIEF_WEBHOOK_SECRET" if settings.webhook_secret else "a random secret token"
    log.info(
        "updates by webhook: %s://%s posts to %s:%d, checked with %s",
        origin.scheme,
        origin.hostname,
        settings.webhook_listen,
        settings.webhook_port,
        secret,
    )


async def start_updates(
    application: Application,  # type: ignore[type-arg]
    settings: Settings,
    options: dict[str, Any] | None = None,
) -> None:
    """Start receiving updates on an initialized Application: set the webhook and serve it, or
    start long polling. `_run` gets the same start-up from PTB's blocking run_webhook/run_polling
    (with its signal handling and clean shutdown); tests and embedders await this instead."""
    options = updater_options(settings) if options is None else options
    if settings.webhook_url:
        await application.bot.set_webhook(
            url=options["webhook_url"],
            allowed_updates=options["allowed_updates"],
            drop_pending_updates=options["drop_pending_updates"],
            secret_token=options["secret_token"],
        )
        await _start_web(
            application,
            options["listen"],
            options["port"],
            application=application,
            path=options["url_path"],
            secret=options["secret_token"],
        )
    else:
        updater = application.updater
        if updater is None:
            raise RuntimeError("the Application was built without an Updater")
        await updater.start_polling(**options)
    _log_mode(settings)


async def stop_updates(application: Application) -> None:  # type: ignore[type-arg]
    """Stop receiving updates: the webhook server, or long polling."""
    await _post_shutdown_web(application)
    if application.updater is not None and application.updater.running:
        await application.updater.stop()


async def serve_webhook(
    application: Application,  # type: ignore[type-arg]
    settings: Settings,
    options: dict[str, Any],
    stop: asyncio.Event | None = None,
) -> None:
    """Webhook mode until `stop` is set (by SIGINT/SIGTERM/SIGABRT when not given): the
    life cycle of PTB's run_webhook (post_init, updates, start; then stop, post_stop,
    shutdown, post_shutdown) around this bot's own webhook server (bot/web.py)."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGABRT):
            loop.add_signal_handler(sig, stop.set)
    await application.initialize()
    try:
        if application.post_init:
            await application.post_init(application)
        await start_updates(application, settings, options)
        await application.start()
        await stop.wait()
    finally:
        await stop_updates(application)
        if application.running:
            await application.stop()
            if application.post_stop:
                await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)


def _run(application: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    """Block until stopped (SIGINT/SIGTERM/SIGABRT), then stop and shut down cleanly."""
    options = updater_options(settings)
    if settings.webhook_url:
        asyncio.run(serve_webhook(application, settings, options))
    else:
        _log_mode(settings)
        application.run_polling(**options)


__all__ = [
    "build_application",
    "file_url",
    "menu",
    "rate_limiter",
    "registered_commands",
    "run_bot",
    "schedule_polling",
    "serve_webhook",
    "start_updates",
    "stop_updates",
    "updater_options",
]
