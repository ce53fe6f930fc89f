"""Pages: every saved article page extracts text; feed links are discovered."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest

from knowledge.sources.pages import decode_html, extract_article, feed_links, strip_site_name
from knowledge.urls import canonical_url
from tests.conftest import SHARED_DATA

PAGES = SHARED_DATA / "pages"
FUNDUS = SHARED_DATA / "html_extraction_groundtruth" / "fundus_parser_testdata"


def _page_files() -> list[tuple[str, str]]:
    """(file, url) for every saved HTML page with ground truth."""
    found: list[tuple[str, str]] = []
    if (PAGES / "ground_truth.jsonl").exists():
        for line in (PAGES / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            found.append((str(PAGES / row["html_file"]), row["url"]))
    if (FUNDUS / "expected.jsonl.gz").exists():
        with gzip.open(FUNDUS / "expected.jsonl.gz", "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                found.append((str(FUNDUS / row["html_file"]), row["url"]))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not _page_files(), reason="../shared/data/pages is not here")
def test_every_saved_page_extracts_article_text() -> None:
    files = _page_files()
    assert len(files) == 181 + 84
    empty = []
    for file, url in files:
        with gzip.open(file, "rb") as handle:
            html = handle.read()
        article = extract_article(html, url)
        if article is None:
            empty.append(file)
            continue
        assert article.url == canonical_url(url)
        assert article.title and "<" not in article.title
        assert len(article.text.split()) >= 25 or len(article.text) >= 80
        assert "<script" not in article.text
        assert article.published is None or article.published.tzinfo is not None
    assert empty == []


def test_an_article_gives_title_text_and_date() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {n}: the coast guards of both countries met near the shoal again, "
        "and officials said the talks would continue next month in Manila.</p>"
        for n in range(6)
    )
    html = f"""<!DOCTYPE html><html><head><title>Shoal talks | Pacific Wire</title>
    <meta property="og:title" content="Coast guards meet near the shoal">
    <meta property="article:published_time" content="2026-11-28T09:00:00Z">
    <script>var tracking = "alert(1)";</script></head>
    <body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
    <article><h1>Coast guards meet near the shoal</h1>{paragraphs}</article>
    <footer>Copyright Pacific Wire</footer></body></html>"""
    article = extract_article(html.encode(), "https://wire.example.com/shoal")
    assert article is not None
    assert article.title == "Coast guards meet near the shoal"
    assert article.text.startswith("Paragraph 0: the coast guards")
    assert "\n\n" in article.text
    assert "tracking" not in article.text and "Copyright" not in article.text
    assert article.published == datetime(2026, 11, 28, tzinfo=UTC)


@pytest.mark.parametrize(
    "html",
    [
        b"",
        b"   ",
        b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
        b"\x00\xff\xfe garbage",
        b"<html><body><p>Too short.</p></body></html>",
    ],
)
def test_no_article_gives_none(html: bytes) -> None:
    assert extract_article(html, "https://x.test/") is None


def test_feed_links_are_found_and_made_absolute() -> None:
    html = b"""<html><head>
    <link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">
    <link rel="alternate" type="application/atom+xml" href="https://cdn.example.com/atom">
    <link rel="Alternate feed" type="application/feed+json" href="feed.json">
    <link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
    <link rel="stylesheet" type="text/css" href="/style.css">
    <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
    <link rel="alternate" type="application/rss+xml" href="/feed.xml">
    <link rel="alternate" type="application/rss+xml">
    </head><body></body></html>"""
    assert feed_links(html, "https://www.example.com/news/index.html") == [
        "https://www.example.com/feed.xml",
        "https://cdn.example.com/atom",
        "https://www.example.com/news/feed.json",
    ]


def test_feed_links_respect_base_href() -> None:
    html = (
        '<html><head><base href="https://static.example.org/site/">'
        '<link rel="alternate" type="application/rss+xml" href="rss.xml"></head></html>'
    )
    assert feed_links(html, "https://www.example.org/") == [
        "https://static.example.org/site/rss.xml"
    ]


@pytest.mark.parametrize("html", [b"", "no markup at all", b"\x00\x01"])
def test_feed_links_on_nothing(html: bytes | str) -> None:
    assert feed_links(html, "https://x.test/") == []


@pytest.mark.skipif(
    not (SHARED_DATA / "feeds_netnewswire" / "files" / "DaringFireball.html").exists(),
    reason="../shared/data/feeds_netnewswire is not here",
)
def test_a_real_home_page_advertises_its_feeds() -> None:
    html = (SHARED_DATA / "feeds_netnewswire" / "files" / "DaringFireball.html").read_bytes()
    links = feed_links(html, "https://daringfireball.net/")
    assert links and all(link.startswith("https://daringfireball.net/") for link in links)


@pytest.mark.parametrize(
    ("title", "sitename", "url", "expected"),
    [
        (
            "Mining blasts shatter homes - Lesotho Times",
            "Lesotho Times",
            "https://lestimes.com/x",
            "Mining blasts shatter homes",
        ),
        (
            "Floods in Assam displace thousands - Hindustan Times",
            None,
            "https://www.hindustantimes.com/x",
            "Floods in Assam displace thousands",
        ),
        (
            "US, Manila launch war games - Taipei Times",
            "Taipei Times",
            "https://www.taipeitimes.com/",
            "US, Manila launch war games",
        ),
        (
            "Gaza talks may stall | CBC News",
            "CBC",
            "https://www.cbc.ca/news/x",
            "Gaza talks may stall",
        ),
        (
            "Quake hits - National | Global News",
            "Global News",
            "https://globalnews.ca/x",
            "Quake hits - National",
        ),
        (
            "Epstein case - then a twist",
            None,
            "https://www.mirror.co.uk/x",
            "Epstein case - then a twist",
        ),
        ("Taipei Times", "Taipei Times", "https://www.taipeitimes.com/", "Taipei Times"),
        ("AUKUS - a primer", "Lowy", "https://lowy.org/x", "AUKUS - a primer"),
    ],
)
def test_the_site_name_is_taken_off_the_headline(
    title: str, sitename: str | None, url: str, expected: str
) -> None:
    assert strip_site_name(title, sitename, url) == expected


def test_xhtml_text_with_an_xml_declaration() -> None:
    page = (
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        '<head><link rel="alternate" type="application/rss+xml" href="/rss"/></head>'
        "<body><article>"
        + "".join(
            f"<p>Officials in Suva confirmed the Pacific forum meets again, item {n}.</p>"
            for n in range(6)
        )
        + "</article></body></html>"
    )
    assert feed_links(page, "https://x.test/") == ["https://x.test/rss"]
    article = extract_article(page, "https://x.test/a")
    assert article is not None and article.text.startswith("Officials in Suva")


def test_decode_html_prefers_the_http_charset_unless_it_does_not_fit() -> None:
    text = "Новости"
    assert decode_html(text.encode("koi8-r"), "koi8-r") == text
    assert decode_html(b"\xff\xfe\x00", "koi8-r") == b"\xff\xfe\x00"  # a BOM wins
    assert decode_html(b"abc", "no-such-charset") == b"abc"
    assert decode_html(b"\xff", "utf-8") == b"\xff"
    assert decode_html(b"abc", None) == b"abc"
