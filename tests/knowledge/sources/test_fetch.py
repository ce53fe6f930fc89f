"""The fetcher against a real HTTP server on 127.0.0.1: faults, caps, redirects, the guard."""

from __future__ import annotations

import asyncio
import gzip
import threading
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from knowledge.errors import (
    AddressNotAllowedError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    TooLarge,
    TooManyRedirects,
)
from knowledge.settings import load_settings
from knowledge.sources.fetch import Fetcher, FetchLimits, parse_retry_after
from tests.support.feedserver import FeedServer, RecordedRequest, Reply, chunks
from tests.support.network import RecordingBackend

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local</title><link>http://example.com/</link>
<item><title>One</title><link>http://example.com/1</link>
<description>First item.</description></item>
</channel></rss>"""

MakeFetcher = Callable[..., Fetcher]


async def test_get_returns_body_headers_and_names_the_bot(
    server: FeedServer, make_fetcher: MakeFetcher, backend: RecordingBackend
) -> None:
    url = server.route(
        "/feed.xml",
        Reply(
            body=RSS,
            headers={
                "Content-Type": "application/rss+xml; charset=UTF-8",
                "ETag": '"v1"',
                "Last-Modified": "Mon, 30 Nov 2026 06:00:00 GMT",
            },
        ),
    )
    async with make_fetcher() as fetcher:
        fetched = await fetcher.get(url)
    assert fetched.status == 200
    assert fetched.content == RSS
    assert fetched.content_type == "application/rss+xml"
    assert fetched.charset == "UTF-8"
    assert fetched.etag == '"v1"'
    assert fetched.last_modified == "Mon, 30 Nov 2026 06:00:00 GMT"
    assert not fetched.not_modified and fetched.permanent_redirect is None
    user_agent = server.requests[0].header("User-Agent") or ""
    assert "indopac-brief" in user_agent and "bot" in user_agent
    # The connection went through our vetting backend (the recording backend sits inside it).
    assert backend.connects == [("127.0.0.1", server.port)]


# --- the guard, before any connection ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://0x7f.1/",
        "http://2130706433/feed",
        "http://0177.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.0.1/rss",
        "http://localhost/",
        "file:///etc/passwd",
    ],
)
async def test_refused_addresses_raise_before_any_connection(
    url: str, make_fetcher: MakeFetcher, backend: RecordingBackend
) -> None:
    async with make_fetcher(allow_private=False) as fetcher:
        with pytest.raises(AddressNotAllowedError):
            await fetcher.get(url)
    assert backend.connects == []


async def test_a_name_resolving_to_loopback_is_refused_at_connection(
    server: FeedServer, make_fetcher: MakeFetcher, backend: RecordingBackend
) -> None:
    server.route("/feed.xml", Reply(body=RSS))
    url = f"http://feeds.example.com:{server.port}/feed.xml"
    async with make_fetcher(
        allow_private=False, resolve={"feeds.example.com": ["127.0.0.1"]}
    ) as fetcher:
        with pytest.raises(AddressNotAllowedError, match="loopback"):
            await fetcher.get(url)
    assert backend.connects == []
    assert server.requests == []


async def test_one_private_answer_among_public_ones_refuses_the_name(
    make_fetcher: MakeFetcher, backend: RecordingBackend
) -> None:
    resolve = {"rebind.example.com": ["93.184.216.34", "10.0.0.7"]}
    async with make_fetcher(allow_private=False, resolve=resolve) as fetcher:
        with pytest.raises(AddressNotAllowedError, match="private"):
            await fetcher.get("http://rebind.example.com/feed.xml")
    assert backend.connects == []


async def test_the_vetted_address_is_connected_to_and_host_header_kept(
    server: FeedServer, make_fetcher: MakeFetcher, backend: RecordingBackend
) -> None:
    server.route("/feed.xml", Reply(body=RSS))
    url = f"http://feeds.example.com:{server.port}/feed.xml"
    async with make_fetcher(resolve={"feeds.example.com": ["127.0.0.1"]}) as fetcher:
        fetched = await fetcher.get(url)
    assert fetched.content == RSS
    assert backend.connects == [("127.0.0.1", server.port)]
    assert server.requests[0].header("Host") == f"feeds.example.com:{server.port}"


async def test_a_redirect_to_loopback_is_refused_with_the_setting_off(
    server: FeedServer, make_fetcher: MakeFetcher, backend: RecordingBackend
) -> None:
    # The first server is the one exemption (an allowed address:port); the second one, on
    # another loopback port, stands for anything local a redirect might aim at.
    with FeedServer() as victim:
        victim.route("/secret", Reply(body=b"secret"))
        targets = [
            f"http://127.0.0.1:{victim.port}/secret",
            f"http://0x7f.1:{victim.port}/secret",
            f"http://2130706433:{victim.port}/secret",
            f"http://[::ffff:127.0.0.1]:{victim.port}/secret",
            f"http://localhost:{victim.port}/secret",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "file:///etc/passwd",
        ]
        for index, target in enumerate(targets):
            server.route(f"/r{index}", Reply.redirect(target))
        allowed = frozenset({("127.0.0.1", server.port)})
        async with make_fetcher(allow_private=False, allowed_addresses=allowed) as fetcher:
            for index in range(len(targets)):
                with pytest.raises(AddressNotAllowedError):
                    await fetcher.get(server.url(f"/r{index}"))
                assert server.hits(f"/r{index}") == 1  # the first hop was really served
        assert victim.requests == []
        assert {port for _, port in backend.connects} == {server.port}
        # Control: with the victim exempted too, the same redirect is followed.
        both = allowed | {("127.0.0.1", victim.port)}
        async with make_fetcher(allow_private=False, allowed_addresses=both) as fetcher:
            fetched = await fetcher.get(server.url("/r0"))
        assert fetched.content == b"secret"
        assert victim.hits("/secret") == 1


# --- faults -------------------------------------------------------------------------------------


async def test_timeout(server: FeedServer, make_fetcher: MakeFetcher) -> None:
    url = server.route("/slow", Reply(body=RSS, hold=threading.Event()))
    async with make_fetcher(read_timeout_s=0.3) as fetcher:
        with pytest.raises(FetchTimeout, match="timed out"):
            await fetcher.get(url)


async def test_a_trickling_server_hits_the_overall_deadline(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    release = threading.Event()

    def trickle() -> object:
        yield b"<rss>"
        while not release.wait(0.05):  # one byte every 50 ms: never a read timeout
            yield b" "

    server.route("/trickle", lambda request: Reply(body=trickle()))
    try:
        async with make_fetcher(read_timeout_s=1.0, total_timeout_s=0.5) as fetcher:
            with pytest.raises(FetchTimeout, match="in all"):
                await fetcher.get(server.url("/trickle"))
    finally:
        release.set()


@pytest.mark.parametrize(("status", "permanent"), [(404, False), (500, False), (410, True)])
async def test_error_statuses(
    status: int, permanent: bool, server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    url = server.route("/x", Reply(status=status, body=b"nope"))
    async with make_fetcher() as fetcher:
        with pytest.raises(HTTPStatusError) as caught:
            await fetcher.get(url)
    assert caught.value.status == status
    assert caught.value.permanent is permanent
    assert f"HTTP {status}" in str(caught.value)


async def test_503_with_retry_after_seconds(server: FeedServer, make_fetcher: MakeFetcher) -> None:
    url = server.route("/busy", Reply(status=503, headers={"Retry-After": "120"}))
    async with make_fetcher() as fetcher:
        with pytest.raises(HTTPStatusError) as caught:
            await fetcher.get(url)
    assert caught.value.status == 503
    assert caught.value.retry_after_s == 120
    assert "retry after 120 s" in str(caught.value)


async def test_429_with_retry_after_date(server: FeedServer, make_fetcher: MakeFetcher) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    url = server.route("/limited", Reply(status=429, headers={"Retry-After": when}))
    async with make_fetcher() as fetcher:
        with pytest.raises(HTTPStatusError) as caught:
            await fetcher.get(url)
    assert caught.value.retry_after_s is not None
    assert 3500 < caught.value.retry_after_s <= 3600


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 30, 6, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("30", now) == 30
    assert parse_retry_after("Mon, 30 Nov 2026 06:10:00 GMT", now) == 600
    assert parse_retry_after("Mon, 30 Nov 2026 05:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after(None, now) is None


async def test_a_50_mb_body_is_stopped_at_the_cap_while_streaming(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    url = server.route("/huge", lambda request: Reply(body=chunks(50_000_000)))
    async with make_fetcher(max_bytes=1_000_000) as fetcher:
        with pytest.raises(TooLarge, match="1,000,000"):
            await fetcher.get(url)
    # The client hung up long before the server could send 50 MB.
    assert server.wait_idle()
    # (loopback socket buffers hold several MB, so "early" means well short of the 50 MB)
    assert server.aborted and server.aborted[0][1] < 30_000_000


async def test_a_declared_oversized_body_is_refused_without_reading_it(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    url = server.route(
        "/declared",
        lambda request: Reply(body=chunks(50_000_000), headers={"Content-Length": "50000000"}),
    )
    async with make_fetcher(max_bytes=1_000_000) as fetcher:
        with pytest.raises(TooLarge, match="50,000,000 bytes"):
            await fetcher.get(url)


async def test_the_default_cap_is_five_megabytes(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    assert FetchLimits().max_bytes == 5_000_000
    url = server.route("/huge", lambda request: Reply(body=chunks(50_000_000)))
    async with make_fetcher() as fetcher:
        with pytest.raises(TooLarge, match="5,000,000"):
            await fetcher.get(url)


async def test_a_gzip_bomb_stops_at_the_decompressed_cap(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    bomb = gzip.compress(b"\0" * 100_000_000, compresslevel=9)
    assert len(bomb) < 200_000  # small on the wire, under the transfer cap
    url = server.route(
        "/bomb.xml",
        Reply(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/xml"}),
    )
    async with make_fetcher(max_bytes=1_000_000, max_decompressed_bytes=4_000_000) as fetcher:
        with pytest.raises(TooLarge, match="decompresses to more than 4,000,000"):
            await fetcher.get(url)


@pytest.mark.parametrize("encoding", ["gzip", "deflate-zlib", "deflate-raw", "gzip-members"])
async def test_compressed_bodies_are_decoded(
    encoding: str, server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    if encoding == "gzip":
        body, header = gzip.compress(RSS), "gzip"
    elif encoding == "deflate-zlib":
        body, header = zlib.compress(RSS), "deflate"
    elif encoding == "deflate-raw":
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body, header = packer.compress(RSS) + packer.flush(), "deflate"
    else:
        half = len(RSS) // 2
        body, header = gzip.compress(RSS[:half]) + gzip.compress(RSS[half:]), "gzip"
    url = server.route("/c.xml", Reply(body=body, headers={"Content-Encoding": header}))
    async with make_fetcher() as fetcher:
        fetched = await fetcher.get(url)
    assert fetched.content == RSS
    assert server.requests[0].header("Accept-Encoding") == "gzip, deflate"


async def test_corrupt_gzip_is_a_clear_error(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    url = server.route(
        "/bad", Reply(body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    )
    async with make_fetcher() as fetcher:
        with pytest.raises(FetchError, match="not valid gzip"):
            await fetcher.get(url)


async def test_an_unsupported_encoding_is_a_clear_error(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    url = server.route("/br", Reply(body=b"\x1b\x00", headers={"Content-Encoding": "br"}))
    async with make_fetcher() as fetcher:
        with pytest.raises(FetchError, match="unsupported content encoding: br"):
            await fetcher.get(url)


async def test_connection_refused_is_a_fetch_error(make_fetcher: MakeFetcher) -> None:
    with FeedServer() as closed:
        url = closed.url("/feed.xml")
    async with make_fetcher() as fetcher:
        with pytest.raises(FetchError, match="could not connect"):
            await fetcher.get(url)


# --- redirects ----------------------------------------------------------------------------------


async def test_a_redirect_loop_is_refused(server: FeedServer, make_fetcher: MakeFetcher) -> None:
    server.route("/a", Reply.redirect("/b"))
    server.route("/b", Reply.redirect("/a"))
    async with make_fetcher() as fetcher:
        with pytest.raises(TooManyRedirects, match="loop"):
            await fetcher.get(server.url("/a"))
    assert server.hits("/a") == 1 and server.hits("/b") == 1


async def test_too_many_redirects(server: FeedServer, make_fetcher: MakeFetcher) -> None:
    for hop in range(10):
        server.route(f"/hop{hop}", Reply.redirect(f"/hop{hop + 1}"))
    async with make_fetcher(max_redirects=3) as fetcher:
        with pytest.raises(TooManyRedirects, match="more than 3 redirects"):
            await fetcher.get(server.url("/hop0"))
    assert server.hits("/hop3") == 1 and server.hits("/hop4") == 0


async def test_redirects_are_followed_within_the_limit(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    server.route("/start", Reply.redirect("/middle", status=302))
    server.route("/middle", Reply.redirect(server.url("/feed.xml"), status=307))
    server.route("/feed.xml", Reply(body=RSS))
    async with make_fetcher(max_redirects=2) as fetcher:
        fetched = await fetcher.get(server.url("/start"))
    assert fetched.content == RSS
    assert fetched.final_url == server.url("/feed.xml")
    assert fetched.redirects == (server.url("/middle"), server.url("/feed.xml"))
    assert fetched.permanent_redirect is None


@pytest.mark.parametrize("status", [301, 308])
async def test_a_permanent_redirect_is_reported(
    status: int, server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    server.route("/old.xml", Reply.redirect("/new.xml", status=status))
    server.route("/new.xml", Reply(body=RSS))
    async with make_fetcher() as fetcher:
        fetched = await fetcher.get(server.url("/old.xml"))
    assert fetched.permanent_redirect == server.url("/new.xml")
    assert fetched.requested_url == server.url("/old.xml")


async def test_only_the_permanent_part_of_a_chain_moves_the_source(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    server.route("/old.xml", Reply.redirect("/new.xml", status=301))
    server.route("/new.xml", Reply.redirect("/today.xml", status=302))
    server.route("/today.xml", Reply.redirect("/final.xml", status=301))
    server.route("/final.xml", Reply(body=RSS))
    async with make_fetcher() as fetcher:
        fetched = await fetcher.get(server.url("/old.xml"))
    assert fetched.permanent_redirect == server.url("/new.xml")
    assert fetched.final_url == server.url("/final.xml")


async def test_a_redirect_without_location_is_an_error(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    url = server.route("/nowhere", Reply(status=302))
    async with make_fetcher() as fetcher:
        with pytest.raises(FetchError, match="without a Location"):
            await fetcher.get(url)


# --- conditional GET ----------------------------------------------------------------------------


async def test_conditional_get_gives_not_modified(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    stamp = "Mon, 30 Nov 2026 06:00:00 GMT"

    def answer(request: RecordedRequest) -> Reply:
        if request.header("If-None-Match") == '"v1"' or request.header("If-Modified-Since") == (
            stamp
        ):
            return Reply(status=304)  # no validators repeated: the client keeps its own
        return Reply(body=RSS, headers={"ETag": '"v1"', "Last-Modified": stamp})

    url = server.route("/feed.xml", answer)
    async with make_fetcher() as fetcher:
        first = await fetcher.get(url)
        by_etag = await fetcher.get(url, etag=first.etag)
        by_date = await fetcher.get(url, last_modified=first.last_modified)
    assert first.content == RSS and not first.not_modified
    for again in (by_etag, by_date):
        assert again.not_modified and again.status == 304 and again.content == b""
    assert by_etag.etag == '"v1"' and by_date.last_modified == stamp
    assert server.requests[1].header("If-None-Match") == '"v1"'
    assert server.requests[2].header("If-Modified-Since") == stamp


# --- concurrency --------------------------------------------------------------------------------


async def test_per_host_concurrency_is_capped(
    server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    # Every request is held at the server until the test lets go: an uncapped client would
    # have all six there at once; with the cap two arrive and the other four wait their turn.
    release = threading.Event()

    def held(request: RecordedRequest) -> Reply:
        release.wait(timeout=30.0)
        return Reply(body=RSS)

    url = server.route("/feed.xml", held)
    async with make_fetcher(per_host_concurrency=2) as fetcher:
        pending = asyncio.gather(*(fetcher.get(f"{url}?n={n}") for n in range(6)))
        try:
            assert await asyncio.to_thread(server.wait_for_active, 2, 10.0)
            # a third request never reaches the server while two are held
            assert not await asyncio.to_thread(server.wait_for_active, 3, 0.5)
            assert len(server.requests) == 2
        finally:
            release.set()
        results = await pending
    assert all(r.content == RSS for r in results)
    assert len(server.requests) == 6


def test_limits_from_settings() -> None:
    settings = load_settings(
        fetch_timeout_seconds=7,
        fetch_max_bytes=1_000_000,
        fetch_max_redirects=2,
        fetch_per_host=3,
        allow_private_addresses=True,
    )
    limits = FetchLimits.from_settings(settings)
    assert limits.connect_timeout_s == limits.read_timeout_s == 7
    assert limits.total_timeout_s == 28
    assert limits.max_bytes == 1_000_000 and limits.max_decompressed_bytes == 4_000_000
    assert limits.max_redirects == 2 and limits.per_host_concurrency == 3
    assert limits.allow_private
    defaults = FetchLimits.from_settings(load_settings())
    assert not defaults.allow_private and defaults.max_bytes == 5_000_000
    assert defaults.max_redirects == 5 and defaults.per_host_concurrency == 2


async def test_get_outside_the_context_manager_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        await Fetcher().get("http://example.com/")
