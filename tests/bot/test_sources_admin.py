"""End to end: the sources admin commands and the polling job, through the real Application and
the local Bot API stand-in, with a real feed server on 127.0.0.1 serving ../shared/data files."""

from __future__ import annotations

import asyncio
import os
import select
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from telegram import Update
from telegram.ext import Application

from bot import texts
from bot.app import build_application
from bot.handlers.sources import POLL_JOB
from bot.standin import BotAPIStandIn
from knowledge.build import build_service
from knowledge.service import BriefService
from knowledge.settings import Settings, load_settings
from tests.bot.conftest import say, settle, until
from tests.support.pollserver import FeedServer

ADMIN = 4242
MINT = "feeds_netnewswire/files/livemint.xml"


@pytest.fixture(scope="module")
def feeds(shared_data: Path) -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.serve_file("/mint.xml", shared_data / MINT)
        server.route("/broken.xml", b"down", status=500, content_type="text/plain")
        yield server


@pytest.fixture(scope="module")
def standin() -> Iterator[BotAPIStandIn]:
    with BotAPIStandIn() as api:
        yield api


def source_settings(api: BotAPIStandIn, db: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "db": db,
        "admin_ids": (ADMIN,),
        "telegram_token": api.token,
        "telegram_api_url": api.base_url,
        "webhook_url": "",
        "allow_private_addresses": True,  # the feed server is on 127.0.0.1
        "fetch_full_text": False,  # the feed's links point at real sites
        "poll": False,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture(scope="module")
async def sources_bot(
    standin: BotAPIStandIn, tmp_path_factory: pytest.TempPathFactory, bot_embedder: object
) -> AsyncIterator[tuple[Application, BriefService]]:  # type: ignore[type-arg]
    settings = source_settings(standin, tmp_path_factory.mktemp("sources") / "brief.db")
    service = build_service(settings, embedder=bot_embedder)  # type: ignore[arg-type]
    app = build_application(settings, service)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    yield app, service
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    service.close()


@pytest.fixture
async def api(
    sources_bot: tuple[Application, BriefService],  # type: ignore[type-arg]
    standin: BotAPIStandIn,
) -> AsyncIterator[BotAPIStandIn]:
    standin.reset()
    yield standin
    assert not standin.errors, standin.errors


@pytest.fixture
def service(sources_bot: tuple[Application, BriefService]) -> BriefService:  # type: ignore[type-arg]
    return sources_bot[1]


@pytest.mark.parametrize(
    "command", ["/addsource {url}", "/sources", "/removesource 1", "/ingest", "/ingest 1"]
)
async def test_source_commands_from_anyone_else_are_refused_and_change_nothing(
    api: BotAPIStandIn, service: BriefService, feeds: FeedServer, uid: int, command: str
) -> None:
    before = service.list_sources()
    hits = len(feeds.requests)
    reply = await say(api, command.format(url=feeds.url("/mint.xml")), uid)
    name = command.split()[0].lstrip("/")
    assert reply.text == texts.ADMIN_ONLY.format(command=name)
    await settle(api)
    assert [c.method for c in api.calls if c.params.get("chat_id") == uid] == ["sendMessage"]
    assert service.list_sources() == before
    assert len(feeds.requests) == hits  # nothing was fetched


async def test_admin_adds_lists_ingests_and_removes_a_source(
    api: BotAPIStandIn, service: BriefService, feeds: FeedServer
) -> None:
    usage = await say(api, "/addsource", ADMIN)
    assert usage.text == texts.ADDSOURCE_USAGE

    refused = await say(api, "/addsource ftp://example.org/feed", ADMIN)
    assert refused.text.startswith("I did not add that source: ")

    url = feeds.url("/mint.xml")
    added = await say(api, f"/addsource {url} Mint India", ADMIN)
    (source,) = service.list_sources()
    assert added.plain_text.startswith(
        f"Added source #{source.id} Mint India: RSS feed with 25 items.\n{url}\n"
    )
    assert source.title == "Mint India" and source.articles == 0

    again = await say(api, f"/addsource {url}", ADMIN)
    assert f"already source #{source.id}" in again.text

    listing = await say(api, "/sources", ADMIN)
    lines = listing.plain_text.splitlines()
    assert lines[0] == "Sources (1)"
    assert lines[2] == f"#{source.id} Mint India · feed · 0 articles"
    assert lines[3] == url
    assert lines[4] == "last success never · last new item never · errors in a row 0"
    assert lines[5] == "next poll now"

    polled = await say(api, "/ingest", ADMIN, predicate=lambda m: m.text.startswith("Polled"))
    assert (
        polled.text
        == "Polled 1 source: 25 articles new (0 joined earlier stories), 0 already known."
    )
    assert service.list_sources()[0].articles == 25

    one = await say(api, f"/ingest {source.id}", ADMIN, predicate=lambda m: "Polled" in m.text)
    assert one.text.startswith("Polled 1 source: 0 articles new")
    missing = await say(api, "/ingest 999", ADMIN)
    assert missing.text == texts.SOURCE_MISSING.format(id=999)
    bad = await say(api, "/ingest all", ADMIN)
    assert bad.text == texts.INGEST_USAGE

    health = await say(api, "/sources", ADMIN)
    assert f"#{source.id} Mint India · feed · 25 articles" in health.plain_text
    assert "last success never" not in health.plain_text

    removed = await say(api, f"/removesource {source.id}", ADMIN)
    assert removed.plain_text == f"Removed source #{source.id} Mint India; its 25 articles stay."
    assert service.list_sources() == ()
    assert service.stats().articles == 25
    gone = await say(api, f"/removesource {source.id}", ADMIN)
    assert gone.text == texts.SOURCE_MISSING.format(id=source.id)
    empty = await say(api, "/sources", ADMIN)
    assert empty.text == texts.NO_SOURCES


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ("/removesource 99999999999999999999999", texts.REMOVESOURCE_USAGE),
        ("/removesource 9223372036854775808", texts.REMOVESOURCE_USAGE),  # 2**63
        ("/removesource ٣", texts.REMOVESOURCE_USAGE),  # ARABIC-INDIC DIGIT THREE
        ("/removesource ³", texts.REMOVESOURCE_USAGE),  # SUPERSCRIPT THREE
        ("/ingest 99999999999999999999999", texts.INGEST_USAGE),
        ("/ingest ٣", texts.INGEST_USAGE),
    ],
)
async def test_ids_are_plain_ascii_integers_in_range(
    api: BotAPIStandIn, service: BriefService, feeds: FeedServer, command: str, usage: str
) -> None:
    """A huge id answers with the usage, not an OverflowError; "٣" is not source #3."""
    if not service.list_sources():
        await asyncio.to_thread(service.add_source, feeds.url("/mint.xml"), "Mint")
    before = service.list_sources()
    hits = len(feeds.requests)
    reply = await say(api, command, ADMIN)
    assert reply.text == usage
    assert service.list_sources() == before  # nothing removed
    assert len(feeds.requests) == hits  # nothing polled
    largest = await say(api, "/removesource 9223372036854775807", ADMIN)
    assert largest.text == texts.SOURCE_MISSING.format(id=9223372036854775807)
    await asyncio.to_thread(service.remove_source, before[0].id)


