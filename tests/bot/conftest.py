"""The real Application (build_application) against the Bot API stand-in, over real HTTP, with
a real BriefService on a temporary SQLite database and the real embedder."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.standin import BotAPIStandIn, SentMessage
from bot.standin.methods import WAIT_S
from knowledge.build import build_service
from knowledge.service import BriefService
from knowledge.settings import Settings, load_settings

ADMIN_ID = 42
BRIEF_SIZE = 2

TAIWAN_TEXT = (
    "China's military launched large-scale drills around Taiwan on Monday, sending warships "
    "and aircraft into the Taiwan Strait. Taipei condemned the exercises as a threat to peace. "
    "Analysts said the drills rehearsed a blockade of the island."
)

ARTICLES: list[dict[str, Any]] = [
    {
        "url": "https://news.example.com/taiwan-drills",
        "title": "China stages drills around Taiwan",
        "source": "Example News",
        "published": "2025-10-31",
        "text": TAIWAN_TEXT,
    },
    {
        "url": "https://wire.example.org/taiwan-drills-copy",
        "title": "China stages drills around Taiwan",
        "source": "Example Wire",
        "published": "2025-10-31",
        "text": TAIWAN_TEXT.replace("on Monday", "on Monday morning"),
    },
    {
        "url": "https://news.example.com/taiwan-election",
        "title": "Taiwan's opposition courts Beijing ahead of local elections",
        "source": "Example News",
        "published": "2025-10-28",
        "text": (
            "Taiwan's main opposition party sent a delegation to Beijing. The visit stirred "
            "debate in Taipei about cross-strait relations before the local elections."
        ),
    },
    {
        "url": "https://strait.example.net/us-transit",
        "title": "US destroyer transits the Taiwan Strait",
        "source": "Strait Times Example",
        "published": "2025-10-25",
        "text": (
            "A US Navy destroyer sailed through the Taiwan Strait in a routine transit. China's "
            "Eastern Theater Command said it tracked the ship and kept forces on high alert."
        ),
    },
    {
        "url": "https://news.example.com/taiwan-arms",
        "title": "Washington approves new arms sale to Taiwan",
        "source": "Example News",
        "published": "2025-10-20",
        "text": (
            "The United States approved a new arms package for Taiwan, including missiles and "
            "radar. Beijing protested and threatened countermeasures against US defence firms."
        ),
    },
    {
        "url": "https://news.example.com/quad?a=1&b=<2>",
        "title": 'Quad & AUKUS: <b>not</b> a "NATO" > alliance',
        "source": "Diplomat & <Co>",
        "published": "2025-10-15",
        "text": (
            "Leaders of the Quad and AUKUS partners insisted the groupings are not an Asian NATO "
            "alliance. Australia, India, Japan and the United States stressed cooperation."
        ),
    },
    {
        "url": "https://manila.example.ph/scarborough",
        "title": "Philippine and Chinese vessels collide near Scarborough Shoal",
        "source": "Manila Example",
        "published": "2025-10-12",
        "text": (
            "A Chinese coast guard ship collided with a Philippine patrol vessel near "
            "Scarborough Shoal in the South China Sea. Manila protested the water cannon attack."
        ),
    },
    {
        "url": None,
        "title": "North Korea fires ballistic missile into the sea",
        "source": "Seoul Example",
        "published": None,
        "text": (
            "North Korea fired a ballistic missile into the sea off its east coast, South "
            "Korea's military said. Japan condemned the launch as a violation of UN resolutions."
        ),
    },
    {
        "url": "https://delhi.example.in/navy",
        "title": "Indian Navy commissions new destroyer for Indian Ocean patrols",
        "source": "Delhi Example",
        "published": "2025-09-30",
        "text": (
            "India commissioned a stealth destroyer to patrol the Indian Ocean. The navy said "
            "it will counter growing Chinese submarine activity in the region."
        ),
    },
]


@pytest.fixture(scope="session", autouse=True)
def ptb_timedelta() -> Iterator[None]:
    """Opt in to PTB's timedelta retry_after (as run_bot does), or constructing RetryAfter
    warns and the suite turns warnings into errors."""
    old = os.environ.get("PTB_TIMEDELTA")
    os.environ["PTB_TIMEDELTA"] = "1"
    yield
    if old is None:
        os.environ.pop("PTB_TIMEDELTA", None)
    else:
        os.environ["PTB_TIMEDELTA"] = old


@pytest.fixture(scope="session")
def bot_embedder(request: pytest.FixtureRequest) -> object:
    """The session's real embedder (tests/conftest.py), or one of our own when it is absent."""
    try:
        return request.getfixturevalue("embedder")
    except pytest.FixtureLookupError:
        from knowledge.embedder import Embedder

        embedder = Embedder()
        embedder.load()
        return embedder


