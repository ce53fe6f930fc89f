"""Pages: every saved article page extracts text; feed links are discovered."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest

from knowledge.sources.pages import extract_article, feed_links
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
        assert article.url == url
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