async def test_the_scheduled_job_polls_at_start_and_tells_admins_of_a_pause_once(
    standin: BotAPIStandIn,
    feeds: FeedServer,
    tmp_path: Path,
    bot_embedder: object,
    api: BotAPIStandIn,
) -> None:
    settings = source_settings(
        standin, tmp_path / "job.db", poll=True, poll_failures_before_pause=1
    )
    service = build_service(settings, embedder=bot_embedder)  # type: ignore[arg-type]
    service.store.sources.add(feeds.url("/mint.xml"), "feed", "Mint", None)
    service.store.sources.add(feeds.url("/broken.xml"), "feed", "Broken", None)
    app = build_application(settings, service)
    await app.initialize()
    await app.start()  # the JobQueue starts; the job runs at once (first=0)
    try:
        notice = await standin.wait_for_message(ADMIN, lambda m: "is paused" in m.text)
        assert notice.plain_text.startswith("Source #2 Broken is paused: 1 failures in a row")
        assert "500" in notice.plain_text
        await until(lambda: service.list_sources()[0].articles == 25)
        await until(lambda: service.list_sources()[1].admins_notified)
        assert service.list_sources()[1].paused

        assert app.job_queue is not None
        (job,) = app.job_queue.get_jobs_by_name(POLL_JOB)
        await job.run(app)  # the next tick: nothing due, nobody told again
        notices = [m for m in standin.chat_messages(ADMIN) if "is paused" in m.text]
        assert len(notices) == 1
    finally:
        await app.stop()
        await app.shutdown()
        service.close()


def wait_for_exit(pid: int) -> None:
    """Block until the process has terminated (its pidfd turns readable)."""
    fd = os.pidfd_open(pid)
    try:
        readable, _, _ = select.select([fd], [], [], 60)
        assert readable, f"process {pid} did not exit"
    finally:
        os.close(fd)


async def test_the_bot_polls_in_its_worker_process_and_answers_from_what_it_stored(
    feeds: FeedServer, tmp_path: Path, bot_embedder: object, uid: int
) -> None:
    with BotAPIStandIn() as api:  # its own: the module's bot long-polls the shared one
        settings = source_settings(api, tmp_path / "worker.db", poll=True, ingest_worker=True)
        # as run_bot builds it
        service = build_service(
            settings,
            embedder=bot_embedder,  # type: ignore[arg-type]
            poll_in_worker=settings.ingest_worker,
        )
        service.store.sources.add(feeds.url("/mint.xml"), "feed", "Mint", None)
        app = build_application(settings, service)
        await app.initialize()
        await app.start()  # the polling job runs at once, handing the poll to the worker
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
        )
        try:
            await until(lambda: service.list_sources()[0].articles == 25, timeout=120)
            assert service.worker is not None
            pid = service.worker.pid
            assert pid is not None and pid != os.getpid()

            title = service.store.articles.newest_stories(1, 0)[0].title
            answer = await say(api, title, uid)  # the bot's search sees the worker's rows
            assert title in answer.plain_text

            polled = await say(api, "/ingest", ADMIN, predicate=lambda m: "Polled" in m.text)
            assert polled.text.startswith("Polled 1 source: 0 articles new")
            os.kill(pid, signal.SIGKILL)  # dies between polls: the next one starts a new one
            await asyncio.to_thread(wait_for_exit, pid)
            polled = await say(api, "/ingest", ADMIN, predicate=lambda m: "Polled" in m.text)
            assert polled.text.startswith("Polled 1 source: 0 articles new")
            assert service.worker.pid not in (None, pid)
            pid = service.worker.pid
            assert not api.errors, api.errors
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            service.close()
    with pytest.raises(ProcessLookupError):  # stopped and reaped with the bot
        os.kill(pid, 0)
