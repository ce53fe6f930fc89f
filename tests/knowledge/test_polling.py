"""Polling through a real HTTP server on 127.0.0.1 serving the real feed files of ../shared/data:
the real fetcher, parser, ingestor (real model) and SQLite. BRIEF_FETCH_FULL_TEXT is off (the
files link to real sites) and BRIEF_ALLOW_PRIVATE_ADDRESSES on (the server is on loopback)."""

from __future__ import annotations

import gzip
import json
import logging
import re
import secrets
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from knowledge.errors import SourceError
from knowledge.models import Source
from knowledge.service import BriefService
from knowledge.store import utcnow
from tests.support.pollserver import FeedServer, Request, Response, rss

NETNEWSWIRE = "feeds_netnewswire/files"
MINT = f"{NETNEWSWIRE}/livemint.xml"  # Mint (India), 25 items, numeric guids


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as feeds:
        yield feeds


@pytest.fixture
def service(make_service: Callable[..., BriefService]) -> BriefService:
    return make_service(
        allow_private_addresses=True,
        fetch_full_text=False,
        fetch_timeout_seconds=1,
        poll_failures_before_pause=3,
        poll_interval_minutes=30,
    )


def add_feed(service: BriefService, url: str, title: str = "") -> Source:
    """Register a source without fetching it (as `brief sources import` does)."""
    assert service.store.sources.add(url, "feed", title, None)
    found = service.store.sources.by_url(url)
    assert found is not None
    return found


def state(service: BriefService, source_id: int) -> Source:
    found = service.store.sources.get(source_id)
    assert found is not None
    return found


def article_rows(service: BriefService) -> list[dict[str, Any]]:
    with service.store.db.read() as conn:
        rows = conn.execute("SELECT id, url, source, source_id, story_id FROM articles")
        return [dict(r) for r in rows]


def test_a_real_feed_is_stored_and_a_304_keeps_its_state(
    service: BriefService, server: FeedServer, shared_data: Path
) -> None:
    server.serve_file("/mint.xml", shared_data / MINT)
    added = service.add_source(server.url("/mint.xml"), None, 7)
    assert (added.found, added.items) == ("RSS feed", 25)
    assert added.source.title == "Livemint - News"
    assert len(server.hits("/mint.xml")) == 1

    first = service.ingest_sources()
    (poll,) = first.polls
    assert (poll.status, poll.items, poll.new, poll.stored, poll.rejected) == ("ok", 25, 25, 25, 0)
    source = state(service, added.source.id)
    assert source.articles == 25
    assert source.etag == '"v1"' and source.last_modified is not None
    assert source.last_success is not None and source.last_new_item is not None
    rows = article_rows(service)
    assert {r["source"] for r in rows} == {"Livemint - News"}
    assert {r["source_id"] for r in rows} == {added.source.id}

    second = service.ingest_sources()
    assert second.polls[0].status == "not_modified"
    request = server.hits("/mint.xml")[-1]
    assert request.headers["if-none-match"] == '"v1"'
    assert "indopac-brief" in request.headers["user-agent"]
    after = state(service, added.source.id)
    assert after.etag == '"v1"' and after.last_modified == source.last_modified
    assert after.articles == 25 and after.last_new_item == source.last_new_item
    assert after.next_poll_at is not None and after.next_poll_at > utcnow()
    # nothing is due for another half hour
    assert service.poll_due().polls == ()
    assert len(server.hits("/mint.xml")) == 3


def test_one_failing_source_never_stops_the_others(
    service: BriefService, server: FeedServer, shared_data: Path
) -> None:
    server.serve_file("/mint.xml", shared_data / MINT)
    server.route("/broken.xml", b"oops", status=500, content_type="text/plain")
    missing = add_feed(service, server.url("/missing.xml"), "Missing")
    broken = add_feed(service, server.url("/broken.xml"), "Broken")
    good = add_feed(service, server.url("/mint.xml"), "Mint")
    before = utcnow()

    report = service.ingest_sources()

    by_id = {p.source_id: p for p in report.polls}
    assert by_id[good.id].stored == 25
    assert by_id[missing.id].status == by_id[broken.id].status == "failed"
    assert "404" in (by_id[missing.id].error or "")
    assert "500" in (by_id[broken.id].error or "")
    for failed in (missing, broken):
        now = state(service, failed.id)
        assert now.error_streak == 1 and now.last_error and not now.paused
        assert now.next_poll_at is not None
        assert now.next_poll_at >= before + timedelta(minutes=30) - timedelta(seconds=1)
    assert state(service, good.id).last_error is None


