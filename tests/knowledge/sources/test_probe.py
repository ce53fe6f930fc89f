"""Probe: a feed, a site page advertising a feed, an article page, or a clear refusal; and
full text for teasers, bounded, over the loopback server."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import pytest

from knowledge.errors import AddressNotAllowedError, NotAFeedError
from knowledge.sources.fetch import Fetcher
from knowledge.sources.probe import fill_full_text, probe
from tests.conftest import SHARED_DATA
from tests.support.feedserver import FeedServer, Reply

MakeFetcher = Callable[..., Fetcher]

ARTICLE = (
    "<!DOCTYPE html><html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
    + "".join(
        f"<p>Paragraph {n} of the full story: ministers from the region met in Jakarta and "
        "agreed on a joint statement about maritime security in the South China Sea.</p>"
        for n in range(8)
    )
    + "</article></body></html>"
)


def _teaser_feed(server: FeedServer, count: int) -> bytes:
    items = "".join(
        f"<item><title>Story {n}</title><link>{server.url(f'/story/{n}')}</link>"
        f"<guid>story-{n}</guid><description>Ministers met in Jakarta…</description></item>"
        for n in range(count)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Teasers'
        f"</title><link>{server.url('/')}</link>{items}</channel></rss>"
    ).encode()


async def test_a_feed_is_a_feed(server: FeedServer, make_fetcher: MakeFetcher) -> None:
    url = server.route(
        "/feed.xml",
        Reply(body=_teaser_feed(server, 3), headers={"Content-Type": "application/rss+xml"}),
    )
    async with make_fetcher() as fetcher:
        found = await probe(fetcher, url, full_text=False)
    assert found.kind == "feed" and found.url == url and found.title == "Teasers"
    assert [item.title for item in found.items] == ["Story 0", "Story 1", "Story 2"]
    assert all(item.summary_only for item in found.items)
    assert found.feed is not None and found.feed.kind == "rss"
    assert server.hits("/story/0") == 0  # full text off: no page fetched


async def test_a_site_page_advertising_a_feed_adds_the_feed(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    server.route("/feed.xml", Reply(body=_teaser_feed(server, 2)))
    home = server.route(
        "/",
        Reply(
            body=b'<html><head><link rel="alternate" type="application/rss+xml" '
            b'href="/feed.xml"></head><body><p>Welcome</p></body></html>',
            headers={"Content-Type": "text/html; charset=utf-8"},
        ),
    )
    async with make_fetcher() as fetcher:
        found = await probe(fetcher, home)
    assert found.kind == "feed"
    assert found.url == server.url("/feed.xml")
    assert found.discovered_from == home
    assert len(found.items) == 2


async def test_a_broken_advertised_feed_falls_back_to_the_next(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    server.route("/good.xml", Reply(body=_teaser_feed(server, 1)))
    home = server.route(
        "/",
        Reply(
            body=b'<html><head><link rel="alternate" type="application/rss+xml" href="/gone.xml">'
            b'<link rel="alternate" type="application/atom+xml" href="/good.xml"></head></html>',
            headers={"Content-Type": "text/html"},
        ),
    )
    async with make_fetcher() as fetcher:
        found = await probe(fetcher, home)
    assert found.url == server.url("/good.xml")
    assert found.notes and "404" in found.notes[0]


async def test_an_article_page_is_a_page(server: FeedServer, make_fetcher: MakeFetcher) -> None:
    url = server.route(
        "/news/jakarta",
        Reply(
            body=ARTICLE.format(title="Jakarta talks").encode(),
            headers={"Content-Type": "text/html"},
        ),
    )
    async with make_fetcher() as fetcher:
        found = await probe(fetcher, url)
    assert found.kind == "page" and found.url == url and found.title == "Jakarta talks"
    (item,) = found.items
    assert item.url == url and item.text.startswith("Paragraph 0 of the full story")
    assert not item.summary_only


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"<html><body><nav>Home</nav></body></html>", "text/html", "no feed link and no article"),
        (b"<html><body><nav>Home</nav></body></html>", "application/rss+xml", "no feed link"),
        (b"", "application/rss+xml", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", "not"),
    ],
)
async def test_html_or_junk_served_as_a_feed_is_refused(
    body: bytes, content_type: str, reason: str, server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    url = server.route("/feed.xml", Reply(body=body, headers={"Content-Type": content_type}))
    async with make_fetcher() as fetcher:
        with pytest.raises(NotAFeedError, match=reason):
            await probe(fetcher, url)


async def test_a_permanent_redirect_changes_the_stored_url(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    server.route("/old.xml", Reply.redirect("/new.xml", status=301))
    server.route("/new.xml", Reply(body=_teaser_feed(server, 1)))
    async with make_fetcher() as fetcher:
        found = await probe(fetcher, server.url("/old.xml"))
    assert found.url == server.url("/new.xml")


async def test_full_text_replaces_teasers_up_to_the_limit(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    for n in range(5):
        server.route(
            f"/story/{n}",
            Reply(
                body=ARTICLE.format(title=f"Story {n}").encode(),
                headers={"Content-Type": "text/html"},
            ),
        )
    url = server.route("/feed.xml", Reply(body=_teaser_feed(server, 5)))
    async with make_fetcher() as fetcher:
        found = await probe(fetcher, url, full_text=True, max_full_text=3)
    filled = [item for item in found.items if not item.summary_only]
    assert [item.title for item in filled] == ["Story 0", "Story 1", "Story 2"]
    assert all(item.text.startswith("Paragraph 0 of the full story") for item in filled)
    assert all(item.text == "Ministers met in Jakarta…" for item in found.items[3:])
    assert [server.hits(f"/story/{n}") for n in range(5)] == [1, 1, 1, 0, 0]


async def test_a_failing_page_keeps_its_teaser(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    server.route("/story/0", Reply(status=500))
    server.route("/story/1", Reply(body=b"<html><body>nothing</body></html>"))
    server.route("/story/2", Reply.redirect("http://10.0.0.1/"))
    server.route("/story/3", Reply(body=ARTICLE.format(title="Story 3").encode()))
    feed = _teaser_feed(server, 4)
    url = server.route("/feed.xml", Reply(body=feed))
    allowed = frozenset({("127.0.0.1", server.port)})
    async with make_fetcher(allow_private=False, allowed_addresses=allowed) as fetcher:
        found = await probe(fetcher, url)
        assert all(item.summary_only for item in found.items)
        filled = await fill_full_text(fetcher, found.items, limit=10)
    assert [item.summary_only for item in filled] == [True, True, True, False]
    assert filled[:3] == found.items[:3]


async def test_a_refused_address_is_reported(make_fetcher: MakeFetcher) -> None:
    async with make_fetcher(allow_private=False) as fetcher:
        with pytest.raises(AddressNotAllowedError):
            await probe(fetcher, "http://192.168.1.10/rss")


@pytest.mark.skipif(
    not (SHARED_DATA / "pages" / "ground_truth.jsonl").exists(), reason="no ../shared/data/pages"
)
async def test_a_saved_real_article_page_over_http(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    with (SHARED_DATA / "pages" / "ground_truth.jsonl").open(encoding="utf-8") as lines:
        row = json.loads(lines.readline())
    with gzip.open(SHARED_DATA / "pages" / row["html_file"], "rb") as handle:
        html = handle.read()
    url = server.route("/article.html", Reply(body=html, headers={"Content-Type": "text/html"}))
    async with make_fetcher() as fetcher:
        found = await probe(fetcher, url)
    assert found.kind == "page"
    first_words = " ".join(row["articleBody"].split()[:8])
    assert first_words in " ".join(found.items[0].text.split())


@pytest.mark.skipif(
    not (SHARED_DATA / "feeds_netnewswire" / "files" / "DaringFireball.html").exists(),
    reason="no ../shared/data/feeds_netnewswire",
)
async def test_a_real_home_page_leads_to_its_real_feed(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    files = SHARED_DATA / "feeds_netnewswire" / "files"
    home = server.route(
        "/",
        Reply(
            body=(files / "DaringFireball.html").read_bytes(),
            headers={"Content-Type": "text/html; charset=utf-8"},
        ),
    )
    # The page advertises /feeds/main; serve the site's real Atom feed there.
    server.route(
        "/feeds/main",
        Reply(
            body=(files / "DaringFireball.atom").read_bytes(),
            headers={"Content-Type": "application/atom+xml"},
        ),
    )
    async with make_fetcher() as fetcher:
        found = await probe(fetcher, home)
    assert found.kind == "feed" and found.url == server.url("/feeds/main")
    assert found.title == "Daring Fireball" and len(found.items) == 48


async def test_a_page_in_a_legacy_charset_named_only_by_http(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    sentence = "Переговоры в Маниле продолжаются, стороны встретятся снова в следующем месяце."
    body = (
        "<html><head><title>Новости Азии</title></head><body><article>"
        + "".join(f"<p>{sentence} Абзац {n}.</p>" for n in range(6))
        + "</article></body></html>"
    ).encode("koi8-r")
    url = server.route(
        "/news/1", Reply(body=body, headers={"Content-Type": "text/html; charset=KOI8-R"})
    )
    async with make_fetcher() as fetcher:
        found = await probe(fetcher, url)
    assert found.kind == "page" and found.title == "Новости Азии"
    assert found.items[0].text.startswith(sentence)
