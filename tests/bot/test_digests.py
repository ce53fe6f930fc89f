"""Daily digests end to end: the real Application (build_application) with its real JobQueue
(APScheduler) over real HTTP against the Bot API stand-in, a real BriefService on a temporary
SQLite database and the real embedder.

Time is the bot's clock (bot.schedule.Clock), handed to the scheduler: a test starts the bot
an hour before a chat's time, so nothing fires by itself, and then moves the clock to that time
(`reach`), which fires the jobs due by then through their real callback, as APScheduler would.
One test lets APScheduler itself fire a job on the wall clock. Tests wait for events (a message
arriving, a delivery run finishing, a send held at the stand-in), never for a fixed time. Each
test has its own database and its own stand-in state; "a restart" is a new Application on the
same database, "a crash" cuts the digest workers off mid-send (no claim finished) and drops the
Application.
"""

from __future__ import annotations

import gzip
import itertools
import json
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram import Update
from telegram.ext import Application

from bot import delivery, texts
from bot.app import build_application
from bot.schedule import Clock, DigestScheduler, Due, job_name, scheduler_of
from bot.standin import BotAPIStandIn, SentMessage, parse_html, utf16_len
from knowledge.build import build_service
from knowledge.models import Subscription
from knowledge.service import BriefService
from knowledge.settings import Settings, load_settings
from tests.bot.conftest import settle, until

ADMIN_ID = 4242
MANILA = ZoneInfo("Asia/Manila")
AHEAD = timedelta(hours=1)  # a bot started this long before a chat's time: nothing fires

REGION_TEXTS = {
    "Taiwan Strait": (
        "China's military sent warships and aircraft into the Taiwan Strait on Monday in "
        "large-scale drills around Taiwan. Taipei condemned the exercises as a threat to peace "
        "across the strait, and analysts said the drills rehearsed a blockade of the island."
    ),
    "South China Sea": (
        "A Chinese coast guard ship fired water cannon at a Philippine supply boat near "
        "Scarborough Shoal in the South China Sea. Manila protested the attack, the latest in "
        "a series of confrontations over disputed reefs and shoals in the South China Sea."
    ),
    "Korean Peninsula": (
        "North Korea fired a ballistic missile into the sea off its east coast, South Korea's "
        "military said. Japan and South Korea condemned the North Korean missile launch as a "
        "violation of UN Security Council resolutions on the Korean Peninsula."
    ),
}


def articles(now: datetime, copies: int = 1) -> list[dict[str, Any]]:
    """Region stories published `now` (so they are new to the bot's shifted clock too)."""
    out: list[dict[str, Any]] = []
    for i in range(copies):
        for n, (topic, text) in enumerate(REGION_TEXTS.items()):
            out.append(
                {
                    "url": f"https://news{i}.example.com/{n}",
                    "title": f"{topic}: latest developments, part {i + 1}",
                    "source": f"Outlet {i}",
                    "published": now.isoformat(),
                    "text": text + f" Report number {i}." * (i + 1),
                }
            )
    return out


@pytest.fixture(scope="module")
def dapi() -> Iterator[BotAPIStandIn]:
    """A stand-in of this module's own: no other Application polls it."""
    with BotAPIStandIn() as standin:
        yield standin


@pytest.fixture
def api_clean(dapi: BotAPIStandIn) -> Iterator[BotAPIStandIn]:
    dapi.reset()
    yield dapi
    assert not dapi.errors, dapi.errors


def make_settings(api: BotAPIStandIn, db: Path, **overrides: Any) -> Settings:
    return load_settings(
        db=db,
        admin_ids=(ADMIN_ID,),
        telegram_token=api.token,
        telegram_api_url=api.base_url,
        webhook_url="",
        rate_limits=False,
        **overrides,
    )


@pytest.fixture
def dsettings(api_clean: BotAPIStandIn, tmp_path: Path) -> Settings:
    return make_settings(api_clean, tmp_path / "brief.db")