def test_a_timeout_is_recorded_and_backed_off(service: BriefService, server: FeedServer) -> None:
    server.route("/slow.xml", rss([]), delay=600)  # answered only at the end of the test
    slow = add_feed(service, server.url("/slow.xml"), "Slow")
    (poll,) = service.ingest_sources().polls
    assert poll.status == "failed"
    assert poll.error and ("time" in poll.error.lower())
    first = state(service, slow.id)
    assert first.error_streak == 1
    service.ingest_sources()
    second = state(service, slow.id)
    assert second.error_streak == 2
    assert second.next_poll_at is not None and second.last_polled is not None
    # the second failure waits twice the interval
    assert second.next_poll_at - second.last_polled == timedelta(minutes=60)


def test_503_with_retry_after_is_honoured(service: BriefService, server: FeedServer) -> None:
    server.route(
        "/busy.xml",
        b"busy",
        status=503,
        content_type="text/plain",
        headers={"Retry-After": "7200"},
    )
    busy = add_feed(service, server.url("/busy.xml"), "Busy")
    (poll,) = service.ingest_sources().polls
    assert poll.status == "failed" and "503" in (poll.error or "")
    now = state(service, busy.id)
    assert now.next_poll_at is not None and now.last_polled is not None
    assert now.next_poll_at - now.last_polled == timedelta(hours=2)
    assert service.poll_due().polls == ()  # not due: the server asked for two hours
    assert len(server.hits("/busy.xml")) == 1


def test_pause_after_n_failures_admins_told_once_and_a_success_resumes(
    service: BriefService, server: FeedServer, shared_data: Path
) -> None:
    server.route("/gone.xml", b"no", status=500, content_type="text/plain")
    gone = add_feed(service, server.url("/gone.xml"), "Flaky")
    for expected_streak in (1, 2):
        (poll,) = service.ingest_sources().polls
        assert not poll.paused and state(service, gone.id).error_streak == expected_streak
    assert service.pause_notices() == ()

    (poll,) = service.ingest_sources().polls
    assert poll.paused
    paused = state(service, gone.id)
    assert paused.paused and paused.error_streak == 3
    assert paused.paused_reason is not None
    assert paused.paused_reason.startswith("3 failures in a row; the last:")
    assert "500" in paused.paused_reason

    (notice,) = service.pause_notices()
    assert notice.id == gone.id
    service.mark_notified([gone.id])
    assert service.pause_notices() == ()  # told once

    # A paused source is left alone by every poll but an explicit one.
    assert service.ingest_sources().polls == ()
    assert service.poll_due().polls == ()
    assert len(server.hits("/gone.xml")) == 3

    server.serve_file("/gone.xml", shared_data / MINT)
    (poll,) = service.ingest_sources(gone.id).polls
    assert poll.status == "ok" and poll.stored == 25
    resumed = state(service, gone.id)
    assert not resumed.paused and resumed.error_streak == 0 and resumed.paused_reason is None


def test_html_served_as_a_feed_fails_with_a_clear_reason(
    service: BriefService, server: FeedServer, shared_data: Path
) -> None:
    html = (shared_data / NETNEWSWIRE / "DaringFireball.html").read_bytes()
    server.route("/feed.xml", html, content_type="application/rss+xml")
    source = add_feed(service, server.url("/feed.xml"), "Not a feed")
    (poll,) = service.ingest_sources().polls
    assert poll.status == "failed"
    assert "html" in (poll.error or "").lower()
    assert state(service, source.id).last_error == poll.error
    assert article_rows(service) == []


