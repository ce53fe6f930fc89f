"""End to end: what the bot does when Telegram, a chat or a handler fails."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from telegram.ext import Application

from bot import delivery, render, texts
from bot.standin import BotAPIStandIn, parse_html, utf16_len
from knowledge.models import Article, Brief, Coverage, Hit
from knowledge.service import BriefService
from tests.bot.conftest import say, settle, until


async def test_429_is_retried_and_the_reply_still_arrives(bot: BotAPIStandIn, uid: int) -> None:
    bot.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1}
    )
    reply = await say(bot, "/help", uid)
    assert reply.plain_text.startswith("Commands\n")
    first, second = bot.calls_to("sendMessage")
    assert (first.error_code, second.ok) == (429, True)
    assert second.at - first.at >= 1.0


async def test_a_blocked_user_deactivates_the_chat_and_the_bot_goes_on(
    bot: BotAPIStandIn, uid: int, service: BriefService
) -> None:
    bot.block_chat(uid)
    bot.push_message("Taiwan Strait tensions", chat_id=uid, user_id=uid)
    await until(lambda: service.chat_is_active(uid) is False)
    other = await say(bot, "/help", uid + 1)
    assert other.plain_text.startswith("Commands\n")
    sends = [c for c in bot.calls_to("sendMessage") if c.params["chat_id"] == uid]
    assert [c.error_code for c in sends] == [403]  # no error reply tried on a blocked chat
    bot.unblock_chat(uid)
    await say(bot, "/help", uid)  # writing again re-activates it
    assert service.chat_is_active(uid) is True


async def test_kicked_from_a_group_deactivates_it(
    bot: BotAPIStandIn, uid: int, gid: int, service: BriefService
) -> None:
    await say(bot, "/help", uid, chat_id=gid, chat_type="group")
    assert service.chat_is_active(gid) is True
    bot.push_my_chat_member(gid, uid, old_status="member", new_status="kicked", chat_type="group")
    await until(lambda: service.chat_is_active(gid) is False)
    assert bot.calls_to("sendMessage")[1:] == []  # nothing sent to a chat we were removed from


async def test_a_migrated_group_is_moved_and_sent_to_once_more(
    bot: BotAPIStandIn, uid: int, gid: int, service: BriefService
) -> None:
    new_id = gid * 1000
    bot.fail_next(
        "sendMessage",
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        parameters={"migrate_to_chat_id": new_id},
    )
    bot.push_message("/help", chat_id=gid, user_id=uid, chat_type="group")
    reply = await bot.wait_for_message(new_id)
    assert reply.plain_text.startswith("Commands\n")
    assert bot.chat_messages(gid) == []
    assert service.chat_is_active(new_id) is True
    assert service.chat_is_active(gid) is None


async def test_a_failing_handler_gets_one_line_and_the_bot_keeps_answering(
    bot: BotAPIStandIn,
    uid: int,
    service: BriefService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object, **kwargs: object) -> Brief:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(service, "ask", broken)
    with caplog.at_level(logging.ERROR, logger="bot.errors"):
        reply = await say(bot, "Taiwan", uid)
    assert reply.text == texts.SOMETHING_WRONG
    assert len(bot.chat_messages(uid)) == 1
    record = next(r for r in caplog.records if r.name == "bot.errors")
    assert f"(message) in chat {uid} failed" in record.getMessage()
    assert record.exc_info is not None and "index exploded" in str(record.exc_info[1])
    monkeypatch.undo()
    reply = await say(bot, "Scarborough Shoal", uid)
    assert reply.plain_text.startswith("Brief: Scarborough Shoal\n")


async def test_a_telegram_error_in_a_handler_is_reported_once(
    bot: BotAPIStandIn, uid: int
) -> None:
    bot.fail_next("sendMessage", 400, "Bad Request: chat not found")
    reply = await say(bot, "/help", uid)
    assert reply.text == texts.SOMETHING_WRONG
    await settle(bot)
    assert len(bot.chat_messages(uid)) == 1


def long_hit(i: int) -> Hit:
    article = Article(
        id=i,
        url=f"https://example.com/{i}?q=<&>&x=" + "y" * 200,
        title=f"Story {i} <&> " + "very long title " * 40,
        source="Outlet & <Sons>",
        published=datetime(2025, 10, 31, tzinfo=UTC),
        fetched=datetime(2025, 10, 31, tzinfo=UTC),
        summary=("A long sentence about the <Strait> & its ships, " * 30 + ". ") * 3,
    )
    also = tuple(Coverage(f"Other {j} & co", f"https://o.example/{j}") for j in range(8))
    return Hit(article=article, score=1.0, similarity=0.5, also=also)


async def test_split_messages_are_each_valid_and_short_enough(
    bot: BotAPIStandIn,
    uid: int,
    application: Application,  # type: ignore[type-arg]
    service: BriefService,
) -> None:
    brief = Brief(query="long", hits=tuple(long_hit(i) for i in range(30)), total=40)
    parts = render.render_brief(brief, render.brief_heading("long <query>"))
    assert len(parts) > 1
    for part in parts:
        plain, _ = parse_html(part)  # raises on invalid HTML, as Telegram would
        assert utf16_len(part) <= 4096 and utf16_len(plain) <= 4096
    sent = await delivery.send(application.bot, service, uid, parts)
    assert len(sent) == len(parts)
    assert all(c.ok for c in bot.calls_to("sendMessage"))
    numbers = [
        line.split(".")[0]
        for m in bot.chat_messages(uid)
        for line in m.plain_text.splitlines()
        if line.startswith("Story") is False and line[:1].isdigit()
    ]
    assert numbers == [str(i) for i in range(1, 31)]  # every item once, in order, never cut