@pytest.fixture
def dservice(dsettings: Settings, bot_embedder: object) -> Iterator[BriefService]:
    svc = build_service(dsettings, embedder=bot_embedder)  # type: ignore[arg-type]
    report = svc.import_records(list(enumerate(articles(datetime.now(UTC)), 1)))
    assert not report.rejected, report.rejected
    svc.warm_up()
    yield svc
    svc.close()


class Bots:
    """Starts Applications on one database (a restart is the next one) and stops them all."""

    def __init__(self, settings: Settings, service: BriefService) -> None:
        self.settings = settings
        self.service = service
        self.running: list[Application] = []  # type: ignore[type-arg]

    async def start(
        self,
        now: datetime,
        *,
        polling: bool = True,
        workers: int | None = None,
        send_timeout: float | None = None,
    ) -> DigestScheduler:
        """A new Application whose clock reads `now`, started as `brief run` starts it."""
        app = build_application(self.settings, self.service)
        scheduler = scheduler_of(app)
        scheduler.clock = Clock.reading(now)
        if workers is not None:
            scheduler.workers = workers
        scheduler.send_timeout = send_timeout
        await app.initialize()
        assert app.post_init is not None
        await app.post_init(app)
        await app.start()
        if polling:
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
            )
        self.running.append(app)
        return scheduler

    async def stop(self, scheduler: DigestScheduler | None = None) -> None:
        """Stop one Application cleanly (the last started by default)."""
        app = scheduler.application if scheduler else self.running[-1]
        self.running.remove(app)
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)  # as run_polling does
        await app.shutdown()

    async def crash(self, scheduler: DigestScheduler) -> None:
        """Die mid-run: the workers are cut off where they are (a claim taken is never
        finished), then the Application goes away."""
        await scheduler.stop()
        await self.stop(scheduler)


@pytest.fixture
async def bots(dsettings: Settings, dservice: BriefService) -> AsyncIterator[Bots]:
    runner = Bots(dsettings, dservice)
    yield runner
    for app in list(runner.running):
        await runner.stop(scheduler_of(app))


def next_minute(zone: ZoneInfo, ahead: timedelta = timedelta(0)) -> datetime:
    """The next whole minute in `zone` at least `ahead` from now (aware)."""
    local = (datetime.now(UTC) + ahead).astimezone(zone)
    return local.replace(second=0, microsecond=0) + timedelta(minutes=1)


def quiet_hour() -> datetime:
    """Today 15:00 UTC: hours from the times these tests subscribe at (07:00 UTC, 07:30 in
    Manila), so no job fires while a test runs, whenever it runs."""
    return datetime.now(UTC).replace(hour=15, minute=0, second=0, microsecond=0)


def is_digest(message: SentMessage) -> bool:
    return message.plain_text.startswith("Indo-Pacific digest")


def digests_in(api: BotAPIStandIn, chat_id: int) -> list[SentMessage]:
    return [m for m in api.chat_messages(chat_id) if is_digest(m)]


def claims(settings: Settings) -> dict[tuple[int, str], str]:
    with sqlite3.connect(settings.db) as conn:
        rows = conn.execute("SELECT chat_id, local_date, status FROM digest_claims").fetchall()
    return {(int(c), str(d)): str(s) for c, d, s in rows}


async def command(
    api: BotAPIStandIn,
    text: str,
    user_id: int,
    chat_id: int | None = None,
    chat_type: str = "private",
    extra: dict[str, Any] | None = None,
) -> SentMessage:
    """Send a command as the user; the bot's first new message in that chat."""
    chat = user_id if chat_id is None else chat_id
    before = {m.message_id for m in api.chat_messages(chat)}
    api.push_message(text, chat_id=chat, user_id=user_id, chat_type=chat_type, extra=extra)
    return await api.wait_for_message(chat, lambda m: m.message_id not in before)