@pytest.fixture(scope="session")
def api() -> Iterator[BotAPIStandIn]:
    with BotAPIStandIn() as standin:
        yield standin


@pytest.fixture(scope="session")
def settings(api: BotAPIStandIn, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        db=tmp_path_factory.mktemp("bot") / "brief.db",
        admin_ids=(ADMIN_ID,),
        telegram_token=api.token,
        telegram_api_url=api.base_url,
        brief_size=BRIEF_SIZE,
        webhook_url="",
    )


@pytest.fixture(scope="session")
def service(settings: Settings, bot_embedder: object) -> Iterator[BriefService]:
    svc = build_service(settings, embedder=bot_embedder)  # type: ignore[arg-type]
    report = svc.import_records(list(enumerate(ARTICLES, 1)))
    assert not report.rejected, report.rejected
    svc.warm_up()
    yield svc
    svc.close()


@contextlib.asynccontextmanager
async def running(settings: Settings, service: BriefService) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The real Application long-polling the stand-in named in `settings`, then shut down."""
    app = build_application(settings, service)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)  # start-up I/O, as run_polling does
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@pytest.fixture(scope="session")
async def application(
    settings: Settings, service: BriefService, api: BotAPIStandIn
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    async with running(settings, service) as app:
        yield app


_ids = itertools.count(1000)


@pytest.fixture
def uid() -> int:
    """A fresh user id (and private chat id) per test, so tests never read each other's chats."""
    return next(_ids)


@pytest.fixture
def gid() -> int:
    """A fresh group chat id per test."""
    return -(next(_ids) + 10_000)


@pytest.fixture
async def bot(application: Application, api: BotAPIStandIn) -> AsyncIterator[BotAPIStandIn]:  # type: ignore[type-arg]
    """The stand-in, reset, with the bot polling it."""
    api.reset()
    yield api
    assert not api.errors, api.errors


async def say(
    api: BotAPIStandIn,
    text: str,
    user_id: int,
    chat_id: int | None = None,
    chat_type: str = "private",
    predicate: Callable[[SentMessage], bool] | None = None,
) -> SentMessage:
    """Send `text` as the user and return the bot's first new message in that chat."""
    chat = user_id if chat_id is None else chat_id
    before = {m.message_id for m in api.chat_messages(chat)}
    api.push_message(text, chat_id=chat, user_id=user_id, chat_type=chat_type)
    return await api.wait_for_message(
        chat,
        lambda m: m.message_id not in before and (predicate is None or predicate(m)),
    )


async def press(
    api: BotAPIStandIn, data: str, user_id: int, message_id: int, chat_id: int | None = None
) -> None:
    """Press a button; wait until its callback query is answered."""
    chat = user_id if chat_id is None else chat_id
    update = api.push_callback_query(data, chat_id=chat, user_id=user_id, message_id=message_id)
    query_id = update["callback_query"]["id"]
    await api.wait_for(
        "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
    )


FENCE_ID = 999_999  # a user of its own, whose chat no test reads


async def settle(api: BotAPIStandIn) -> None:
    """Wait until the bot has answered a message pushed after everything before it, so what
    came earlier has been handled (an event to wait for, not a length of time)."""
    await say(api, "/help", FENCE_ID)


async def until(predicate: Callable[[], object], timeout: float = WAIT_S) -> None:  # noqa: ASYNC109
    """Wait until `predicate()` is true (the bot works concurrently with the test); the
    deadline only bounds a test that would hang."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)
