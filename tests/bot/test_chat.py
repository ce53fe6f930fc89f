"""End to end: the conversation a user has with the bot, exact text and buttons."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest
from telegram.ext import Application

from bot import texts
from bot.app import menu, registered_commands
from bot.standin import BotAPIStandIn, SentMessage
from knowledge.models import Brief
from knowledge.service import BriefService
from knowledge.settings import Settings
from tests.bot.conftest import press, say, settle

TOPIC_BUTTONS = [
    [("Taiwan Strait", "topic:0"), ("South China Sea", "topic:1")],
    [("Korean Peninsula", "topic:2"), ("Japan & East China Sea", "topic:3")],
    [("India & Indian Ocean", "topic:4"), ("Australia & Pacific Islands", "topic:5")],
    [("Quad & AUKUS", "topic:6"), ("ASEAN", "topic:7")],
    [("China", "topic:8")],
]
LINK = re.compile(r'<a href="([^"]+)">([^<]+)</a>')


def is_brief(message: SentMessage) -> bool:
    return message.text.startswith("<b>Brief: ")


async def test_start_welcomes_with_three_example_topics(bot: BotAPIStandIn, uid: int) -> None:
    reply = await say(bot, "/start", uid)
    assert reply.text == texts.WELCOME
    assert reply.parse_mode == "HTML"
    assert reply.plain_text.startswith("Indo-Pacific Brief\nI brief you on Indo-Pacific")
    assert reply.buttons == [
        [("Taiwan Strait", "topic:0"), ("South China Sea", "topic:1")],
        [("Korean Peninsula", "topic:2")],
    ]


async def test_start_deep_link_answers_the_topic_at_once(bot: BotAPIStandIn, uid: int) -> None:
    reply = await say(bot, "/start Scarborough_Shoal", uid)
    assert reply.plain_text.startswith("Brief: Scarborough Shoal\nstories 1–1 of 1\n\n")
    assert "Philippine and Chinese vessels collide near Scarborough Shoal" in reply.plain_text
    assert reply.buttons == []


async def test_start_with_an_invalid_payload_just_welcomes(bot: BotAPIStandIn, uid: int) -> None:
    reply = await say(bot, "/start a.b", uid)
    assert reply.text == texts.WELCOME


async def test_help_lists_every_command(bot: BotAPIStandIn, uid: int) -> None:
    reply = await say(bot, "/help", uid)
    assert reply.plain_text.splitlines()[:18] == [
        "Commands",
        "/start – what this bot does, with example topics",
        "/brief – a brief on a topic: /brief Taiwan Strait",
        "/latest – the newest stories",
        "/topics – the region's topics as buttons",
        "/subscribe – a daily digest: /subscribe 07:30 Asia/Manila",
        "/settings – your digest's time, timezone, topics and notices",
        "/follow – keep a topic in your digest: /follow Taiwan Strait",
        "/unfollow – drop a topic from your digest",
        "/digest – your digest now",
        "/unsubscribe – stop the daily digest",
        "/mute – hide stories that mention a word or phrase: /mute cricket",
        "/unmute – show them again: /unmute cricket",
        "/mutes – your mutes and hidden kinds of outlet, with buttons to remove them",
        "/hide – hide a kind of outlet: /hide state media",
        "/show – show a hidden kind of outlet again: /show state media",
        "/help – this list of commands",
        "/stats – articles, stories, sources, chats, digests and health (admins)",
    ]
    assert "@indopac_test_bot Taiwan" in reply.plain_text


async def test_free_text_gets_a_brief_with_titles_sources_dates(
    bot: BotAPIStandIn, uid: int
) -> None:
    reply = await say(bot, "China Taiwan military", uid)
    assert reply.parse_mode == "HTML"
    assert reply.link_preview_options == {"is_disabled": True}
    lines = reply.plain_text.splitlines()
    # the four Taiwan stories (the Quad, Korea, India and Philippines ones are not about it)
    assert lines[:2] == ["Brief: China Taiwan military", "stories 1–2 of 4"]
    assert lines[3] == "1. China stages drills around Taiwan"
    assert "China stages drills around Taiwan" in reply.plain_text
    assert "Example News · 31 Oct 2025" in lines
    assert (
        "China's military launched large-scale drills around Taiwan on Monday, sending warships "
        "and aircraft into the Taiwan Strait. Taipei condemned the exercises as a threat to peace."
    ) in lines
    assert "also: Example Wire" in lines  # other coverage, once
    links = dict((title, url) for url, title in LINK.findall(reply.text))
    assert links["China stages drills around Taiwan"] == "https://news.example.com/taiwan-drills"
    assert links["Example Wire"] == "https://wire.example.org/taiwan-drills-copy"
    assert reply.buttons == [[("More ▸", reply.callback_data[0])]]
    assert re.fullmatch(r"more:[\w-]{1,16}:2", reply.callback_data[0])


async def test_a_fast_answer_sends_no_typing_action(
    bot: BotAPIStandIn, uid: int, service: BriefService, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = service.ask("Taiwan Strait tensions", 2, 0)
    monkeypatch.setattr(service, "ask", lambda *args, **kwargs: ready)  # answers at once
    reply = await say(bot, "Taiwan Strait tensions", uid)
    assert reply.plain_text.startswith("Brief: Taiwan Strait tensions\n")
    # the reply goes out after the typing task has ended, so nothing can arrive late
    assert bot.calls_to("sendChatAction") == []


async def test_a_slow_answer_shows_typing_once_before_the_reply(
    bot: BotAPIStandIn, uid: int, service: BriefService, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = service.ask("Taiwan Strait tensions", 2, 0)  # the real answer, worked out first

    def slow_ask(*args: object, **kwargs: object) -> Brief:
        deadline = time.monotonic() + 120  # only so that a broken bot cannot hang the suite
        while not bot.calls_to("sendChatAction") and time.monotonic() < deadline:
            time.sleep(0.01)  # the work goes on until "typing…" has reached Telegram
        return ready

    monkeypatch.setattr(service, "ask", slow_ask)
    reply = await say(bot, "Taiwan Strait tensions", uid)
    assert reply.plain_text.startswith("Brief: Taiwan Strait tensions\n")
    (action,) = bot.calls_to("sendChatAction")
    assert action.params == {"chat_id": uid, "action": "typing"}
    (sent,) = [c for c in bot.calls_to("sendMessage") if c.params["chat_id"] == uid]
    assert action.at < sent.at


async def test_more_sends_the_next_page_and_answers_the_callback(
    bot: BotAPIStandIn, uid: int
) -> None:
    first = await say(bot, "Taiwan Strait tensions", uid)
    await press(bot, first.callback_data[0], uid, first.message_id)
    second = await bot.wait_for_message(uid, lambda m: m.message_id > first.message_id)
    assert second.plain_text.splitlines()[:2] == [
        "Brief: Taiwan Strait tensions",
        "stories 3–4 of 4",
    ]
    assert second.plain_text.split("\n", 2)[2] != first.plain_text.split("\n", 2)[2]
    assert second.plain_text.splitlines()[3].startswith("3. ")
    assert second.buttons == []  # the last page has no "More ▸"
    # the pressed button is gone, so the page is not sent twice; the spinner was stopped
    assert bot.chat_messages(uid)[0].buttons == []
    answer = bot.calls_to("answerCallbackQuery")[0]
    assert answer.ok and "text" not in answer.params


async def test_nothing_relevant_suggests_topics(bot: BotAPIStandIn, uid: int) -> None:
    reply = await say(bot, "chocolate cake recipe", uid)
    assert reply.text == texts.NOTHING_FOUND
    assert "nothing on that yet" in reply.plain_text
    assert reply.buttons == TOPIC_BUTTONS


async def test_brief_without_a_topic_asks_for_one(bot: BotAPIStandIn, uid: int) -> None:
    reply = await say(bot, "/brief", uid)
    assert reply.text == texts.ASK_TOPIC
    assert reply.buttons == TOPIC_BUTTONS


async def test_brief_command_answers_its_topic(bot: BotAPIStandIn, uid: int) -> None:
    reply = await say(bot, "/brief North Korea missile", uid)
    assert reply.plain_text.splitlines()[:3] == [
        "Brief: North Korea missile",
        "stories 1–1 of 1",
        "",
    ]
    # no URL: a plain bold title, and no date when it is unknown
    assert (
        reply.plain_text.splitlines()[3] == "1. North Korea fires ballistic missile into the sea"
    )
    assert reply.plain_text.splitlines()[4] == "Seoul Example"
    assert "North Korea fires" not in "".join(t for _, t in LINK.findall(reply.text))


async def test_latest_pages_newest_first(bot: BotAPIStandIn, uid: int) -> None:
    first = await say(bot, "/latest", uid)
    assert first.plain_text.splitlines()[:2] == ["Latest stories", "stories 1–2 of 8"]
    assert first.buttons == [[("More ▸", "latest:2")]]
    await press(bot, "latest:2", uid, first.message_id)
    second = await bot.wait_for_message(uid, lambda m: m.message_id > first.message_id)
    assert second.plain_text.splitlines()[:2] == ["Latest stories", "stories 3–4 of 8"]
    assert second.buttons == [[("More ▸", "latest:4")]]


async def test_topics_and_pressing_a_topic(bot: BotAPIStandIn, uid: int) -> None:
    menu_message = await say(bot, "/topics", uid)
    assert menu_message.text == texts.TOPICS_HEADER
    assert menu_message.buttons == TOPIC_BUTTONS
    await press(bot, "topic:6", uid, menu_message.message_id)
    reply = await bot.wait_for_message(uid, lambda m: m.message_id > menu_message.message_id)
    assert reply.plain_text.splitlines()[:2] == ["Brief: Quad & AUKUS", "stories 1–1 of 1"]
    assert bot.chat_messages(uid)[0].buttons == TOPIC_BUTTONS  # topic menus stay usable


async def test_more_after_a_topic_keeps_the_topic_heading(bot: BotAPIStandIn, uid: int) -> None:
    menu_message = await say(bot, "/topics", uid)
    await press(bot, "topic:0", uid, menu_message.message_id)
    first = await bot.wait_for_message(uid, lambda m: m.message_id > menu_message.message_id)
    assert first.plain_text.startswith("Brief: Taiwan Strait\nstories 1–2 of ")
    await press(bot, first.callback_data[0], uid, first.message_id)
    second = await bot.wait_for_message(uid, lambda m: m.message_id > first.message_id)
    assert second.plain_text.startswith("Brief: Taiwan Strait\nstories 3–4 of ")


async def test_titles_with_markup_characters_are_escaped(bot: BotAPIStandIn, uid: int) -> None:
    reply = await say(bot, "Quad AUKUS alliance", uid)
    assert (
        '<a href="https://news.example.com/quad?a=1&amp;b=%3C2%3E">'
        'Quad &amp; AUKUS: &lt;b&gt;not&lt;/b&gt; a "NATO" &gt; alliance</a>'
    ) in reply.text
    assert '1. Quad & AUKUS: <b>not</b> a "NATO" > alliance' in reply.plain_text.splitlines()
    assert "Diplomat & <Co> · 15 Oct 2025" in reply.plain_text.splitlines()


async def test_empty_and_too_long_queries_get_a_clear_message(
    bot: BotAPIStandIn, uid: int, service: BriefService
) -> None:
    reply = await say(bot, "x" * 10_000, uid)
    reason = "That topic is 10,000 characters long; please keep it under 1,000"
    assert reply.plain_text.startswith(f"Sorry, I can't search for that: {reason}")
    reply = await say(bot, "/brief    ", uid)
    assert reply.text == texts.ASK_TOPIC
    reply = await say(bot, "@indopac_test_bot", uid + 1, chat_id=-uid, chat_type="group")
    assert reply.text == texts.ASK_TOPIC


async def test_commands_with_the_bot_name_work_in_groups(
    bot: BotAPIStandIn, uid: int, gid: int
) -> None:
    reply = await say(bot, "/help@indopac_test_bot", uid, chat_id=gid, chat_type="group")
    assert reply.plain_text.startswith("Commands\n/start")
    reply = await say(bot, "/brief@indopac_test_bot Scarborough Shoal", uid, gid, "group")
    assert reply.plain_text.startswith("Brief: Scarborough Shoal\n")


async def test_group_text_is_ignored_unless_it_mentions_the_bot(
    bot: BotAPIStandIn, uid: int, gid: int
) -> None:
    bot.push_message("Taiwan Strait tensions", chat_id=gid, user_id=uid, chat_type="group")
    bot.push_message("@someone_else Taiwan", chat_id=gid, user_id=uid, chat_type="group")
    await settle(bot)
    assert bot.chat_messages(gid) == []
    reply = await say(bot, "@indopac_test_bot Scarborough Shoal", uid, gid, "group")
    assert reply.plain_text.startswith("Brief: Scarborough Shoal\n")
    assert len(bot.chat_messages(gid)) == 1


async def test_expired_or_garbage_callbacks_are_answered_politely(
    bot: BotAPIStandIn, uid: int
) -> None:
    welcome = await say(bot, "/start", uid)
    for data in ("more:nosuchtoken:2", "garbage", "topic:99", "more::x"):
        await press(bot, data, uid, welcome.message_id)
    answers = bot.calls_to("answerCallbackQuery")
    assert [a.params.get("text") for a in answers] == [texts.EXPIRED] * 4
    assert all(a.ok for a in answers)
    await settle(bot)
    assert len(bot.chat_messages(uid)) == 1  # nothing else was sent


async def test_a_more_token_works_only_in_its_own_chat_and_message(
    bot: BotAPIStandIn, uid: int
) -> None:
    """`more:<another chat's token>:2` from a second chat gets "expired", not the first chat's
    brief (its query included); nor does the token work from another message; offset 0, which
    the bot never issues, is refused."""
    first = await say(bot, "Taiwan Strait tensions", uid)
    token_data = first.callback_data[0]
    other = uid + 500_000
    welcome = await say(bot, "/start", other)
    await press(bot, token_data, other, welcome.message_id)
    await press(bot, token_data.rsplit(":", 1)[0] + ":0", uid, first.message_id)
    help_message = await say(bot, "/help", uid)
    await press(bot, token_data, uid, help_message.message_id)  # the right chat, wrong message
    answers = bot.calls_to("answerCallbackQuery")
    assert [a.params.get("text") for a in answers] == [texts.EXPIRED] * 3
    await settle(bot)
    assert len(bot.chat_messages(other)) == 1  # the welcome only
    assert all("Taiwan" not in m.plain_text for m in bot.chat_messages(other))
    assert len(bot.chat_messages(uid)) == 2  # the brief and /help: no second page
    assert bot.chat_messages(uid)[0].buttons  # the real button still works
    await press(bot, token_data, uid, first.message_id)
    second = await bot.wait_for_message(uid, lambda m: m.message_id > help_message.message_id)
    assert second.plain_text.splitlines()[1] == "stories 3–4 of 4"


async def test_menu_commands_help_and_handlers_agree(
    application: Application,  # type: ignore[type-arg]
    bot: BotAPIStandIn,
    uid: int,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert application.post_init is not None
    with caplog.at_level(logging.INFO, logger="bot"):
        await application.post_init(application)
    ready = "ready: @indopac_test_bot, 9 articles, polling, rate limits: 3 per 3 s per chat"
    assert any(m.startswith(ready) for m in caplog.messages)
    everyone = {c["command"] for c in bot.my_commands({"type": "default"})}
    admins = {c["command"] for c in bot.my_commands({"type": "chat", "chat_id": 42})}
    registered = registered_commands(application)
    assert registered == admins
    assert everyone == registered - {name for name, _ in texts.ADMIN_COMMANDS}
    assert {c.command for c in menu(admin=True)} == registered
    help_text = (await say(bot, "/help", uid)).plain_text
    assert {c for c in registered if f"/{c} – " not in help_text} == set()
    assert settings.admin_ids == (42,)


async def test_every_update_records_its_chat(
    bot: BotAPIStandIn, uid: int, service: BriefService
) -> None:
    await say(bot, "/help", uid)
    assert service.chat_is_active(uid) is True


def test_readme_documents_every_command(settings: Settings) -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "\n## Commands\n" in text, "README.md's '## Commands' heading moved: update this test"
    section = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`/([a-z_]+)", section))
    wanted = {name for name, _ in texts.COMMANDS + texts.ADMIN_COMMANDS}
    assert wanted - documented == set(), "commands missing from README.md's command table"
