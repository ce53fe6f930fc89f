"""End to end: inline mode and the admin command."""

from __future__ import annotations

from bot import texts
from bot.standin import BotAPIStandIn
from knowledge.service import BriefService
from tests.bot.conftest import ADMIN_ID, say, settle


async def test_inline_query_returns_article_cards(bot: BotAPIStandIn, uid: int) -> None:
    bot.push_inline_query("Taiwan Strait tensions", user_id=uid)
    (call,) = await bot.wait_for("answerInlineQuery")
    assert call.ok, call.description
    results = call.params["results"]
    assert 1 <= len(results) <= 50
    ids = [r["id"] for r in results]
    assert len(set(ids)) == len(ids) and all(len(i.encode()) <= 64 for i in ids)
    assert call.params["cache_time"] == 30
    assert call.params["is_personal"] is False
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
        "database",
    ]
    assert "last ingest: never" not in lines


async def test_stats_for_anyone_else_is_refused_and_changes_nothing(
    bot: BotAPIStandIn, uid: int, service: BriefService
) -> None:
    before = service.stats()
    reply = await say(bot, "/stats", uid)
    assert reply.text == texts.NOT_ADMIN
    await settle(0.2)
    assert [c.method for c in bot.calls if c.method != "getUpdates"] == ["sendMessage"]
    after = service.stats()
    assert (after.articles, after.stories, after.sources) == (
        before.articles,
        before.stories,
        before.sources,
    )
