"""What readers choose, end to end: the real Application over real HTTP against the Bot API
stand-in, a real BriefService on its own SQLite database and the real embedder. Mute words hide
stories from answers, digests, /latest and inline results (and unmuting brings them back);
pattern-like and huge mutes get a clear message; a state-media story shows its tag; a hidden
kind of outlet stays hidden."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from bot import callbacks, texts
from bot.standin import BotAPIStandIn, SentMessage
from knowledge.build import build_service
from knowledge.ingest import Draft
from knowledge.service import BriefService
from knowledge.settings import Settings, load_settings
from tests.bot.conftest import press, running

ADMIN_ID = 4343
NOW = datetime.now(UTC)

XINHUA = "China's navy holds live-fire drills in the Taiwan Strait"
DESTROYER = "US destroyer sails through the Taiwan Strait"
CRICKET = "India beat Australia in a cricket thriller in Perth"

STORIES: list[dict[str, Any]] = [
    {
        "url": "https://english.news.cn/20251031/drills.htm",
        "title": XINHUA,
        "source": "Xinhua",
        "text": (
            "The People's Liberation Army Eastern Theater Command held live-fire drills in the "
            "Taiwan Strait on Friday, sending warships and aircraft around Taiwan. The command "
            "said the exercises were a stern warning to separatist forces on the island."
        ),
    },
    {
        "url": "https://www.reuters.com/world/asia-pacific/destroyer-transit",
        "title": DESTROYER,
        "source": "Reuters",
        "text": (
            "A US Navy destroyer sailed through the Taiwan Strait in a routine transit, the "
            "Seventh Fleet said. China's military said it tracked the ship and kept its forces "
            "on high alert around Taiwan."
        ),
    },
    {
        "url": "https://sport.example.com/cricket-perth",
        "title": CRICKET,
        "source": "Example Sport",
        "text": (
            "India beat Australia by two wickets in a tense cricket test match in Perth. The "
            "visiting batsmen chased down the target on the final day of the series opener."
        ),
    },
]


@pytest.fixture(scope="module")
def rapi() -> Iterator[BotAPIStandIn]:
    """A stand-in of this module's own: no other Application polls it."""
    with BotAPIStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def rsettings(rapi: BotAPIStandIn, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = load_settings(
        db=tmp_path_factory.mktemp("readers") / "brief.db",
        admin_ids=(ADMIN_ID,),
        telegram_token=rapi.token,
        telegram_api_url=rapi.base_url,
        webhook_url="",
        rate_limits=False,
        brief_size=5,
        poll=False,
    )
    # no region topics: every story is in /latest and in the digest's one section
    return settings.model_copy(update={"topics": {}})


@pytest.fixture(scope="module")
def rservice(rsettings: Settings, bot_embedder: object) -> Iterator[BriefService]:
    svc = build_service(rsettings, embedder=bot_embedder)  # type: ignore[arg-type]
    records = [{**story, "published": NOW.isoformat()} for story in STORIES]
    report = svc.import_records(list(enumerate(records, 1)))
    assert report.imported == len(STORIES) and not report.linked, report
    svc.warm_up()
    yield svc
    svc.close()


@pytest.fixture(scope="module")
async def rapp(
    rsettings: Settings, rservice: BriefService, rapi: BotAPIStandIn
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    async with running(rsettings, rservice) as app:
        yield app


@pytest.fixture
async def api(rapp: Application, rapi: BotAPIStandIn) -> AsyncIterator[BotAPIStandIn]:  # type: ignore[type-arg]
    rapi.reset()
    yield rapi
    assert not rapi.errors, rapi.errors


_users = iter(range(77_000, 78_000))


@pytest.fixture
def reader() -> int:
    """A fresh user (and private chat) per test."""
    return next(_users)


async def say(api: BotAPIStandIn, text: str, user_id: int) -> SentMessage:
    """Send `text` as the user in their private chat; the bot's first new message there."""
    before = {m.message_id for m in api.chat_messages(user_id)}
    api.push_message(text, chat_id=user_id, user_id=user_id)
    return await api.wait_for_message(user_id, lambda m: m.message_id not in before)


async def inline_titles(api: BotAPIStandIn, query: str, user_id: int) -> list[str]:
    """The titles of the inline results the user gets for `query`."""
    update = api.push_inline_query(query, user_id=user_id)
    query_id = update["inline_query"]["id"]
    (call,) = await api.wait_for(
        "answerInlineQuery", lambda c: str(c.params.get("inline_query_id")) == query_id
    )
    assert call.ok, call.description
    assert call.params["is_personal"] is True  # the results follow this user's mutes
    return [r["title"] for r in call.params["results"]]


async def inline_cards(api: BotAPIStandIn, query: str, user_id: int) -> list[dict[str, Any]]:
    update = api.push_inline_query(query, user_id=user_id)
    query_id = update["inline_query"]["id"]
    (call,) = await api.wait_for(
        "answerInlineQuery", lambda c: str(c.params.get("inline_query_id")) == query_id
    )
    results: list[dict[str, Any]] = call.params["results"]
    return results


async def press_and_see(
    api: BotAPIStandIn, data: str, user_id: int, message: SentMessage
) -> SentMessage:
    """Press a button under `message`; the message once the bot has edited it."""
    edits = len(api.calls_to("editMessageText"))
    await press(api, data, user_id, message.message_id)
    await api.wait_for("editMessageText", count=edits + 1)
    return next(m for m in api.chat_messages(user_id) if m.message_id == message.message_id)


def is_digest(message: SentMessage) -> bool:
    return message.plain_text.startswith("Indo-Pacific digest")


async def digest(api: BotAPIStandIn, user_id: int) -> SentMessage:
    before = {m.message_id for m in api.chat_messages(user_id)}
    api.push_message("/digest", chat_id=user_id, user_id=user_id)
    return await api.wait_for_message(
        user_id, lambda m: m.message_id not in before and is_digest(m)
    )


async def test_a_muted_word_hides_a_story_everywhere_and_unmuting_brings_it_back(
    api: BotAPIStandIn, reader: int
) -> None:
    before = await say(api, "/brief Taiwan Strait", reader)
    assert XINHUA in before.plain_text and DESTROYER in before.plain_text
    assert "hidden" not in before.plain_text

    muted = await say(api, "/mute DESTROYER", reader)
    assert muted.plain_text.startswith("Muted DESTROYER: stories that mention it are left out")

    answer = await say(api, "/brief Taiwan Strait", reader)
    assert XINHUA in answer.plain_text and DESTROYER not in answer.plain_text
    assert "1 story hidden by your mutes (/mutes)" in answer.plain_text.splitlines()[1]

    latest = await say(api, "/latest", reader)
    assert XINHUA in latest.plain_text and DESTROYER not in latest.plain_text
    assert "1 story hidden by your mutes" in latest.plain_text

    daily = await digest(api, reader)
    assert XINHUA in daily.plain_text and CRICKET in daily.plain_text
    assert DESTROYER not in daily.plain_text
    assert "1 story hidden by your mutes" in daily.plain_text.splitlines()[1]

    titles = await inline_titles(api, "Taiwan Strait", reader)
    assert XINHUA in titles and DESTROYER not in titles
    assert DESTROYER in await inline_titles(api, "Taiwan Strait", reader + 500)  # others: no

    # everything found is muted: the chat is told so, not "nothing on that"
    await say(api, "/mute cricket", reader)
    only_cricket = await say(api, "/brief cricket in Perth", reader)
    assert only_cricket.plain_text.startswith("Everything I found is hidden here: 1 story")

    unmuted = await say(api, "/unmute destroyer", reader)
    assert unmuted.plain_text == "Unmuted DESTROYER: stories that mention it are back."
    again = await say(api, "/brief Taiwan Strait", reader)
    assert DESTROYER in again.plain_text and "hidden" not in again.plain_text
    assert DESTROYER in (await digest(api, reader)).plain_text
    assert DESTROYER in await inline_titles(api, "Taiwan Strait", reader)
    assert DESTROYER in (await say(api, "/latest", reader)).plain_text


async def test_mutes_match_whole_words_not_parts_of_words(api: BotAPIStandIn, reader: int) -> None:
    await say(api, "/mute Strai", reader)  # a part of "Strait" mutes nothing
    answer = await say(api, "/brief Taiwan Strait", reader)
    assert XINHUA in answer.plain_text and DESTROYER in answer.plain_text
    await say(api, "/mute  taiwan   strait ", reader)  # a phrase, any case and spacing
    hidden = await say(api, "/brief Taiwan Strait", reader)
    assert hidden.plain_text.startswith("Everything I found is hidden here: 2 stories hidden")


@pytest.mark.parametrize(
    ("mute", "expected"),
    [
        (".*", "“.*” looks like a pattern. Mutes are plain words or phrases"),
        ("(xi|li)", "send one per word, e.g. /mute xi, then /mute li."),
        (r"\bTaiwan\b", "looks like a pattern"),
        ("[Tt]aiwan", "looks like a pattern"),
        ("taiwan*", "never patterns or wildcards"),
        ("!!!", "“!!!” has no letters or digits"),
    ],
)
async def test_a_pattern_like_mute_is_refused_with_a_clear_message(
    api: BotAPIStandIn, reader: int, mute: str, expected: str
) -> None:
    reply = await say(api, f"/mute {mute}", reader)
    assert reply.plain_text.startswith("Sorry, I can't do that: ")
    assert expected in reply.plain_text
    listed = await say(api, "/mutes", reader)
    assert listed.plain_text.startswith("Nothing is muted or hidden here.")
    answer = await say(api, "/brief Taiwan Strait", reader)  # and nothing is hidden
    assert XINHUA in answer.plain_text and DESTROYER in answer.plain_text


async def test_a_10000_character_mute_is_refused_with_a_clear_message(
    api: BotAPIStandIn, reader: int
) -> None:
    mute = ("taiwan " * 1430)[:9_999] + "x"
    assert len(mute) == 10_000
    reply = await say(api, "/mute " + mute, reader)
    assert reply.plain_text == (
        "Sorry, I can't do that: That mute is 10,000 characters long; a mute is a word or a "
        "short phrase of at most 60 characters."
    )
    assert (await say(api, "/mutes", reader)).plain_text.startswith("Nothing is muted")


async def test_metacharacters_are_plain_text(
    api: BotAPIStandIn, reader: int, rservice: BriefService
) -> None:
    reply = await say(api, "/mute C++", reader)
    assert reply.plain_text.startswith("Muted C++:")
    assert rservice.mutes(reader) == ("C++",)
    # "C++" as literal text: the Taiwan stories do not hold it
    answer = await say(api, "/brief Taiwan Strait", reader)
    assert "hidden" not in answer.plain_text


async def test_mutes_lists_them_with_buttons_that_remove_them(
    api: BotAPIStandIn, reader: int, rservice: BriefService
) -> None:
    await say(api, "/mute cricket", reader)
    await say(api, "/mute South China Sea", reader)
    await say(api, "/hide state media", reader)
    again = await say(api, "/mute Cricket", reader)
    assert again.plain_text == "Cricket is muted already. /mutes lists your mutes."
    listed = await say(api, "/mutes", reader)
    assert listed.plain_text.splitlines() == [
        "Mutes and hidden kinds",
        "Muted (2 of 50): “cricket”, “South China Sea”",
        "Hidden kinds of outlet: state media",
        texts.MUTES_HINT,
    ]
    assert [text for row in listed.buttons for text, _ in row] == [
        "✕ cricket",
        "✕ South China Sea",
        "✕ hidden: state media",
    ]
    first = listed.callback_data[0]
    assert first == callbacks.encode(callbacks.Unmute(callbacks.mute_token("cricket")))
    edited = await press_and_see(api, first, reader, listed)
    assert "“cricket”" not in edited.plain_text and "Muted (1 of 50)" in edited.plain_text
    assert rservice.mutes(reader) == ("South China Sea",)
    await press_and_see(api, edited.callback_data[-1], reader, listed)
    assert rservice.hidden_kinds(reader) == ()


async def test_too_many_mutes_get_a_clear_message(
    api: BotAPIStandIn, reader: int, rservice: BriefService, rsettings: Settings
) -> None:
    for n in range(rsettings.mute_max_count):
        rservice.mute(reader, f"word{n}")
    reply = await say(api, "/mute one more", reader)
    assert reply.plain_text == (
        "Sorry, I can't do that: This chat has 50 mutes already, the most it can have; /mutes "
        "lists them with buttons to remove one."
    )
    assert len(rservice.mutes(reader)) == 50


async def test_a_state_media_story_shows_its_tag(api: BotAPIStandIn, reader: int) -> None:
    answer = await say(api, "/brief Taiwan Strait drills", reader)
    lines = answer.plain_text.splitlines()
    assert any(line.startswith("Xinhua · state media · ") for line in lines), lines
    assert any(line.startswith("Reuters · wire · ") for line in lines), lines
    assert any(
        line.startswith("Example Sport · ")
        for line in (await say(api, "/latest", reader)).plain_text.splitlines()
    )
    daily = await digest(api, reader)
    assert "Xinhua · state media · " in daily.plain_text
    cards = await inline_cards(api, "Taiwan Strait drills", reader)
    xinhua = next(c for c in cards if c["title"] == XINHUA)
    assert xinhua["description"].startswith("Xinhua · state media · ")
    assert "\nXinhua · state media · " in xinhua["input_message_content"]["message_text"]


async def test_a_hidden_kind_stays_hidden(
    api: BotAPIStandIn,
    reader: int,
    rservice: BriefService,
    rsettings: Settings,
    rapi: BotAPIStandIn,
) -> None:
    reply = await say(api, "/hide State-Media", reader)
    assert reply.plain_text.startswith("Hidden: stories from state media outlets are left out")
    answer = await say(api, "/brief Taiwan Strait", reader)
    assert XINHUA not in answer.plain_text and DESTROYER in answer.plain_text
    assert "1 story from hidden kinds of outlet (/mutes)" in answer.plain_text
    assert XINHUA not in (await say(api, "/latest", reader)).plain_text
    daily = await digest(api, reader)
    assert XINHUA not in daily.plain_text and "1 story from hidden kinds" in daily.plain_text
    assert XINHUA not in await inline_titles(api, "Taiwan Strait", reader)

    # a new state-media story arrives (by its domain alone, no name given): hidden too
    later = "Global Times says the drills around Taiwan will go on"
    outcome = rservice.ingest(
        [
            Draft(
                url="https://www.globaltimes.cn/page/202510/1.shtml",
                title=later,
                text=(
                    "The drills around Taiwan will continue as long as separatists provoke, an "
                    "editorial said, warning the United States against sending warships."
                ),
                source="globaltimes.cn",
                published=NOW,
            )
        ]
    )
    assert outcome[0].status.value in ("stored", "linked")
    assert later not in (await say(api, "/brief Taiwan drills", reader)).plain_text
    assert later in (await say(api, "/brief Taiwan drills", reader + 500)).plain_text

    # and after a restart: a new Application on the same database
    async with running(rsettings, rservice):
        still = await say(api, "/brief Taiwan Strait", reader)
        assert XINHUA not in still.plain_text

    shown = await say(api, "/show state media", reader)
    assert shown.plain_text == "Showing state media outlets again."
    assert XINHUA in (await say(api, "/brief Taiwan Strait", reader)).plain_text


async def test_hide_without_a_kind_offers_buttons(
    api: BotAPIStandIn, reader: int, rservice: BriefService
) -> None:
    menu = await say(api, "/hide", reader)
    assert menu.plain_text.startswith("Tap a kind to hide it here")
    labels = [text for row in menu.buttons for text, _ in row]
    assert labels == [
        "hide state media",
        "hide government",
        "hide wire",
        "hide independent",
        "hide think tank",
    ]
    edited = await press_and_see(api, menu.callback_data[2], reader, menu)
    assert rservice.hidden_kinds(reader) == ("wire",)
    assert "✓ hidden: wire" in [text for row in edited.buttons for text, _ in row]
    bad = await say(api, "/hide tabloids", reader)
    assert bad.plain_text.startswith("Sorry, I can't do that: “tabloids” is not a kind of outlet")


async def test_an_admin_sets_a_sources_kind_and_others_are_refused(
    api: BotAPIStandIn, reader: int, rservice: BriefService
) -> None:
    rservice.store.sources.add("https://blog.example.org/feed", "feed", "Example Blog", None)
    source = rservice.store.sources.by_url("https://blog.example.org/feed")
    assert source is not None
    title = "Analysts weigh the Taiwan Strait drills"
    rservice.ingest(
        [
            Draft(
                url="https://blog.example.org/analysis",
                title=title,
                text=(
                    "Analysts at the institute weighed what the Taiwan Strait drills say "
                    "about the People's Liberation Army's readiness for a blockade."
                ),
                source="Example Blog",
                published=NOW,
                source_id=source.id,
            )
        ]
    )
    refused = await say(api, f"/sourcekind {source.id} think tank", reader)
    assert refused.plain_text == "Sorry, /sourcekind is only for the bot's admins."
    assert all(s.outlet_kind == "unknown" for s in rservice.list_sources() if s.id == source.id)

    done = await say(api, f"/sourcekind {source.id} think tank", ADMIN_ID)
    assert done.plain_text == f"Source #{source.id} Example Blog is now: think tank."
    answer = await say(api, "/brief Taiwan Strait drills analysts", reader)
    assert "Example Blog · think tank · " in answer.plain_text
    usage = await say(api, "/sourcekind 1", ADMIN_ID)
    assert usage.plain_text.startswith("Send /sourcekind ID KIND")
    bad = await say(api, f"/sourcekind {source.id} tabloid", ADMIN_ID)
    assert "is not a kind of outlet" in bad.plain_text
    missing = await say(api, "/sourcekind 98765 wire", ADMIN_ID)
    assert missing.plain_text == "There is no source #98765. /sources lists them."


def test_the_outlet_table_file_is_shipped(rsettings: Settings) -> None:
    assert Path(__file__).parents[2].joinpath("config", "outlets.toml").is_file()


async def test_in_a_group_only_its_admins_change_mutes_and_everyone_sees_them(
    api: BotAPIStandIn, rservice: BriefService
) -> None:
    gid, admin, member = -7700, 7701, 7702
    api.set_chat_admins(gid, [admin])

    async def group_say(text: str, user: int) -> SentMessage:
        before = {m.message_id for m in api.chat_messages(gid)}
        api.push_message(text, chat_id=gid, user_id=user, chat_type="group")
        return await api.wait_for_message(gid, lambda m: m.message_id not in before)

    refused = await group_say("/mute destroyer", member)
    assert refused.plain_text == texts.MUTES_GROUP
    assert (await group_say("/hide wire", member)).plain_text == texts.MUTES_GROUP
    assert rservice.mutes(gid) == () and rservice.hidden_kinds(gid) == ()
    await group_say("/mute destroyer", admin)
    listed = await group_say("/mutes", member)  # anyone may look
    assert "“destroyer”" in listed.plain_text
    update = api.push_callback_query(
        listed.callback_data[0], chat_id=gid, user_id=member, message_id=listed.message_id
    )
    query_id = update["callback_query"]["id"]
    (answer,) = await api.wait_for(
        "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
    )
    assert answer.params.get("text") == texts.MUTES_GROUP
    assert rservice.mutes(gid) == ("destroyer",)
    answer_in_group = await group_say("/brief Taiwan Strait", member)
    assert DESTROYER not in answer_in_group.plain_text
    assert "1 story hidden by your mutes" in answer_in_group.plain_text