def subscribe(service: BriefService, chat_id: int, at: datetime, **kw: Any) -> Subscription:
    zone = at.tzinfo
    assert isinstance(zone, ZoneInfo)
    return service.subscribe(chat_id, None, at.strftime("%H:%M"), zone.key, **kw)


async def one_run(scheduler: DigestScheduler, count: int = 1) -> None:
    await until(lambda: len(scheduler.runs) >= count)


async def reach(scheduler: DigestScheduler, when: datetime) -> list[int]:
    """The bot's clock reaches `when`: each digest job due by then fires as APScheduler fires a
    one-off job (it leaves the job store, then its callback runs), in the order of their times
    and chats. The chats whose jobs fired."""
    scheduler.clock.set(when)
    job_queue = scheduler.application.job_queue
    assert job_queue is not None
    due = [job for job in job_queue.jobs() if isinstance(job.data, Due) and job.data.when <= when]
    due.sort(key=lambda job: (job.data.when, job.data.sub.chat_id))
    for job in due:
        job.schedule_removal()
        await job.run(scheduler.application)
    return [job.data.sub.chat_id for job in due]


# --- subscribing ------------------------------------------------------------------------------


async def test_subscribed_for_the_next_minute_gets_exactly_one_digest(
    bots: Bots, api_clean: BotAPIStandIn, dsettings: Settings, dservice: BriefService
) -> None:
    """The one test in which APScheduler itself fires a digest job, on the wall clock."""
    at = next_minute(MANILA)
    scheduler = await bots.start(at - AHEAD)
    reply = await command(api_clean, f"/subscribe {at:%H:%M} Asia/Manila", 501)
    assert f"every day at {at:%H:%M} (Asia/Manila)" in reply.plain_text
    assert scheduler.next_run(501) == at.astimezone(UTC)
    # the clock jumps to a second before the chat's time; the job re-placed (as any change
    # re-places it) is due a second from now on the wall clock, or at once if that has passed
    scheduler.clock.set(at - timedelta(seconds=1))
    sub = dservice.subscription(501)
    assert sub is not None
    scheduler.schedule(sub)
    digest = await api_clean.wait_for_message(501, is_digest)
    await one_run(scheduler)
    assert digest.plain_text.startswith(f"Indo-Pacific digest · {at:%a} {at.day} {at:%b %Y}")
    assert scheduler.runs[-1].sent == 1
    # the job is back for the next day, at the same local time
    assert scheduler.next_run(501) == (at + timedelta(days=1)).astimezone(UTC)
    # the same day's job firing again (another process, a duplicate trigger) sends nothing
    scheduler.queue_digest(501, at.date())
    await one_run(scheduler, 2)
    assert scheduler.runs[-1].skipped == 1
    assert len(digests_in(api_clean, 501)) == 1
    assert claims(dsettings) == {(501, at.date().isoformat()): "sent"}


