"""End to end: inline mode and the admin command."""

from __future__ import annotations

import re
from pathlib import Path

from bot import texts
from bot.handlers.inline import MAX_OFFSET, PAGE
from bot.standin import BotAPIStandIn
from knowledge.build import build_service
from knowledge.service import BriefService
from knowledge.settings import load_settings
from tests.bot.conftest import ADMIN_ID, running, say, settle
from tests.support.fake_embedder import HashingEmbedder


async def test_inline_query_returns_article_cards(bot: BotAPIStandIn, uid: int) -> None:
    bot.push_inline_query("Taiwan Strait tensions", user_id=uid)
    (call,) = await bot.wait_for("answerInlineQuery")
    assert call.ok, call.description
    results = call.params["results"]
    assert 1 <= len(results) <= 50
    ids = [r["id"] for r in results]
    assert len(set(ids)) == len(ids) and all(len(i.encode()) <= 64 for i in ids)
    assert call.params["cache_time"] == 30
    assert call.params["is_personal"] is True  # results follow each user's mutes
    drills = next(r for r in results if r["title"] == "China stages drills around Taiwan")
    assert drills["type"] == "article"
    assert drills["url"] == "https://news.example.com/taiwan-drills"
    assert drills["description"].startswith("Example News · 31 Oct 2025 — China's military")
    content = drills["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert content["message_text"].startswith(
        '<b><a href="https://news.example.com/taiwan-drills">China stages drills around Taiwan'
        "</a></b>\nExample News · 31 Oct 2025\n"
    )


async def test_inline_query_empty_gives_the_latest(bot: BotAPIStandIn, uid: int) -> None:
    bot.push_inline_query("", user_id=uid)
    (call,) = await bot.wait_for("answerInlineQuery")
    assert call.ok, call.description
    titles = [r["title"] for r in call.params["results"]]
    assert titles[0] == "North Korea fires ballistic missile into the sea"
    assert len(titles) == 8
    assert "url" not in call.params["results"][0]  # no URL, no url field


async def test_stats_for_an_admin(bot: BotAPIStandIn, service: BriefService) -> None:
    reply = await say(bot, "/stats", ADMIN_ID)
    lines = reply.plain_text.splitlines()
    assert lines[0] == "Bot status"
    assert lines[1:3] == ["articles: 9", "stories: 8"]
    labels = [line.split(":")[0] for line in lines[1:]]
    assert labels[:7] == [
        "articles",
        "stories",
        "sources",
        "chats",
        "uptime",
        "last ingest",
        "store",
    ]
    assert "last ingest: never" not in lines
    store = next(line for line in lines if line.startswith("store: "))
    assert store.startswith(f"store: SQLite {service.settings.db} (")  # which backend it reads


async def test_stats_shows_the_uptime_once(bot: BotAPIStandIn) -> None:
    reply = await say(bot, "/stats", ADMIN_ID)
    uptime = [line for line in reply.plain_text.splitlines() if line.startswith("uptime")]
    assert len(uptime) == 1, uptime
    assert re.fullmatch(r"uptime: (\d+d )?(\d+h )?\d+m", uptime[0])


async def test_stats_for_anyone_else_is_refused_and_changes_nothing(
    bot: BotAPIStandIn, uid: int, service: BriefService
) -> None:
    before = service.stats()
    reply = await say(bot, "/stats", uid)
    assert reply.text == texts.NOT_ADMIN
    await settle(bot)
    here = [c.method for c in bot.calls if c.params.get("chat_id") == uid]
    assert here == ["sendMessage"]
    after = service.stats()
    assert (after.articles, after.stories, after.sources) == (
        before.articles,
        before.stories,
        before.sources,
    )


async def test_inline_scrolling_ends_on_a_store_beyond_the_offset_cap(
    tmp_path: Path,
) -> None:
    """More stories than the offset cap: every page is new and the last one says so."""
    stories = MAX_OFFSET + 2 * PAGE + 5
    records = [
        {
            "title": f"Report {n}: patrol {n} logged near atoll {n * 7}",
            "text": f"Patrol number {n} was logged by the coast guard near atoll {n * 7}.",
            "published": f"{2000 + n // 300}-{1 + n // 25 % 12:02d}-{1 + n % 25:02d}",
            "source": f"Outlet {n}",
        }
        for n in range(stories)
    ]
    with BotAPIStandIn() as api:
        settings = load_settings(
            db=tmp_path / "big.db",
            telegram_token=api.token,
            telegram_api_url=api.base_url,
            duplicate_similarity=1.0,  # every record is a story of its own
        )
        # No region topics: the empty query's latest stories are all of them (with topics,
        # /latest keeps to the region's stories, and these are about nothing in particular).
        settings = settings.model_copy(update={"topics": {}})
        service = build_service(settings, embedder=HashingEmbedder())  # type: ignore[arg-type]
        try:
            report = service.import_records(list(enumerate(records, 1)))
            assert report.imported == stories and not report.linked
            async with running(settings, service):
                offsets, seen = [""], set()
                while len(offsets) <= stories // PAGE + 2:
                    api.push_inline_query("", offset=offsets[-1])
                    call = (await api.wait_for("answerInlineQuery", count=len(offsets)))[-1]
                    assert call.ok, call.description
                    ids = [r["id"] for r in call.params["results"]]
                    assert ids and not seen & set(ids), f"page at {offsets[-1]!r} repeats"
                    seen |= set(ids)
                    following = call.params.get("next_offset", "")
                    if not following:
                        break
                    assert following not in offsets
                    offsets.append(following)
                assert not following, f"still scrolling after offsets {offsets}"
                assert len(seen) == MAX_OFFSET + PAGE  # all a user can reach, each once
        finally:
            service.close()
