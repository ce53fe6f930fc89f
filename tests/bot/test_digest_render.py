"""Digest rendering, digest and settings callback data, settings keyboards: the pure parts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bot import callbacks, render, texts
from bot.standin import parse_html, utf16_len
from knowledge.models import Article, Coverage, Digest, DigestSection, Hit, Subscription, Topic

TOPICS = (
    Topic("Taiwan Strait", "Taiwan Strait tensions"),
    Topic("South China Sea", "South China Sea disputes"),
)
SINCE = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)


def hit(n: int, summary: str = "One sentence here. Another one.", also: int = 0) -> Hit:
    article = Article(
        id=n,
        url=f"https://news.example.com/{n}?a=1&b=2",
        title=f"Story <{n}> & more",
        source="Outlet",
        published=datetime(2026, 11, 30, 6, tzinfo=UTC),
        fetched=datetime(2026, 11, 30, 6, tzinfo=UTC),
        summary=summary,
    )
    copies = tuple(Coverage(f"Source {chr(66 + i)}", None) for i in range(also))
    return Hit(article=article, score=1.0 + also, similarity=0.5, also=copies)


def digest(*sections: DigestSection) -> Digest:
    return Digest(chat_id=5, local_date=date(2026, 11, 30), since=SINCE, sections=sections)


def sub(**changes: object) -> Subscription:
    base: dict[str, object] = {
        "chat_id": 5,
        "thread_id": None,
        "at": time(7, 30),
        "timezone": "Asia/Manila",
    }
    base.update(changes)
    return Subscription(**base)  # type: ignore[arg-type]


def test_a_digest_that_fits_is_one_message_with_sections_and_also() -> None:
    d = digest(
        DigestSection("Taiwan Strait", (hit(1, also=2),), more=0),
        DigestSection("South China Sea", (hit(2),), more=3),
    )
    parts = render.render_digest(d, "Asia/Manila")
    assert len(parts) == 1
    plain, _ = parse_html(parts[0])
    assert plain.startswith("Indo-Pacific digest · Mon 30 Nov 2026\nnew since Mon 30 Nov 07:30")
    assert plain.index("Taiwan Strait") < plain.index("Story <1> & more")
    assert "also: Source B, Source C" in plain
    assert plain.index("South China Sea") < plain.index("Story <2>")
    assert "3 more on this" in plain


def test_a_long_digest_splits_between_sections_never_inside_a_tag() -> None:
    long = "A long sentence about the strait and its many ships. " * 7
    sections = tuple(
        DigestSection(f"Topic {s}", tuple(hit(s * 10 + i, long, also=6) for i in range(6)))
        for s in range(6)
    )
    parts = render.render_digest(digest(*sections), "UTC")
    assert len(parts) > 1
    seen_titles = []
    for part in parts:
        assert utf16_len(part) <= render.MESSAGE_LIMIT
        plain, _ = parse_html(part)  # raises on a broken tag
        assert utf16_len(plain) <= render.MESSAGE_LIMIT
        seen_titles += [line for line in plain.splitlines() if line.startswith("▌Topic")]
        # every message but the first starts with a section title (split at a boundary)
        if part is not parts[0]:
            assert plain.startswith("▌Topic")
    assert seen_titles == [f"▌Topic {s}" for s in range(6)]


def test_one_section_longer_than_a_message_splits_between_its_stories() -> None:
    long = "Ships and coast guards met again near the shoal today. " * 7
    section = DigestSection("Taiwan Strait", tuple(hit(i, long, also=6) for i in range(15)))
    parts = render.render_digest(digest(section), "UTC", limit=2000)
    assert len(parts) > 2
    for part in parts:
        assert utf16_len(part) <= 2000
        parse_html(part)
    assert sum(part.count("<b>1") + part.count("<b>2") for part in parts) >= 1


def test_an_empty_digest_says_nothing_new_since() -> None:
    (part,) = render.render_digest(digest(), "Asia/Kolkata")
    plain, _ = parse_html(part)
    assert "Nothing new since your last digest (Mon 30 Nov 05:00)." in plain


def test_digest_buttons_carry_what_they_need() -> None:
    d = digest(
        DigestSection("Taiwan Strait", (hit(1),), more=4),
        DigestSection("aukus submarines", (hit(2),)),
        DigestSection("x" * 80, (hit(3),)),  # a followed topic too long for callback data
    )
    keyboard = render.digest_keyboard(d, TOPICS)
    assert keyboard is not None
    buttons = [b for row in keyboard.inline_keyboard for b in row]
    assert [b.text for b in buttons] == ["Taiwan Strait: 4 more ▸", "aukus submarines ▸"]
    datas = [b.callback_data for b in buttons]
    assert datas == ["dg:0:0", "dq:aukus submarines"]
    assert callbacks.parse(datas[0]) == callbacks.DigestSection(0, 0)
    assert callbacks.parse(datas[1]) == callbacks.TopicQuery("aukus submarines")


@pytest.mark.parametrize(
    ("data", "parsed"),
    [
        ("set:at:0730", callbacks.SettingChange("at", "0730")),
        ("set:tz:12", callbacks.SettingChange("tz", "12")),
        ("set:tp:3", callbacks.SettingChange("tp", "3")),
        ("set:si:1", callbacks.SettingChange("si", "1")),
        ("set:ne:0", callbacks.SettingChange("ne", "0")),
        ("set:menu:tz", callbacks.SettingChange("menu", "tz")),
        ("set:off:", callbacks.SettingChange("off", "")),
        ("dg:2:5", callbacks.DigestSection(2, 5)),
        ("set:at:73", None),
        ("set:si:yes", None),
        ("set:menu:evil", None),
        ("set:drop:1", None),
        ("dg:x:1", None),
        ("dq:   ", None),
    ],
)
def test_digest_and_settings_callback_data(data: str, parsed: callbacks.Callback | None) -> None:
    assert callbacks.parse(data) == parsed
    if parsed is not None:
        assert callbacks.encode(parsed) == data


def test_every_settings_keyboard_fits_telegram() -> None:
    s = sub(topics=("Taiwan Strait",), silent=True)
    keyboards = [
        render.settings_keyboard(s),
        render.time_keyboard(s),
        render.timezone_keyboard(s),
        render.topics_keyboard(s, TOPICS),
    ]
    for keyboard in keyboards:
        for row in keyboard.inline_keyboard:
            for button in row:
                assert isinstance(button.callback_data, str)
                assert len(button.callback_data.encode()) <= callbacks.MAX_BYTES
                assert callbacks.parse(button.callback_data) is not None
    main = [b.text for row in keyboards[0].inline_keyboard for b in row]
    assert "Silent: on" in main and "Nothing-new notices: off" in main
    topics = [b.text for row in keyboards[3].inline_keyboard for b in row]
    assert topics[:2] == ["✓ Taiwan Strait", "South China Sea"]
    times = [b.callback_data for row in keyboards[1].inline_keyboard for b in row]
    assert times[:2] == ["set:at:0700", "set:at:0800"]  # ±30 minutes around 07:30


def test_settings_text_shows_everything() -> None:
    text = render.render_settings(sub(), datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    plain, _ = parse_html(text)
    assert "time: 07:30 (Asia/Manila)" in plain
    assert f"topics: {texts.ALL_TOPICS}" in plain
    assert "next digest: Tue 1 Dec 07:30" in plain