async def test_bad_time_and_unknown_timezone_say_what_is_expected(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    await bots.start(quiet_hour())
    reply = await command(api_clean, "/subscribe 25:99 Asia/Manila", 502)
    assert "Expected HH:MM, e.g. 07:30" in reply.plain_text
    reply = await command(api_clean, "/subscribe 07:30 Asia/Manilla", 502)
    assert "Asia/Manila" in reply.plain_text and "not a timezone" in reply.plain_text
    reply = await command(api_clean, "/subscribe 07:30 08:30", 502)
    assert texts.SUBSCRIBE_USAGE in reply.plain_text
    assert dservice.subscription(502) is None
    reply = await command(api_clean, "/subscribe", 502)  # the defaults from the settings
    assert "every day at 07:00 (UTC)" in reply.plain_text
    assert dservice.subscription(502) is not None


# --- restarts and crashes ---------------------------------------------------------------------


async def test_a_restart_across_its_time_gives_one_digest(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    at = next_minute(MANILA, ahead=timedelta(hours=2))
    subscribe(dservice, 503, at)
    first = await bots.start(at - timedelta(minutes=30))
    assert first.next_run(503) == at.astimezone(UTC)
    await bots.stop()  # down at the chat's time
    second = await bots.start(at + timedelta(minutes=5))  # back within the catch-up window
    await api_clean.wait_for_message(503, is_digest)
    await one_run(second)
    await bots.stop()
    third = await bots.start(at + timedelta(minutes=10))  # and once more: nothing owed
    assert third.queue.empty() and not third.runs
    assert third.next_run(503) == (at + timedelta(days=1)).astimezone(UTC)
    assert len(digests_in(api_clean, 503)) == 1


async def test_down_longer_than_the_catch_up_window_sends_nothing_late(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    at = next_minute(MANILA, ahead=timedelta(minutes=5))
    subscribe(dservice, 504, at)
    scheduler = await bots.start(at + timedelta(hours=7))  # the window is 6 hours
    assert scheduler.queue.empty()
    assert scheduler.next_run(504) == (at + timedelta(days=1)).astimezone(UTC)
    assert digests_in(api_clean, 504) == []


async def test_a_crash_after_half_the_chats_serves_the_other_half_once(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService, dsettings: Settings
) -> None:
    at = next_minute(MANILA, ahead=timedelta(hours=1))
    chats = list(range(510, 518))
    for chat in chats:
        subscribe(dservice, chat, at)
    cut = chats[4]  # one worker serves the chats in order: the crash comes during the fifth
    api_clean.hold_answers(cut)  # its digest arrives, its answer does not
    scheduler = await bots.start(at - AHEAD, polling=False, workers=1)
    assert await reach(scheduler, at) == chats
    await until(lambda: api_clean.held(cut) == 1)
    await bots.crash(scheduler)
    api_clean.release_answers()
    assert {c for c in chats if digests_in(api_clean, c)} == set(chats[:5])
    assert not scheduler.runs  # the run never finished
    restarted = await bots.start(at + timedelta(minutes=3), polling=False)
    await one_run(restarted)
    day = at.date().isoformat()
    status = claims(dsettings)
    # the cut-off send's outcome is unknown to the bot: uncertain, never sent again
    assert status == {(c, day): "uncertain" if c == cut else "sent" for c in chats}
    assert [len(digests_in(api_clean, c)) for c in chats] == [1] * len(chats)
    assert (restarted.runs[-1].sent, restarted.runs[-1].uncertain) == (3, 0)


async def test_a_send_that_times_out_after_reaching_telegram_is_not_sent_again(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService, dsettings: Settings
) -> None:
    at = next_minute(MANILA, ahead=timedelta(hours=1))
    subscribe(dservice, 520, at)
    api_clean.hold_answers(520)  # recorded at once, answered only after the client gave up
    scheduler = await bots.start(at - AHEAD, polling=False, send_timeout=0.5)
    await reach(scheduler, at)
    await one_run(scheduler)
    api_clean.release_answers()
    assert scheduler.runs[-1].uncertain == 1
    assert len(digests_in(api_clean, 520)) == 1  # it did arrive
    assert claims(dsettings)[(520, at.date().isoformat())] == "uncertain"
    scheduler.queue_digest(520, at.date())  # a retry of the same day
    await one_run(scheduler, 2)
    await bots.stop()
    again = await bots.start(at + timedelta(minutes=2), polling=False)  # and a restart
    assert again.queue.empty()
    assert len(digests_in(api_clean, 520)) == 1
    assert len([c for c in api_clean.calls_to("sendMessage") if c.params["chat_id"] == 520]) == 1


async def test_a_send_that_never_left_is_failed_and_sent_later(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService, dsettings: Settings
) -> None:
    at = next_minute(MANILA, ahead=timedelta(hours=1))
    subscribe(dservice, 525, at)
    with socket.socket() as probe:  # a port nobody listens on: the request cannot leave
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cut_off = dsettings.model_copy(update={"telegram_api_url": f"http://127.0.0.1:{port}/bot"})
    scheduler = scheduler_of(build_application(cut_off, dservice))
    scheduler.clock = Clock.reading(at)
    assert await scheduler.serve(525, at.date()) is delivery.Outcome.FAILED
    assert claims(dsettings)[(525, at.date().isoformat())] == "failed"  # released
    restarted = await bots.start(at + timedelta(minutes=1), polling=False)
    await one_run(restarted)  # the catch-up claims it again and sends it, once
    assert len(digests_in(api_clean, 525)) == 1
    assert claims(dsettings)[(525, at.date().isoformat())] == "sent"


# --- what Telegram answers --------------------------------------------------------------------


async def test_a_chat_that_blocked_the_bot_is_unsubscribed(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    at = next_minute(MANILA, ahead=timedelta(hours=1))
    subscribe(dservice, 530, at)
    subscribe(dservice, 531, at)
    api_clean.block_chat(530)
    scheduler = await bots.start(at - AHEAD, polling=False)
    await reach(scheduler, at)
    await one_run(scheduler)
    assert dservice.subscription(530) is None
    assert scheduler.next_run(530) is None  # its job is gone
    assert len(digests_in(api_clean, 531)) == 1  # the other chat is served all the same
    assert scheduler.runs[-1].sent == 1 and scheduler.runs[-1].failed == 1


async def test_a_migrated_group_gets_its_digest_at_the_new_id(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    old, new = -5320, -1_000_000_005_320
    at = next_minute(MANILA, ahead=timedelta(hours=1))
    subscribe(dservice, old, at)
    api_clean.migrate_chat(old, new)
    scheduler = await bots.start(at - AHEAD, polling=False)
    await reach(scheduler, at)
    await one_run(scheduler)
    assert len(digests_in(api_clean, new)) == 1
    assert digests_in(api_clean, old) == []
    assert dservice.subscription(old) is None
    moved = dservice.subscription(new)
    assert moved is not None and moved.at == time(at.hour, at.minute)
    assert scheduler.next_run(new) == (at + timedelta(days=1)).astimezone(UTC)
    assert scheduler.next_run(old) is None


async def test_a_429_is_retried_after_retry_after(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    at = next_minute(MANILA, ahead=timedelta(hours=1))
    subscribe(dservice, 540, at)
    api_clean.fail_chat(
        540, 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1}
    )
    scheduler = await bots.start(at - AHEAD, polling=False)
    await reach(scheduler, at)
    await one_run(scheduler)
    sends = [c for c in api_clean.calls_to("sendMessage") if c.params["chat_id"] == 540]
    assert [c.error_code for c in sends] == [429, None]
    assert sends[1].at - sends[0].at >= 1.0
    assert len(digests_in(api_clean, 540)) == 1


async def test_my_chat_member_kicked_ends_the_subscription(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    gid = -5550
    subscribe(dservice, gid, next_minute(MANILA, ahead=timedelta(hours=1)))
    scheduler = await bots.start(quiet_hour())
    assert scheduler.next_run(gid) is not None
    api_clean.push_my_chat_member(gid, old_status="member", new_status="kicked", chat_type="group")
    await until(lambda: dservice.subscription(gid) is None)
    await until(lambda: scheduler.next_run(gid) is None)


# --- timezones --------------------------------------------------------------------------------


async def test_kolkata_and_sydney_across_dst_fire_at_the_right_local_time(
    bots: Bots, dservice: BriefService
) -> None:
    sydney, kolkata = ZoneInfo("Australia/Sydney"), ZoneInfo("Asia/Kolkata")
    syd = subscribe(dservice, 560, datetime(2026, 10, 4, 7, 0, tzinfo=sydney))
    kol = subscribe(dservice, 561, datetime(2026, 10, 4, 7, 30, tzinfo=kolkata))
    # the bot's clock: 1 pm in Sydney the day before clocks go forward (2026-10-04 02:00)
    scheduler = await bots.start(datetime(2026, 10, 3, 13, 0, tzinfo=sydney), polling=False)

    def fires_at(chat_id: int) -> datetime:
        job = scheduler.job(chat_id)
        assert job is not None and job.next_t is not None
        assert job.name == job_name(chat_id)
        return scheduler.clock.from_real(job.next_t)

    assert fires_at(560) == datetime(2026, 10, 4, 7, 0, tzinfo=sydney)  # AEDT, +11
    assert fires_at(560) == datetime(2026, 10, 3, 20, 0, tzinfo=UTC)
    assert fires_at(561) == datetime(2026, 10, 3, 2, 0, tzinfo=UTC) + timedelta(days=1)
    # and back to standard time: 2026-04-05 03:00 AEDT → 02:00 AEST
    scheduler.clock = Clock.reading(datetime(2026, 4, 4, 12, 0, tzinfo=sydney))
    scheduler.schedule(syd)
    scheduler.schedule(kol)
    assert fires_at(560) == datetime(2026, 4, 5, 7, 0, tzinfo=sydney)
    assert fires_at(560) == datetime(2026, 4, 4, 21, 0, tzinfo=UTC)  # AEST, +10
    assert fires_at(561) == datetime(2026, 4, 4, 2, 0, tzinfo=UTC)  # 07:30 IST, +05:30


# --- what the digest looks like ----------------------------------------------------------------


async def test_a_long_digest_passes_validation_and_no_message_exceeds_4096(
    api_clean: BotAPIStandIn, tmp_path: Path, bot_embedder: object, shared_data: Path
) -> None:
    rows = []  # 80 real Indo-Pacific articles (../shared, read at test time), news of today
    with gzip.open(shared_data / "news_asia_pacific" / "articles.jsonl.gz", "rt") as lines:
        for line in itertools.islice(lines, 80):
            rows.append({**json.loads(line), "published": datetime.now(UTC).isoformat()})
    # one-word region topics, so that many sections fill (a long digest split between them)
    countries = ("China", "Japan", "Korea", "India", "Australia", "Pakistan", "Taiwan",
                 "Philippines", "Thailand", "Malaysia", "Indonesia", "Vietnam", "Singapore",
                 "Hong Kong", "Bangladesh", "Sri Lanka", "Nepal", "Myanmar")  # fmt: skip
    settings = make_settings(
        api_clean,
        tmp_path / "long.db",
        digest_max_stories=30,
        topics={c: c for c in countries},
    )
    service = build_service(settings, embedder=bot_embedder)  # type: ignore[arg-type]
    try:
        service.import_records(list(enumerate(rows, 1)))
        runner = Bots(settings, service)
        at = next_minute(MANILA, ahead=timedelta(hours=1))
        subscribe(service, 570, at)
        scheduler = await runner.start(at - AHEAD, polling=False)
        await reach(scheduler, at)
        await one_run(scheduler)
        await runner.stop()
    finally:
        service.close()
    sends = [c for c in api_clean.calls_to("sendMessage") if c.params["chat_id"] == 570]
    assert len(sends) >= 2 and all(c.ok for c in sends), api_clean.describe_calls()
    for call in sends:
        assert utf16_len(call.params["text"]) <= 4096
        parse_html(call.params["text"])
    messages = api_clean.chat_messages(570)
    assert messages[0].plain_text.startswith("Indo-Pacific digest")
    assert all(m.plain_text.startswith("▌") for m in messages[1:])  # split between sections
    assert messages[-1].buttons  # the section buttons come under the last part


async def test_buttons_under_a_digest_work_after_a_restart(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    at = next_minute(MANILA, ahead=timedelta(hours=1))
    subscribe(dservice, 580, at)
    scheduler = await bots.start(at - AHEAD)
    await reach(scheduler, at)
    digest = await api_clean.wait_for_message(580, lambda m: is_digest(m) and bool(m.buttons))
    await one_run(scheduler)
    await bots.stop()
    await bots.start(at + timedelta(minutes=1))
    label, data = digest.buttons[0][0]
    assert data is not None and data.startswith(("dg:", "dq:"))
    before = {m.message_id for m in api_clean.chat_messages(580)}
    api_clean.push_callback_query(data, chat_id=580, user_id=580, message_id=digest.message_id)
    answer = await api_clean.wait_for_message(580, lambda m: m.message_id not in before)
    assert answer.plain_text.startswith("Brief: " + label.split(":")[0].removesuffix(" ▸"))


async def test_forum_topic_subscription_delivers_to_that_topic(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    gid, thread = -1_000_000_005_900, 77
    api_clean.set_chat_admins(gid, [590])
    at = next_minute(MANILA)
    scheduler = await bots.start(at - AHEAD)
    forum = {"message_thread_id": thread, "is_topic_message": True}
    reply = await command(
        api_clean, f"/subscribe {at:%H:%M} Asia/Manila", 590, gid, "supergroup", forum
    )
    assert "every day at" in reply.plain_text
    sub = dservice.subscription(gid)
    assert sub is not None and sub.thread_id == thread
    assert await reach(scheduler, at) == [gid]
    await api_clean.wait_for_message(gid, is_digest)
    await one_run(scheduler)
    sends = [c for c in api_clean.calls_to("sendMessage") if c.params["chat_id"] == gid]
    assert sends and all(c.params.get("message_thread_id") == thread for c in sends)


# --- groups, settings, following --------------------------------------------------------------


async def test_in_a_group_only_admins_change_the_subscription(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    gid, admin, member = -5600, 601, 602
    api_clean.set_chat_admins(gid, [admin])
    await bots.start(quiet_hour())
    reply = await command(api_clean, "/subscribe 07:30 Asia/Manila", member, gid, "group")
    assert reply.plain_text == texts.ADMINS_ONLY
    assert dservice.subscription(gid) is None
    reply = await command(api_clean, "/subscribe 07:30 Asia/Manila", admin, gid, "group")
    assert "every day at 07:30" in reply.plain_text
    settings_message = await command(api_clean, "/settings", member, gid, "group")
    assert settings_message.buttons  # anyone may look
    silent = next(d for row in settings_message.buttons for _, d in row if d and "si:" in d)
    update = api_clean.push_callback_query(
        silent, chat_id=gid, user_id=member, message_id=settings_message.message_id
    )
    query_id = update["callback_query"]["id"]
    (answer,) = await api_clean.wait_for(
        "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
    )
    assert answer.params.get("text") == texts.ADMINS_ONLY
    for text in ("/unsubscribe", "/follow Taiwan Strait"):
        assert (await command(api_clean, text, member, gid, "group")).plain_text == (
            texts.ADMINS_ONLY
        )
    sub = dservice.subscription(gid)
    assert sub is not None and not sub.silent and sub.topics == ()


async def test_settings_buttons_change_the_subscription_and_its_job(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    scheduler = await bots.start(quiet_hour())
    await command(api_clean, "/subscribe 07:30 Asia/Manila", 610)
    message = await command(api_clean, "/settings", 610)
    assert "time: 07:30 (Asia/Manila)" in message.plain_text

    async def press(data: str) -> SentMessage:
        edits = len(api_clean.calls_to("editMessageText"))
        update = api_clean.push_callback_query(data, chat_id=610, user_id=610)
        query_id = update["callback_query"]["id"]
        await api_clean.wait_for(
            "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
        )
        await api_clean.wait_for("editMessageText", count=edits + 1)
        (edited,) = [m for m in api_clean.chat_messages(610) if m.message_id == message.message_id]
        return edited

    edited = await press("set:si:1")
    assert "silent delivery: on" in edited.plain_text
    edited = await press("set:menu:tz")
    tokyo = next(d for row in edited.buttons for t, d in row if t == "Asia/Tokyo")
    assert tokyo is not None
    edited = await press(tokyo)
    assert "time: 07:30 (Asia/Tokyo)" in edited.plain_text
    sub = dservice.subscription(610)
    assert sub is not None and sub.silent and sub.timezone == "Asia/Tokyo"
    tokyo_next = scheduler.next_run(610)
    assert tokyo_next is not None
    assert tokyo_next.astimezone(ZoneInfo("Asia/Tokyo")).time() == time(7, 30)
    edited = await press("set:menu:tp")
    edited = await press("set:tp:0")  # follow the first settings topic
    assert "✓ Taiwan Strait" in [t for row in edited.buttons for t, _ in row]
    await press("set:off:")
    assert dservice.subscription(610) is None
    assert scheduler.next_run(610) is None
    # every button the bot sent fitted Telegram's 64 bytes (the stand-in checks) and was answered
    callbacks_ok = api_clean.calls_to("answerCallbackQuery")
    assert callbacks_ok and all(c.ok for c in callbacks_ok)


@pytest.mark.parametrize("data", ["set:at:0900", "set:off:", "set:menu:tz", "set:si:1"])
async def test_a_settings_button_acts_only_where_a_subscription_exists(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService, data: str
) -> None:
    """A forged settings button on the welcome message of a chat without a subscription: the
    callback is answered with why, the message is not edited, nothing is subscribed."""
    chat = 615
    await bots.start(datetime.now(UTC))
    welcome = await command(api_clean, "/start", chat)
    update = api_clean.push_callback_query(
        data, chat_id=chat, user_id=chat, message_id=welcome.message_id
    )
    query_id = update["callback_query"]["id"]
    (answer,) = await api_clean.wait_for(
        "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
    )
    assert answer.ok and answer.params.get("text") == texts.SETTINGS_NONE
    await settle(api_clean)
    assert api_clean.calls_to("editMessageText") == []
    (shown,) = api_clean.chat_messages(chat)
    assert shown.text == welcome.text and shown.buttons == welcome.buttons
    assert dservice.subscription(chat) is None


async def test_follow_shows_the_topic_at_once_and_narrows_the_digest(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    at = next_minute(MANILA, ahead=timedelta(hours=1))
    await bots.start(at - AHEAD)
    await command(api_clean, f"/subscribe {at:%H:%M} Asia/Manila", 620)
    reply = await command(api_clean, "/follow Taiwan Strait", 620)
    assert reply.plain_text.startswith("Following Taiwan Strait")
    brief = await api_clean.wait_for_message(620, lambda m: m.plain_text.startswith("Brief:"))
    assert "Taiwan" in brief.plain_text
    await bots.stop()
    scheduler = await bots.start(at - AHEAD)
    assert await reach(scheduler, at) == [620]
    digest = await api_clean.wait_for_message(620, is_digest)
    await one_run(scheduler)
    sections = [line for line in digest.plain_text.splitlines() if line.startswith("▌")]
    assert sections == ["▌Taiwan Strait"]  # only the followed topic's section
    assert "North Korea" not in digest.plain_text  # and nothing on the Korean Peninsula
    reply = await command(api_clean, "/unfollow Taiwan Strait", 620)
    assert texts.ALL_TOPICS in reply.plain_text


async def test_digest_now_and_stats(
    bots: Bots, api_clean: BotAPIStandIn, dservice: BriefService
) -> None:
    at = next_minute(MANILA, ahead=timedelta(hours=1))
    subscribe(dservice, ADMIN_ID, at)
    scheduler = await bots.start(at - AHEAD)
    await reach(scheduler, at)
    await one_run(scheduler)
    now = await command(api_clean, "/digest", 630)  # not subscribed: the digest all the same
    assert is_digest(now)
    stats = await command(api_clean, "/stats", ADMIN_ID)
    assert "subscribers: 1" in stats.plain_text
    assert "last digest run" in stats.plain_text and "sent 1" in stats.plain_text
    assert "next digest" in stats.plain_text