def test_a_feed_whose_guids_change_on_every_fetch_adds_nothing_twice(
    service: BriefService, server: FeedServer, shared_data: Path
) -> None:
    original = (shared_data / MINT).read_bytes()

    def fresh_guids(request: Request) -> Response:
        body = re.sub(
            rb"<guid([^>]*)>.*?</guid>",
            lambda m: b"<guid" + m.group(1) + b">" + secrets.token_hex(8).encode() + b"</guid>",
            original,
            flags=re.S,
        )
        return Response(body, 200, {"Content-Type": "application/rss+xml"})

    server.route("/mint.xml", fresh_guids)
    source = add_feed(service, server.url("/mint.xml"), "Mint")
    first = service.ingest_sources().polls[0]
    assert first.stored == 25
    second = service.ingest_sources().polls[0]
    assert (second.new, second.stored, second.duplicates) == (25, 0, 25)
    assert state(service, source.id).articles == 25
    assert len(article_rows(service)) == 25


def bbc_items(shared_data: Path, count: int) -> list[dict[str, str]]:
    """Real BBC RSS items (headline and standfirst), Asia-Pacific."""
    path = shared_data / "news_bbc_rss_2022" / "asia_pacific.jsonl.gz"
    out: list[dict[str, str]] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if len(record["text"]) > 80:
                out.append(record)
            if len(out) == count:
                break
    return out


def test_one_article_in_three_feeds_is_one_story_with_three_sources(
    service: BriefService, server: FeedServer, shared_data: Path
) -> None:
    shared, *others = bbc_items(shared_data, 4)
    outlets = ["Wire One", "Wire Two", "Wire Three"]
    for n, outlet in enumerate(outlets):
        items = [
            {
                "title": shared["title"],
                "link": f"https://wire{n}.example/{shared['id']}",
                "guid": f"wire{n}-{shared['id']}",
                "description": shared["text"],
                "pubDate": "Tue, 22 Feb 2022 15:25:22 GMT",
            },
            {
                "title": others[n]["title"],
                "link": others[n]["url"],
                "description": others[n]["text"],
            },
        ]
        server.route(f"/wire{n}.xml", rss(items, title=outlet))
        add_feed(service, server.url(f"/wire{n}.xml"), outlet)

    report = service.ingest_sources()
    assert report.stored == 6 and report.linked == 2

    copies = [r for r in article_rows(service) if r["url"].endswith(shared["id"])]
    assert {r["source"] for r in copies} == set(outlets)
    story = {r["story_id"] or r["id"] for r in copies}
    assert len(story) == 1
    (hit,) = [
        h for h in service.ask(shared["title"], k=5).hits if h.article.title == shared["title"]
    ]
    assert len(hit.also) == 2 and {c.source for c in hit.also} | {hit.article.source} == set(
        outlets
    )


def test_a_permanent_redirect_moves_the_source(
    service: BriefService, server: FeedServer, shared_data: Path
) -> None:
    server.serve_file("/new.xml", shared_data / MINT)
    server.redirect("/old.xml", server.url("/new.xml"), status=301)
    server.redirect("/tmp.xml", server.url("/new.xml"), status=302)
    moved = add_feed(service, server.url("/old.xml"), "Moved")
    stays = add_feed(service, server.url("/tmp.xml"), "Temporary")
    report = service.ingest_sources()
    assert report.stored == 25  # the same items through both: stored once
    assert state(service, moved.id).url == server.url("/new.xml")
    assert state(service, stays.id).url == server.url("/tmp.xml")
    service.ingest_sources(moved.id)
    assert len(server.hits("/old.xml")) == 1  # the next poll goes straight to the new URL


def test_add_source_refusals_and_discovery(
    service: BriefService, server: FeedServer, shared_data: Path
) -> None:
    with pytest.raises(SourceError, match="http"):
        service.add_source("ftp://example.org/feed")
    with pytest.raises(SourceError, match="404"):
        service.add_source(server.url("/nothing.xml"))
    server.serve_file("/mint.xml", shared_data / MINT)
    site = (
        b'<!doctype html><html><head><title>Mint</title><link rel="alternate" '
        b'type="application/rss+xml" href="/mint.xml"></head><body><p>Home</p></body></html>'
    )
    server.route("/", site, content_type="text/html; charset=utf-8")
    added = service.add_source(server.url("/"), "Mint via its site")
    assert added.source.url == server.url("/mint.xml")
    assert (added.source.kind, added.found, added.items) == ("feed", "RSS feed", 25)
    assert added.source.title == "Mint via its site"
    with pytest.raises(SourceError, match=f"already source #{added.source.id}"):
        service.add_source(server.url("/mint.xml"))
    assert [s.url for s in service.list_sources()] == [server.url("/mint.xml")]


