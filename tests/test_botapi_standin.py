"""Tests of the local Bot API stand-in, driven by a real ``telegram.Bot`` over real HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.standin import BotAPI, BotAPIStandIn, parse_html, utf16_len

CHAT = BotAPIStandIn.DEFAULT_USER_ID


@pytest.fixture
def api() -> Iterator[BotAPIStandIn]:
    with BotAPIStandIn() as standin:
        yield standin


@pytest.fixture
async def bot(api: BotAPIStandIn) -> AsyncIterator[Bot]:
    tg_bot = Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)
    await tg_bot.initialize()
    try:
        yield tg_bot
    finally:
        await tg_bot.shutdown()


def _keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data)] for text, data in pairs]
    )


# ---------------------------------------------------------------- basics


async def test_get_me_returns_configured_bot(api: BotAPIStandIn, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "indopac_test_bot"
    assert me.id == 123456
    assert me.is_bot
    assert me.supports_inline_queries
    assert api.base_url == f"http://127.0.0.1:{api.port}/bot"
    assert [c.method for c in api.calls_to("getMe")] == ["getMe", "getMe"]  # initialize + ours


async def test_send_message_html_with_keyboard_is_recorded(api: BotAPIStandIn, bot: Bot) -> None:
    markup = _keyboard(("Latest brief", "brief:latest"), ("Settings", "settings"))
    message = await bot.send_message(
        CHAT, "<b>Hello</b> &amp; welcome", parse_mode=ParseMode.HTML, reply_markup=markup
    )
    assert message.message_id == 1
    assert message.text == "Hello & welcome"
    assert message.entities == (MessageEntity(MessageEntity.BOLD, 0, 5),)
    assert message.reply_markup == markup
    assert message.chat.type == "private"
    assert message.from_user is not None and message.from_user.username == "indopac_test_bot"

    (call,) = api.calls_to("sendMessage")
    assert call.ok
    assert call.params["chat_id"] == CHAT
    assert call.params["parse_mode"] == "HTML"
    assert call.params["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Latest brief", "callback_data": "brief:latest"}],
            [{"text": "Settings", "callback_data": "settings"}],
        ]
    }

    (sent,) = api.chat_messages(CHAT)
    assert sent.text == "<b>Hello</b> &amp; welcome"
    assert sent.plain_text == "Hello & welcome"
    assert sent.parse_mode == "HTML"
    assert not sent.edited
    assert sent.buttons == [[("Latest brief", "brief:latest")], [("Settings", "settings")]]
    assert api.buttons(CHAT) == sent.buttons
    assert sent.callback_data == ["brief:latest", "settings"]

    second = await bot.send_message(CHAT, "again")
    assert second.message_id == 2


async def test_url_buttons_and_link_preview(api: BotAPIStandIn, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Read", url="https://example.org/a")]])
    await bot.send_message(
        CHAT,
        "see link",
        reply_markup=markup,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    (sent,) = api.chat_messages(CHAT)
    assert sent.buttons == [[("Read", "https://example.org/a")]]
    assert sent.disable_web_page_preview is True
    assert sent.link_preview_options == {"is_disabled": True}


@pytest.mark.parametrize(
    "text",
    ["<b>x", "a < b", "<script>x</script>", "a & b", "<b><i>x</b></i>", "&nbsp;", "<a>x</a>"],
)
async def test_invalid_html_is_rejected(api: BotAPIStandIn, bot: Bot, text: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(CHAT, text, parse_mode=ParseMode.HTML)
    assert api.chat_messages(CHAT) == []
    (call,) = api.calls_to("sendMessage")
    assert not call.ok
    assert call.error_code == 400


async def test_valid_html_variants(bot: Bot) -> None:
    text = (
        '<a href="https://x.org/?a=1&amp;b=2">link</a> <tg-spoiler>s</tg-spoiler> '
        '<span class="tg-spoiler">t</span> <pre><code class="language-python">x = 1</code></pre>'
        " <blockquote expandable>quote</blockquote> &#128512; &lt;tag&gt; &quot;q&quot;"
    )
    message = await bot.send_message(CHAT, text, parse_mode=ParseMode.HTML)
    assert message.text == 'link s t x = 1 quote 😀 <tag> "q"'
    types = [e.type for e in message.entities]
    assert types == ["text_link", "spoiler", "spoiler", "pre", "expandable_blockquote"]
    assert message.entities[0].url == "https://x.org/?a=1&b=2"
    assert message.entities[3].language == "python"


async def test_message_length_is_counted_after_parsing(api: BotAPIStandIn, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    message = await bot.send_message(CHAT, "&amp;" * 4096, parse_mode=ParseMode.HTML)
    assert message.text == "&" * 4096
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "<b>" + "&amp;" * 4097 + "</b>", parse_mode=ParseMode.HTML)
    # UTF-16: an emoji outside the BMP counts twice
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "😀" * 2049)
    await bot.send_message(CHAT, "😀" * 2048)
    assert len(api.chat_messages(CHAT)) == 2


async def test_empty_text_is_rejected(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CHAT, "<b> </b>", parse_mode=ParseMode.HTML)


async def test_callback_data_limit_is_in_bytes(api: BotAPIStandIn, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "k", reply_markup=_keyboard(("b", "x" * 65)))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "k", reply_markup=_keyboard(("b", "é" * 33)))  # 66 bytes
    await bot.send_message(CHAT, "k", reply_markup=_keyboard(("b", "x" * 64)))
    assert len(api.chat_messages(CHAT)) == 1


# ---------------------------------------------------------------- fault injection


async def test_retry_after(api: BotAPIStandIn, bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 exposes retry_after as a timedelta
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", {"retry_after": 1})
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "hello")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    await bot.send_message(CHAT, "hello")  # only the next call failed
    failed, succeeded = api.calls_to("sendMessage")
    assert failed.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert succeeded.ok
    assert [m.text for m in api.chat_messages(CHAT)] == ["hello"]


async def test_fail_next_times(api: BotAPIStandIn, bot: Bot) -> None:
    api.fail_next("sendChatAction", 500, "Internal Server Error", times=2)
    for _ in range(2):
        with pytest.raises(Exception, match="Internal Server Error"):
            await bot.send_chat_action(CHAT, "typing")
    assert await bot.send_chat_action(CHAT, "typing") is True


async def test_forbidden(api: BotAPIStandIn, bot: Bot) -> None:
    api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(CHAT, "hi")
    await bot.send_message(CHAT, "hi")

    api.block_chat(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hi again")
    with pytest.raises(Forbidden):
        await bot.send_message(CHAT, "and again")
    assert [m.text for m in api.chat_messages(CHAT)] == ["hi"]


async def test_chat_migrated(api: BotAPIStandIn, bot: Bot) -> None:
    api.fail_next(
        "sendMessage",
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        {"migrate_to_chat_id": -1001234567890},
    )
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(-4001, "hi")
    assert caught.value.new_chat_id == -1001234567890


async def test_latency(api: BotAPIStandIn, bot: Bot) -> None:
    api.latency(0.2)
    started = time.monotonic()
    await bot.send_message(CHAT, "slow")
    assert time.monotonic() - started >= 0.2


# ---------------------------------------------------------------- getUpdates


async def test_long_poll_returns_pushed_update_promptly(api: BotAPIStandIn, bot: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=api.max_poll_timeout, read_timeout=60))
    await asyncio.to_thread(api.wait_for_long_poll)
    assert not poll.done()
    pushed = api.push_message("hello there")
    updates = await poll
    assert time.monotonic() - started < api.max_poll_timeout  # woken by the push, not timed out
    assert [u.update_id for u in updates] == [pushed["update_id"]]
    assert updates[0].message is not None and updates[0].message.text == "hello there"


async def test_long_poll_blocks_until_timeout(bot: Bot) -> None:
    started = time.monotonic()
    updates = await bot.get_updates(timeout=1)
    elapsed = time.monotonic() - started
    assert updates == ()
    assert elapsed >= 0.9  # it waited: for its own timeout (1 s), not the stand-in's cap (10 s)


async def test_offset_confirms_updates(api: BotAPIStandIn, bot: Bot) -> None:
    ids = [api.push_message(f"m{i}")["update_id"] for i in range(3)]
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == ids
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == ids  # not yet confirmed
    assert [u.update_id for u in await bot.get_updates(offset=ids[1], timeout=0)] == ids[1:]
    assert await bot.get_updates(offset=ids[-1] + 1, timeout=0) == ()
    assert api.pending_updates == []
    assert [u.update_id for u in await bot.get_updates(limit=1, timeout=0)] == []
    newer = api.push_message("later")
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [newer["update_id"]]
    assert newer["update_id"] == ids[-1] + 1


async def test_allowed_updates_filters(api: BotAPIStandIn, bot: Bot) -> None:
    api.push_inline_query("quake")
    message = api.push_message("hi")
    updates = await bot.get_updates(timeout=0, allowed_updates=["message"])
    assert [u.update_id for u in updates] == [message["update_id"]]


async def test_bot_command_entity_covers_bot_suffix(api: BotAPIStandIn, bot: Bot) -> None:
    api.push_message("/start@indopac_test_bot now @someone")
    (update,) = await bot.get_updates(timeout=0)
    assert update.message is not None
    command, mention = update.message.entities
    assert command.type == MessageEntity.BOT_COMMAND
    assert (command.offset, command.length) == (0, len("/start@indopac_test_bot"))
    assert mention.type == MessageEntity.MENTION
    assert update.message.parse_entity(mention) == "@someone"

    async def noop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        return None

    handler: CommandHandler[ContextTypes.DEFAULT_TYPE, None] = CommandHandler("start", noop)
    assert handler.check_update(update)


def test_auto_entities_use_utf16_offsets(api: BotAPIStandIn) -> None:
    update = api.push_message("😀 /help")
    (entity,) = update["message"]["entities"]
    assert entity == {"type": "bot_command", "offset": 3, "length": 5}


@pytest.mark.parametrize("status", ["kicked", "left", "member", "administrator", "restricted"])
async def test_my_chat_member_parses(api: BotAPIStandIn, bot: Bot, status: str) -> None:
    raw = api.push_my_chat_member(CHAT, new_status=status)
    update = Update.de_json(raw, bot)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == status
    blocked = status in ("kicked", "left")
    if blocked:
        with pytest.raises(Forbidden):
            await bot.send_message(CHAT, "still there?")
    else:
        await bot.send_message(CHAT, "welcome back")


# ---------------------------------------------------------------- editing, callbacks, inline


async def test_edit_message_text_updates_stored_message(api: BotAPIStandIn, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "draft", reply_markup=_keyboard(("ok", "ok")))
    edited = await bot.edit_message_text(
        "<i>final</i>", chat_id=CHAT, message_id=sent.message_id, parse_mode=ParseMode.HTML
    )
    assert not isinstance(edited, bool)
    assert edited.text == "final"
    assert edited.edit_date is not None
    (stored,) = api.chat_messages(CHAT)
    assert (stored.text, stored.plain_text, stored.edited) == ("<i>final</i>", "final", True)
    assert stored.reply_markup is None  # an edit without reply_markup removes the keyboard

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<i>final</i>", chat_id=CHAT, message_id=sent.message_id, parse_mode=ParseMode.HTML
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=999)

    await bot.edit_message_reply_markup(
        chat_id=CHAT, message_id=sent.message_id, reply_markup=_keyboard(("again", "again"))
    )
    assert api.buttons(CHAT, sent.message_id) == [[("again", "again")]]
    assert await bot.delete_message(CHAT, sent.message_id) is True
    assert api.chat_messages(CHAT) == []
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)


async def test_callback_query_carries_the_bot_message(api: BotAPIStandIn, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "<b>Pick</b>", "HTML", reply_markup=_keyboard(("A", "a")))
    api.push_callback_query("a", chat_id=CHAT)
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.data == "a"
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id
    assert query.message.text == "Pick"
    assert query.message.reply_markup == _keyboard(("A", "a"))
    assert await query.answer("done") is True
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await bot.answer_callback_query("not-a-real-id")


async def test_answer_inline_query_limits(api: BotAPIStandIn, bot: Bot) -> None:
    query_id = api.push_inline_query("taiwan")["inline_query"]["id"]

    def results(n: int) -> list[InlineQueryResultArticle]:
        return [
            InlineQueryResultArticle(str(i), f"T{i}", InputTextMessageContent(f"body {i}"))
            for i in range(n)
        ]

    with pytest.raises(BadRequest, match=r"(?i)RESULTS_TOO_MUCH"):
        await bot.answer_inline_query(query_id, results(51))
    with pytest.raises(BadRequest, match=r"(?i)RESULT_ID_DUPLICATE"):
        await bot.answer_inline_query(query_id, results(2) + results(1))
    bad_html = [
        InlineQueryResultArticle("x", "T", InputTextMessageContent("<b>x", parse_mode="HTML"))
    ]
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.answer_inline_query(query_id, bad_html)
    assert await bot.answer_inline_query(query_id, results(50)) is True
    call = api.calls_to("answerInlineQuery")[-1]
    assert isinstance(call.params["results"], list) and len(call.params["results"]) == 50
    assert call.params["results"][0]["type"] == "article"


async def test_commands_roundtrip(api: BotAPIStandIn, bot: Bot) -> None:
    assert await bot.set_my_commands([("start", "Start"), ("brief", "Latest brief")])
    commands = await bot.get_my_commands()
    assert [(c.command, c.description) for c in commands] == [
        ("start", "Start"),
        ("brief", "Latest brief"),
    ]
    assert api.my_commands() == [
        {"command": "start", "description": "Start"},
        {"command": "brief", "description": "Latest brief"},
    ]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad-Command", "x")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


# ---------------------------------------------------------------- protocol details


async def test_unknown_token_is_rejected(api: BotAPIStandIn) -> None:
    stranger = Bot("999:WRONG-TOKEN", base_url=api.base_url)
    with pytest.raises(InvalidToken):
        await stranger.initialize()
    await stranger.shutdown()


async def test_unknown_method_is_404_and_recorded(api: BotAPIStandIn, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("frobnicateWidgets")
    (call,) = api.calls_to("frobnicateWidgets")
    assert call.response == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }


async def test_raw_http_forms(api: BotAPIStandIn) -> None:
    url = f"{api.base_url}{api.token}"
    async with httpx.AsyncClient() as client:
        # case-insensitive method names, query string parameters
        response = await client.get(f"{url}/GETME")
        assert response.json()["result"]["username"] == "indopac_test_bot"
        # JSON body with a nested object
        markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        response = await client.post(
            f"{url}/sendmessage", json={"chat_id": CHAT, "text": "json", "reply_markup": markup}
        )
        assert response.json()["result"]["reply_markup"] == markup
        # multipart form with a JSON-encoded field and a file part
        response = await client.post(
            f"{url}/sendMessage",
            data={"chat_id": str(CHAT), "text": "123", "reply_markup": json.dumps(markup)},
            files={"document": ("a.txt", b"hello", "text/plain")},
        )
        assert response.status_code == 200, response.text
        # query string only
        response = await client.post(f"{url}/sendMessage?chat_id={CHAT}&text=q")
        assert response.json()["ok"]
        response = await client.post(f"{url}/nope")
        assert response.status_code == 404
        response = await client.post(f"{api.base_url}wrong/getMe")
        assert response.status_code == 401
        assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    multipart = api.calls[2]
    assert multipart.method == "sendMessage"
    assert multipart.params["text"] == "123"  # stays a string
    assert multipart.params["chat_id"] == CHAT
    assert multipart.params["reply_markup"] == markup
    assert multipart.params["document"]["content"] == b"hello"
    assert [m.plain_text for m in api.chat_messages(CHAT)] == ["json", "123", "q"]


async def test_concurrent_clients_get_unique_message_ids(api: BotAPIStandIn) -> None:
    url = f"{api.base_url}{api.token}/sendMessage"

    async def one(client: httpx.AsyncClient, i: int) -> int:
        response = await client.post(url, data={"chat_id": str(CHAT), "text": f"m{i}"})
        return int(response.json()["result"]["message_id"])

    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(limits=limits) as client:
        ids = await asyncio.gather(*(one(client, i) for i in range(100)))
    assert sorted(ids) == list(range(1, 101))
    assert len(api.calls_to("sendMessage")) == 100
    assert len(api.chat_messages(CHAT)) == 100


async def test_wait_helpers(api: BotAPIStandIn, bot: Bot) -> None:
    async def later() -> None:
        await asyncio.sleep(0.1)
        await bot.send_message(CHAT, "eventually")

    task = asyncio.create_task(later())
    message = await api.wait_for_message(CHAT, lambda m: "eventually" in m.text)
    assert message.text == "eventually"
    calls = await api.wait_for("sendMessage", count=1)
    assert len(calls) == 1
    await task
    with pytest.raises(TimeoutError, match=r"sendMessage .*eventually"):
        await api.wait_for("sendMessage", count=2, timeout=0.2)
    with pytest.raises(TimeoutError, match=r"messages there: \['eventually'\]"):
        await api.wait_for_message(CHAT, lambda m: m.text == "no such text", timeout=0.1)


def test_reset_keeps_update_ids_increasing(api: BotAPIStandIn) -> None:
    first = api.push_message("a")["update_id"]
    api.fail_next("sendMessage", 500, "x")
    api.reset()
    assert api.calls == [] and api.pending_updates == [] and api.chat_messages(CHAT) == []
    assert api.push_message("b")["update_id"] == first + 1


def test_stop_unblocks_long_poll_and_closes_cleanly() -> None:
    api = BotAPIStandIn(max_poll_timeout=600).start()
    url = f"{api.base_url}{api.token}/getUpdates?timeout=600"
    results: list[dict[str, object]] = []

    def poll() -> None:
        with httpx.Client() as client:
            results.append(client.post(url, timeout=700).json())

    thread = threading.Thread(target=poll)
    thread.start()
    api.wait_for_long_poll()
    started = time.monotonic()
    api.stop()
    thread.join(timeout=600)
    assert not thread.is_alive()
    assert time.monotonic() - started < 600  # unblocked by the stop, not by its timeout
    assert results == [{"ok": True, "result": []}]
    api.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, timeout=1)


def test_parse_html_helpers() -> None:
    text, entities = parse_html("<b>a<i>😀</i></b>")
    assert text == "a😀"
    assert utf16_len(text) == 3
    assert entities == [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "italic", "offset": 1, "length": 2},
    ]


# ---------------------------------------------------------------- a real Application


async def test_application_polls_the_standin(api: BotAPIStandIn) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html(
            "<b>Welcome</b>", reply_markup=_keyboard(("Brief", "brief"))
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"You chose {query.data}")

    app = (
        ApplicationBuilder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        await app.start()
        try:
            api.push_message("/start")
            welcome = await api.wait_for_message(CHAT)
            assert welcome.plain_text == "Welcome"
            assert welcome.buttons == [[("Brief", "brief")]]
            api.push_callback_query("brief", chat_id=CHAT, message_id=welcome.message_id)
            edited = await api.wait_for_message(CHAT, lambda m: m.edited)
            assert edited.text == "You chose brief"
            await api.wait_for("answerCallbackQuery", lambda c: c.ok)
        finally:
            await app.updater.stop()
            await app.stop()


def test_in_process_call_answers_and_records_like_http() -> None:
    engine = BotAPI()
    ok = engine.call("sendmessage", {"chat_id": CHAT, "text": "<b>hi</b>", "parse_mode": "HTML"})
    assert ok["ok"] and ok["result"]["text"] == "hi"
    bad = engine.call("sendMessage", {"chat_id": CHAT, "text": "<b>hi", "parse_mode": "HTML"})
    assert bad["error_code"] == 400 and "can't parse entities" in bad["description"]
    assert [c.method for c in engine.calls] == ["sendMessage", "sendMessage"]
    engine.push_message("/start")
    assert [u["message"]["text"] for u in engine.take_updates()] == ["/start"]
    assert engine.pending_updates == []


def test_python_dash_m_serves_until_interrupted() -> None:
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "bot.standin", "--port", str(port), "--token", "1:T"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # printed once the socket listens
            assert f"http://127.0.0.1:{port}/bot" in first
            me = httpx.get(f"http://127.0.0.1:{port}/bot1:T/getMe").json()
            assert me["result"]["username"] == "indopac_test_bot"
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=300) == 0


# ---------------------------------------------------------------- faults for digests


async def test_fail_chat_hits_only_that_chat(api: BotAPIStandIn, bot: Bot) -> None:
    api.fail_chat(CHAT, 429, "Too Many Requests: retry after 2", {"retry_after": 2})
    await bot.send_message(CHAT + 1, "another chat goes through")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "hello")
    assert caught.value.retry_after == dtm.timedelta(seconds=2)
    await bot.send_message(CHAT, "hello")
    assert [m.text for m in api.chat_messages(CHAT)] == ["hello"]


async def test_migrated_group_answers_with_the_new_id(api: BotAPIStandIn, bot: Bot) -> None:
    api.migrate_chat(-42, -1_000_000_000_042)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(-42, "to the old group")
    assert caught.value.new_chat_id == -1_000_000_000_042
    await bot.send_message(-1_000_000_000_042, "to the supergroup")
    assert api.chat_messages(-42) == []


async def test_answer_late_carries_out_the_send_but_answers_after_the_timeout(
    api: BotAPIStandIn, bot: Bot
) -> None:
    api.answer_late(CHAT, seconds=5.0)
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "did it arrive?", read_timeout=0.2)
    assert [m.text for m in api.chat_messages(CHAT)] == ["did it arrive?"]  # it did
    await bot.send_message(CHAT, "on time", read_timeout=60)  # only the next send was late


async def test_held_answers_wait_for_the_release_however_long_the_client_waits(
    api: BotAPIStandIn, bot: Bot
) -> None:
    api.hold_answers(CHAT)
    with pytest.raises(TimedOut):  # the answer never comes before the release
        await bot.send_message(CHAT, "did it arrive?", read_timeout=0.2)
    assert [m.text for m in api.chat_messages(CHAT)] == ["did it arrive?"]  # it did
    assert api.held(CHAT) == 1
    api.release_answers()
    await bot.send_message(CHAT, "on time", read_timeout=60)  # only one send was held
    api.hold_answers(CHAT)
    api.reset()  # a reset releases holds too: nothing is held for the next test
    await bot.send_message(CHAT, "after the reset", read_timeout=60)


async def test_get_chat_member_and_administrators(api: BotAPIStandIn, bot: Bot) -> None:
    api.set_chat_admins(-77, [5, 6])
    assert (await bot.get_chat_member(-77, 5)).status == "creator"
    assert (await bot.get_chat_member(-77, 6)).status == "administrator"
    member = await bot.get_chat_member(-77, 7)
    assert member.status == "member" and member.user.id == 7
    admins = await bot.get_chat_administrators(-77)
    assert [a.user.id for a in admins] == [5, 6]


async def test_forum_topic_is_recorded_and_echoed(api: BotAPIStandIn, bot: Bot) -> None:
    message = await bot.send_message(-1_000_000_000_077, "in a topic", message_thread_id=9)
    assert message.message_thread_id == 9 and message.is_topic_message
    (sent,) = api.chat_messages(-1_000_000_000_077)
    assert sent.message_thread_id == 9
