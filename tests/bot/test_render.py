"""Unit tests of the pure parts: render.py and callbacks.py."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot import callbacks, render, texts
from bot.app import file_url
from bot.handlers.chat import payload_query
from bot.standin import parse_html, utf16_len
from knowledge.models import Article, Brief, Coverage, Hit, Stats


def hit(
    title: str = "Title",
    url: str | None = "https://example.com/a",
    summary: str = "First sentence. Second sentence. Third sentence.",
    published: datetime | None = datetime(2025, 10, 31, 8, tzinfo=UTC),
    also: tuple[Coverage, ...] = (),
    article_id: int = 1,
) -> Hit:
    article = Article(
        id=article_id,
        url=url,
        title=title,
        source="Outlet",
        published=published,
        fetched=datetime(2025, 11, 1, tzinfo=UTC),
        summary=summary,
    )
    return Hit(article=article, score=1.0, similarity=0.6, also=also)


def test_render_hit_has_linked_title_source_date_summary_and_coverage() -> None:
    also = (Coverage("Wire A", "https://a.example/x"), Coverage("Paper B", None))
    assert render.render_hit(hit(also=also), number=3) == (
        '<b>3. <a href="https://example.com/a">Title</a></b>\n'
        "Outlet · 31 Oct 2025\n"
        "First sentence. Second sentence.\n"
        '<i>also:</i> <a href="https://a.example/x">Wire A</a>, Paper B'
    )


def test_render_hit_without_url_or_date() -> None:
    assert render.render_hit(hit(url=None, published=None, summary="Only one.")) == (
        "<b>Title</b>\nOutlet\nOnly one."
    )


def test_every_field_is_escaped() -> None:
    item = render.render_hit(
        hit(title="a<b>&c", url='https://x.example/?a="1"&b=<2>', summary="x < y & z.")
    )
    assert item == (
        '<b><a href="https://x.example/?a=&quot;1&quot;&amp;b=&lt;2&gt;">a&lt;b&gt;&amp;c</a></b>'
        "\nOutlet · 31 Oct 2025\nx &lt; y &amp; z."
    )
    plain, _ = parse_html(item)
    assert plain.startswith("a<b>&c\n")


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ("One. Two! Three? Four.", "One. Two!"),
        ("No full stop here", "No full stop here"),
        (
            "Mr. Smith went. Then U.S. officials spoke. Later.",
            "Mr. Smith went. Then U.S. officials spoke.",
        ),
        ("", ""),
    ],
)
def test_short_summary_takes_one_or_two_sentences(summary: str, expected: str) -> None:
    assert render.short_summary(summary) == expected


def test_short_summary_is_capped() -> None:
    long = "word " * 500
    out = render.short_summary(long, limit=100)
    assert len(out) <= 100 and out.endswith("…")


def test_format_date() -> None:
    assert render.format_date(datetime(2025, 1, 5, tzinfo=UTC)) == "5 Jan 2025"
    assert render.format_date(None) == ""


def test_render_brief_fits_in_one_message_with_page_note() -> None:
    brief = Brief("q", (hit(article_id=1), hit(article_id=2)), offset=5, total=12)
    (message,) = render.render_brief(brief, render.brief_heading("Taiwan & <Co>"))
    assert message.startswith(
        "<b>Brief: Taiwan &amp; &lt;Co&gt;</b>\n<i>stories 6–7 of 12</i>\n\n"
    )
    assert "<b>6. <a" in message and "<b>7. <a" in message


def test_split_on_item_boundaries_within_the_limit() -> None:
    hits = tuple(
        hit(title=f"T{i} " + "x" * 200, summary="S. " * 200, article_id=i) for i in range(40)
    )
    parts = render.render_brief(Brief("q", hits, total=40), "<b>Head</b>", limit=1000)
    assert len(parts) > 5
    for part in parts:
        assert utf16_len(part) <= 1000
        parse_html(part)
    joined = "\n\n".join(parts)
    assert [f"<b>{i}. " in joined for i in range(1, 41)] == [True] * 40


def test_a_single_overlong_item_has_its_summary_trimmed() -> None:
    big = hit(summary="A very long sentence " * 300 + ".")
    (part,) = render.render_brief(Brief("q", (big,), total=1), "<b>H</b>", limit=300)
    assert utf16_len(part) <= 300
    assert part.startswith(
        '<b>H</b>\n<i>stories 1–1 of 1</i>\n\n<b>1. <a href="https://example.com/a">'
    )
    parse_html(part)


@pytest.mark.parametrize("room", [120, 200, 400])
def test_a_long_item_keeps_its_number_and_link_in_the_short_form(room: int) -> None:
    also = tuple(Coverage(f"Wire {i}", f"https://w{i}.example/" + "p" * 80) for i in range(9))
    long = hit(title="Scarborough & Shoal standoff " * 12, summary="S. " * 200, also=also)
    item = render.fit_hit(long, 7, room)
    assert utf16_len(item) <= room
    assert item.startswith('<b>7. <a href="https://example.com/a">Scarborough &amp; Shoal')
    plain, entities = parse_html(item)
    assert plain.startswith("7. Scarborough & Shoal standoff")
    assert {"type": "text_link", "url": "https://example.com/a"}.items() <= next(
        e for e in entities if e["type"] == "text_link"
    ).items()


def test_the_short_form_drops_a_link_only_when_the_url_alone_does_not_fit() -> None:
    long = hit(title="Title " * 50, url="https://example.com/" + "x" * 300, summary="S. " * 9)
    item = render.fit_hit(long, 3, 100)
    assert utf16_len(item) <= 100
    assert item.startswith("<b>3. Title Title")
    parse_html(item)


def test_length_is_counted_in_utf16_units() -> None:
    assert render.tg_len("🇹🇼") == 4
    assert render.tg_len("abc") == 3
    hits = tuple(hit(title="🌊" * 100, article_id=i) for i in range(30))
    for part in render.render_brief(Brief("q", hits, total=30), "<b>H</b>", limit=1000):
        assert utf16_len(part) <= 1000


def test_pack_never_splits_an_item() -> None:
    assert render.pack("H", ["aaaa", "bbbb", "cccc"], limit=10) == ["H\n\naaaa", "bbbb\n\ncccc"]


def test_help_lists_every_command_once() -> None:
    text = render.render_help("some_bot")
    for name, _ in texts.COMMANDS + texts.ADMIN_COMMANDS:
        assert text.count(f"/{name} – ") == 1
    parse_html(text)


def test_stats_and_durations() -> None:
    stats = Stats(
        articles=10,
        stories=8,
        sources=2,
        chats=3,
        last_ingest=datetime(2025, 10, 31, 9, 30, tzinfo=UTC),
        db_path="/tmp/x.db",
        db_bytes=1536,
        schema_version=1,
        store="SQLite /tmp/x.db",
    )
    text = render.render_stats(stats, timedelta(days=1, hours=2, minutes=3))
    plain, _ = parse_html(text)
    assert plain.splitlines() == [
        "Bot status",
        "articles: 10",
        "stories: 8",
        "sources: 2",
        "chats: 3",
        "uptime: 1d 2h 3m",
        "last ingest: 31 Oct 2025 09:30",
        "store: SQLite /tmp/x.db (1.5 KB, schema 1)",
    ]
    assert render.format_duration(timedelta(seconds=59)) == "0m"
    assert render.format_bytes(10) == "10 B"


def test_inline_card() -> None:
    card = render.inline_card(hit(title="T & U", summary="One. Two."))
    assert (card.id, card.title, card.url) == ("a1", "T & U", "https://example.com/a")
    assert card.description == "Outlet · 31 Oct 2025 — One."
    assert card.message.startswith('<b><a href="https://example.com/a">T &amp; U</a></b>')


def test_keyboards() -> None:
    from knowledge.models import Topic

    topics = [Topic(f"L{i}", f"q{i}") for i in range(5)]
    rows = render.topic_keyboard(topics, limit=3).inline_keyboard
    assert [[(b.text, b.callback_data) for b in row] for row in rows] == [
        [("L0", "topic:0"), ("L1", "topic:1")],
        [("L2", "topic:2")],
    ]
    more = render.more_keyboard(callbacks.LatestPage(4)).inline_keyboard
    assert [(b.text, b.callback_data) for b in more[0]] == [("More ▸", "latest:4")]


# --- callbacks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "callback",
    [callbacks.MorePage("abcdEFGH", 5), callbacks.LatestPage(10), callbacks.TopicPick(3)],
)
def test_callbacks_round_trip(callback: callbacks.Callback) -> None:
    data = callbacks.encode(callback)
    assert len(data.encode()) <= 64
    assert callbacks.parse(data) == callback


@pytest.mark.parametrize(
    "data",
    [
        "",
        "garbage",
        "more:",
        "more:tok",
        "more:tok:x",
        "more::3",
        "more:tok:0",  # the bot's More buttons start past the first page
        "latest:0",
        "topic:-1",
        "topic:١",
        "latest:99999999",
        "more:" + "t" * 40 + ":1",
        None,
        42,
    ],
)
def test_garbage_callbacks_parse_to_none(data: object) -> None:
    assert callbacks.parse(data) is None


def test_encode_refuses_more_than_64_bytes() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        callbacks.encode(callbacks.MorePage("x" * 60, 1))


def test_query_store_is_bounded_and_binds_tokens_to_their_chat_and_message() -> None:
    store = callbacks.QueryStore(capacity=3)
    first = store.put("a very long query " * 50, chat_id=7)
    assert store.get(first, 7) == callbacks.StoredQuery(
        "a very long query " * 50, "a very long query " * 50, 7
    )
    assert store.get(first, 8) is None  # another chat's token
    store.bind(first, 7, 70)
    assert store.get(first, 7, 70) is not None
    assert store.get(first, 7, 71) is None  # another message of the same chat
    assert store.put("a very long query " * 50, chat_id=7) != first  # a token per button
    for q in ("b", "c"):
        store.put(q, chat_id=7)
    assert len(store) == 3
    assert store.get(first, 7, 70) is None  # dropped, least recently used
    assert len(callbacks.encode(callbacks.MorePage(store.put("e"), 9999)).encode()) <= 64


def test_payload_query_and_file_url() -> None:
    assert payload_query("Scarborough_Shoal") == "Scarborough Shoal"
    assert payload_query("South-China_Sea") == "South China Sea"
    assert payload_query("bad payload!") is None
    assert payload_query("x" * 65) is None
    assert payload_query("___") is None
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:9/bot/") == "http://127.0.0.1:9/file/bot"


# --- what goes to Telegram: no control characters, bidi closed, no giant URLs -----------------


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("plain", "plain"),
        ("NUL\x00 ESC\x1b[31m DEL\x7f C1\x85", "NUL ESC[31m DEL C1"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("\u202eevil", "\u202eevil\u202c"),  # an override closed where its field ends
        ("\u2067rtl \u202bnested", "\u2067rtl \u202bnested\u202c\u2069"),
        ("closed \u202eok\u202c after", "closed \u202eok\u202c after"),
        ("stray \u202c and \u2069 closers", "stray  and  closers"),
        ("\u2066a\u202c\u2069", "\u2066a\u2069"),  # a PDF cannot close an isolate
    ],
)
def test_clean_strips_controls_and_closes_bidi(raw: str, cleaned: str) -> None:
    assert render.clean(raw) == cleaned


def test_an_unclosed_override_in_a_title_or_source_never_runs_over_the_date() -> None:
    item = hit(title="\x00Evil\x1b title \u202eesrever")
    item = Hit(
        article=dataclasses.replace(item.article, source="Outlet \u202e\x1b[0m"),
        score=1.0,
        similarity=0.5,
    )
    html = render.render_hit(item)
    assert "\x00" not in html and "\x1b" not in html
    title_line, meta_line = html.splitlines()[:2]
    assert title_line.endswith("Evil title \u202eesrever\u202c</a></b>")
    assert meta_line == "Outlet \u202e[0m\u202c · 31 Oct 2025"
    card = render.inline_card(item)
    assert card.title == "Evil title \u202eesrever\u202c"
    assert card.description.startswith("Outlet \u202e[0m\u202c · 31 Oct 2025")


def test_urls_over_the_limit_are_left_out_of_links_and_inline_cards() -> None:
    from bot.handlers.inline import _card

    long = "https://example.com/" + "a" * 9_980
    assert len(long) == 10_000
    item = hit(url=long)
    card = render.inline_card(item)
    assert card.url is None
    assert long not in card.message and "<a href" not in card.message
    assert "Title" in card.message  # the title stays, unlinked
    assert _card(item).url is None  # the InlineQueryResultArticle Telegram gets
    assert render.render_hit(item).startswith("<b>Title</b>")
    edge = "https://example.com/" + "a" * (render.MAX_URL_CHARS - 20)
    assert render.inline_card(hit(url=edge)).url == edge
