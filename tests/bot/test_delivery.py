"""One path to Telegram (bot/delivery.py): every message the bot sends goes through `deliver`,
and what a Telegram error means depends on what the message is (a reply, a notice, a digest).
Through the real Application's bot, its rate limiter and the stand-in over HTTP."""

from __future__ import annotations

import ast
from datetime import time
from pathlib import Path

import pytest
from telegram import Bot, Message
from telegram.error import RetryAfter
from telegram.ext import Application

from bot import delivery
from bot.ratelimit import MAX_RETRIES
from bot.standin import BotAPIStandIn
from knowledge.models import Subscription
from knowledge.service import BriefService

BOT = Path(__file__).resolve().parents[2] / "bot"
FLOOD = "Too Many Requests: retry after 1"


# the Bot API's ways to send a message: Bot.send_* (sendMessage…), Message.reply_* shortcuts;
# a chat action ("typing…") is not a message
SENDS = {
    name
    for owner, prefix in ((Bot, "send"), (Message, "reply_"))
    for name in dir(owner)
    if name.startswith(prefix) and name not in ("send_chat_action", "sendChatAction")
}


def sending_calls(path: Path) -> list[str]:
    """The calls in a module that send a message to Telegram."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(BOT.parent)}:{node.lineno} {node.func.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SENDS
    ]


def test_every_message_is_sent_by_delivery() -> None:
    modules = [p for p in BOT.rglob("*.py") if "standin" not in p.parts]  # it is Telegram
    calls = [call for path in modules for call in sending_calls(path)]
    assert [c for c in calls if not c.startswith("bot/delivery.py:")] == []
    assert [c.split()[-1] for c in calls] == ["send_message"]  # and there, in one place


def digest_to(chat_id: int) -> Subscription:
    return Subscription(chat_id=chat_id, thread_id=None, at=time(7), timezone="UTC")


async def test_a_digest_waits_out_more_429s_than_a_reply(
    application: Application,  # type: ignore[type-arg]
    bot: BotAPIStandIn,
    service: BriefService,
    uid: int,
) -> None:
    """One 429 more than a reply's retries: the digest still goes (nobody waits for it, so it
    waits longer: bot/ratelimit.py waits every 429 out), the reply's error surfaces."""
    api = application.bot
    bot.fail_chat(uid, 429, FLOOD, {"retry_after": 1}, times=MAX_RETRIES + 1)
    sent = await delivery.send_digest(api, service, digest_to(uid), ["digest"])
    assert (sent.outcome, len(sent.messages)) == (delivery.Outcome.SENT, 1), sent.reason
    bot.fail_chat(uid, 429, FLOOD, {"retry_after": 1}, times=MAX_RETRIES + 1)
    with pytest.raises(RetryAfter):  # for the global error handler, which gives up quietly
        await delivery.send(api, service, uid, ["reply"])
    codes = [c.error_code for c in bot.calls_to("sendMessage")]
    assert codes == [429] * (MAX_RETRIES + 1) + [None] + [429] * (MAX_RETRIES + 1)
    assert [m.text for m in bot.chat_messages(uid)] == ["digest"]
    assert delivery.DIGEST_RETRIES >= 1


async def test_a_notice_that_cannot_go_is_returned_and_the_chat_left_alone(
    application: Application,  # type: ignore[type-arg]
    bot: BotAPIStandIn,
    service: BriefService,
    uid: int,
) -> None:
    service.record_chat(uid, "private", "an admin")
    bot.block_chat(uid)
    told = await delivery.notify(application.bot, service, uid, "source #3 is paused")
    assert told.outcome is delivery.Outcome.FAILED
    assert told.reason == "Forbidden: bot was blocked by the user"
    assert service.chat_is_active(uid) is True  # a notice is not a reason to deactivate
    # a reply to the same chat deactivates it; a digest also ends its subscription
    assert await delivery.send(application.bot, service, uid, ["reply"]) == []
    assert service.chat_is_active(uid) is False
    service.subscribe(uid, None, "07:00", "UTC")
    gone = await delivery.send_digest(application.bot, service, digest_to(uid), ["digest"])
    assert gone.outcome is delivery.Outcome.GONE
    assert service.subscription(uid) is None


async def test_a_digest_in_a_migrated_group_moves_and_is_sent_at_the_new_id(
    application: Application,  # type: ignore[type-arg]
    bot: BotAPIStandIn,
    service: BriefService,
    gid: int,
) -> None:
    new_id = gid * 1000
    service.subscribe(gid, None, "07:00", "UTC")
    bot.migrate_chat(gid, new_id)
    sent = await delivery.send_digest(
        application.bot, service, digest_to(gid), ["part 1", "part 2"]
    )
    assert (sent.outcome, sent.chat_id) == (delivery.Outcome.SENT, new_id)
    assert [m.text for m in bot.chat_messages(new_id)] == ["part 1", "part 2"]
    assert service.subscription(gid) is None and service.subscription(new_id) is not None