def test_an_article_page_source(
    service: BriefService, server: FeedServer, shared_data: Path
) -> None:
    pages = shared_data / "pages"
    record = json.loads((pages / "ground_truth.jsonl").read_text().splitlines()[1])
    html = gzip.decompress((pages / record["html_file"]).read_bytes())
    html = re.sub(rb"<link[^>]*alternate[^>]*>", b"", html, flags=re.I)  # no feed discovery
    server.route("/story.html", html, content_type="text/html; charset=utf-8")
    added = service.add_source(server.url("/story.html"), "A page")
    assert (added.source.kind, added.found, added.items) == ("page", "article page", 1)
    first = service.ingest_sources().polls[0]
    assert (first.status, first.stored) == ("ok", 1)
    again = service.ingest_sources().polls[0]
    assert (again.new, again.stored) == (0, 0)


def test_remove_keeps_the_articles_and_re_adding_brings_the_source_back(
    service: BriefService, server: FeedServer, shared_data: Path
) -> None:
    server.serve_file("/mint.xml", shared_data / MINT)
    source = add_feed(service, server.url("/mint.xml"), "Mint")
    service.ingest_sources()
    removed = service.remove_source(source.id)
    assert removed.articles == 25
    assert service.list_sources() == ()
    assert len(article_rows(service)) == 25
    with pytest.raises(SourceError, match="no source"):
        service.remove_source(source.id)
    assert service.ingest_sources().polls == ()
    back = service.add_source(server.url("/mint.xml"))
    assert back.source.id == source.id and back.source.articles == 25


# One file of each kind NetNewsWire's tests keep: RSS 1.0, RSS 2.0 in GB2312, Atom, JSON Feed,
# RSS-in-JSON, and an HTML page. (Every file of ../shared/data is parsed in test_feeds.py;
# here each goes through the whole poll.)
KINDS = (
    "bio.rdf",
    "kc0011.rss",
    "OneFootTsunami.atom",
    "DaringFireball.json",
    "ScriptingNews.json",
    "sixcolors.html",
)


def test_each_kind_of_feed_is_ingested_or_refused_with_a_reason(
    service: BriefService, server: FeedServer, shared_data: Path
) -> None:
    manifest = {
        row["file"].split("/")[-1]: row
        for row in map(
            json.loads,
            (shared_data / "feeds_netnewswire" / "manifest.jsonl").read_text().splitlines(),
        )
    }
    for name in KINDS:
        server.serve_file(f"/{name}", shared_data / "feeds_netnewswire" / manifest[name]["file"])
        add_feed(service, server.url(f"/{name}"), name)
    report = service.ingest_sources()
    outcome = {p.name: p for p in report.polls}
    for name in KINDS:
        poll = outcome[name]
        if manifest[name]["expected"] == "not-a-feed":
            assert poll.status == "failed" and poll.error, poll
        else:
            assert poll.status == "ok" and poll.stored > 0, poll
            assert poll.stored + poll.duplicates + poll.rejected == poll.items, poll


def test_unreachable_sources_log_one_line_each_and_back_off(
    service: BriefService, caplog: pytest.LogCaptureFixture
) -> None:
    """What a deployment without network sees: one line per source, no traceback."""
    closed = []
    for _ in range(3):
        with socket.socket() as probe:  # a port nothing listens on: connection refused
            probe.bind(("127.0.0.1", 0))
            closed.append(probe.getsockname()[1])
    for port in closed:
        add_feed(service, f"http://127.0.0.1:{port}/feed.xml", f"Offline {port}")
    with caplog.at_level(logging.INFO):
        report = service.ingest_sources()
    assert [p.status for p in report.polls] == ["failed"] * 3
    lines = [r for r in caplog.records if r.name == "knowledge.sources.poll"]
    assert len(lines) == 3
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in lines)
    assert all("next try in 30 min" in r.getMessage() for r in lines)
    assert not any(r.exc_info for r in caplog.records)
