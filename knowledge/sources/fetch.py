"""Fetching: one async httpx client with caps, our own redirect handling and the address guard.

Every hop is checked by addresses.check_url before it is requested; every connection goes
through `VettingBackend`, which resolves the name itself, refuses the connection if any
answer is a refused address, and connects to the vetted IP (TLS still verifies and sends SNI
for the name, and the Host header is the URL's). Bodies are read raw and decompressed here,
so both the transfer size and the decompressed size are capped while streaming.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from knowledge.errors import (
    AddressNotAllowedError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    SourceError,
    TooLarge,
    TooManyRedirects,
)
from knowledge.sources.addresses import check_ip, check_url, normalise_host, parse_ip_host

if TYPE_CHECKING:
    from knowledge.settings import Settings

__all__ = [
    "AddressNotAllowedError",
    "FetchError",
    "FetchLimits",
    "FetchTimeout",
    "Fetched",
    "Fetcher",
    "HTTPStatusError",
    "SourceError",
    "TooLarge",
    "TooManyRedirects",
    "VettingBackend",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

USER_AGENT = "indopac-brief/0.1 (Indo-Pacific news Telegram bot; feed reader)"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/html;q=0.7, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})

Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How long, how much and where the fetcher may go."""

    connect_timeout_s: float = 15.0
    read_timeout_s: float = 15.0
    total_timeout_s: float = 60.0  # a server trickling bytes cannot hold a fetch forever
    max_bytes: int = 5_000_000  # bytes on the wire
    max_decompressed_bytes: int = 20_000_000  # bytes after gzip/deflate (a gzip bomb stops here)
    max_redirects: int = 5
    per_host_concurrency: int = 2
    user_agent: str = USER_AGENT
    allow_private: bool = False
    # (address, port) pairs allowed even when private addresses are refused: a local test
    # server, so a test can show that a redirect from it to another local address is refused.
    allowed_addresses: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        """The limits the settings ask for."""
        timeout = float(settings.fetch_timeout_seconds)
        return cls(
            connect_timeout_s=timeout,
            read_timeout_s=timeout,
            total_timeout_s=timeout * 4,
            max_bytes=settings.fetch_max_bytes,
            max_decompressed_bytes=settings.fetch_max_bytes * 4,
            max_redirects=settings.fetch_max_redirects,
            per_host_concurrency=settings.fetch_per_host,
            allow_private=settings.allow_private_addresses,
        )


@dataclass(frozen=True, slots=True)
class Fetched:
    """One successful fetch (or a 304)."""

    requested_url: str
    final_url: str
    status: int
    content: bytes
    content_type: str | None  # the media type, lower-case, without parameters
    charset: str | None  # from the Content-Type header
    etag: str | None
    last_modified: str | None
    not_modified: bool = False
    permanent_redirect: str | None = None  # the new URL when a 301/308 moved the resource
    redirects: tuple[str, ...] = ()  # every URL after the first, in order


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def _content_type(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return (media.strip().lower() or None), charset


async def _system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from None
    seen: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in seen:
            seen.append(address)
    return seen


class VettingBackend(httpcore.AsyncNetworkBackend):
    """A network backend that resolves names itself and connects only to vetted addresses."""

    def __init__(
        self,
        *,
        allow_private: bool,
        allowed: Collection[tuple[str, int]] = (),
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolver: Resolver | None = None,
        resolve_timeout_s: float = 15.0,
    ) -> None:
        self._allow_private = allow_private
        self._allowed = allowed
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolver = resolver or _system_resolver
        self._resolve_timeout_s = resolve_timeout_s

    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address `host` resolves to, each vetted; raises if any is refused."""
        literal = parse_ip_host(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                async with asyncio.timeout(self._resolve_timeout_s):
                    addresses = await self._resolver(normalise_host(host), port)
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        # One refused answer refuses the name: a public and a private answer together is how
        # DNS rebinding slips through a check made on a different answer than the one used.
        for address in addresses:
            check_ip(address, self._allow_private, port=port, allowed=self._allowed)
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first vetted address of `host` that answers."""
        addresses = await self.resolve(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are local by definition: refused."""
        raise AddressNotAllowedError("refused to connect to a Unix socket")

    async def sleep(self, seconds: float) -> None:
        """Sleep on the inner backend's clock."""
        await self._inner.sleep(seconds)


class _VettedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on the vetting backend."""

    def __init__(
        self, backend: VettingBackend, max_connections: int, ssl_context: ssl.SSLContext | None
    ) -> None:
        super().__init__(trust_env=False, retries=0)
        # TLS verifies the certificate against the URL's name and sends it as SNI, whatever
        # address the backend connected to.
        context = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )


class _Decoder:
    """Decompresses gzip/deflate incrementally, never producing more than `cap` bytes."""

    def __init__(self, encoding: str, cap: int) -> None:
        self._cap = cap
        self._total = 0
        self._encoding = encoding
        self._zlib: Any = None
        self._deflate_checked = False
        self._done = False
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding not in ("", "identity"):
            raise FetchError(f"the server used an unsupported content encoding: {encoding}")

    def _count(self, size: int) -> None:
        self._total += size
        if self._total > self._cap:
            raise TooLarge(
                f"the response decompresses to more than {self._cap:,} bytes "
                "(a compression bomb, or far too large)",
                permanent=False,
            )

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes for the next raw chunk."""
        if self._zlib is None:
            self._count(len(data))
            return data
        if self._done:
            return b""
        out: list[bytes] = []
        members = 0
        try:
            while data:
                if self._zlib.eof:
                    if self._encoding == "deflate":
                        break  # bytes after a deflate stream are ignored
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)  # another gzip member
                    members += 1
                piece = self._zlib.decompress(data, self._cap - self._total + 1)
                self._deflate_checked = True
                self._count(len(piece))
                out.append(piece)
                data = self._zlib.unconsumed_tail or (
                    self._zlib.unused_data if self._zlib.eof else b""
                )
        except zlib.error as exc:
            if self._encoding == "deflate" and not self._deflate_checked:
                # "deflate" is often sent as a raw stream without the zlib header.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                self._deflate_checked = True
                return self.feed(data)
            if members:
                self._done = True  # junk after a complete gzip member: ignore it
                return b"".join(out)
            raise FetchError(f"the response is not valid {self._encoding} data: {exc}") from None
        return b"".join(out)

    def finish(self) -> bytes:
        """Whatever the decompressor still holds."""
        if self._zlib is None or self._done:
            return b""
        try:
            tail: bytes = self._zlib.flush()
        except zlib.error as exc:
            raise FetchError(f"the response is not valid {self._encoding} data: {exc}") from None
        self._count(len(tail))
        return tail


class Fetcher:
    """GETs URLs under FetchLimits; use as `async with Fetcher(limits) as fetcher`."""

    def __init__(
        self,
        limits: FetchLimits | None = None,
        *,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.limits = limits or FetchLimits()
        self._ssl_context = ssl_context  # None: the system's trust store (tests pass their CA)
        self.backend = VettingBackend(
            allow_private=self.limits.allow_private,
            allowed=self.limits.allowed_addresses,
            inner=network_backend,
            resolver=resolver,
            resolve_timeout_s=self.limits.connect_timeout_s,
        )
        self._client: httpx.AsyncClient | None = None
        self._host_slots: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        limits = self.limits
        self._client = httpx.AsyncClient(
            transport=_VettedTransport(self.backend, 100, self._ssl_context),
            timeout=httpx.Timeout(
                connect=limits.connect_timeout_s,
                read=limits.read_timeout_s,
                write=limits.read_timeout_s,
                pool=limits.total_timeout_s,
            ),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": limits.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @asynccontextmanager
    async def _host_slot(self, url: str) -> AsyncIterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        slot = self._host_slots.get(host)
        if slot is None:
            slot = self._host_slots[host] = asyncio.Semaphore(self.limits.per_host_concurrency)
        async with slot:
            yield

    def check(self, url: str) -> None:
        """Raise AddressNotAllowedError unless the guard lets `url` be fetched."""
        check_url(url, self.limits.allow_private, allowed=self.limits.allowed_addresses)

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> Fetched:
        """GET `url`, following up to max_redirects redirects (each hop checked).

        Raises AddressNotAllowedError, FetchTimeout, HTTPStatusError, TooLarge,
        TooManyRedirects or FetchError; a 304 comes back as Fetched(not_modified=True)."""
        if self._client is None:
            raise RuntimeError("use the Fetcher as an async context manager")
        started = time.monotonic()
        try:
            # The overall deadline starts when the first request does: waiting for a slot
            # behind other requests to the same host is not the server being slow.
            async with asyncio.timeout(None) as deadline:
                return await self._get(url, etag, last_modified, accept, deadline)
        except TimeoutError:
            raise FetchTimeout(
                f"{url} took longer than {self.limits.total_timeout_s:g} s in all"
            ) from None
        finally:
            log.debug("fetched %s in %.3f s", url, time.monotonic() - started)

    async def _get(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        accept: str,
        deadline: asyncio.Timeout,
    ) -> Fetched:
        assert self._client is not None
        current = url.strip()
        visited = {current}
        redirects: list[str] = []
        permanent_to: str | None = None
        still_permanent = True
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        while True:
            self.check(current)
            async with self._host_slot(current):
                if deadline.when() is None:
                    loop_time = asyncio.get_running_loop().time()
                    deadline.reschedule(loop_time + self.limits.total_timeout_s)
                response = await self._send(current, headers)
                try:
                    status = response.status_code
                    if status in REDIRECT_STATUSES:
                        location = response.headers.get("location", "").strip()
                        if not location:
                            raise FetchError(f"{current} answered {status} without a Location")
                        target = urljoin(current, location)
                        if target in visited:
                            raise TooManyRedirects(f"redirect loop at {target}")
                        if len(redirects) >= self.limits.max_redirects:
                            raise TooManyRedirects(
                                f"more than {self.limits.max_redirects} redirects from {url}"
                            )
                        if still_permanent and status in PERMANENT_REDIRECTS:
                            permanent_to = target
                        else:
                            still_permanent = False
                        visited.add(target)
                        redirects.append(target)
                        current = target
                        continue
                    return await self._finish(
                        url, current, response, permanent_to, redirects, headers
                    )
                finally:
                    await response.aclose()

    async def _send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        assert self._client is not None
        try:
            request = self._client.build_request("GET", url, headers=headers)
            return await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            kind = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting"
            raise FetchTimeout(f"{url}: timed out {kind} ({type(exc).__name__})") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError(
                f"{url} is not a URL that can be fetched: {exc}", permanent=True
            ) from None
        except httpx.TransportError as exc:
            raise FetchError(f"{url}: {_transport_reason(exc)}") from None

    async def _finish(
        self,
        requested: str,
        final: str,
        response: httpx.Response,
        permanent_to: str | None,
        redirects: list[str],
        headers: dict[str, str],
    ) -> Fetched:
        status = response.status_code
        media, charset = _content_type(response.headers.get("content-type"))
        common: dict[str, Any] = {
            "requested_url": requested,
            "final_url": final,
            "status": status,
            "content_type": media,
            "charset": charset,
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            "permanent_redirect": permanent_to,
            "redirects": tuple(redirects),
        }
        if status == 304:
            # A 304 need not repeat the validators: keep the ones we sent.
            common["etag"] = common["etag"] or headers.get("If-None-Match")
            common["last_modified"] = common["last_modified"] or headers.get("If-Modified-Since")
            return Fetched(content=b"", not_modified=True, **common)
        if status >= 400 or status < 200:
            raise _status_error(final, response)
        content = await self._read_body(final, response)
        return Fetched(content=content, **common)

    async def _read_body(self, url: str, response: httpx.Response) -> bytes:
        limits = self.limits
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limits.max_bytes:
            raise TooLarge(
                f"{url} is {int(declared):,} bytes, more than the {limits.max_bytes:,} allowed"
            )
        encoding = response.headers.get("content-encoding", "").strip().lower()
        decoder = _Decoder(encoding, limits.max_decompressed_bytes)
        raw_total = 0
        parts: list[bytes] = []
        try:
            async for chunk in response.aiter_raw():
                raw_total += len(chunk)
                if raw_total > limits.max_bytes:
                    raise TooLarge(
                        f"{url} sent more than the {limits.max_bytes:,} bytes allowed; stopped"
                    )
                parts.append(decoder.feed(chunk))
        except httpx.TimeoutException:
            raise FetchTimeout(f"{url}: timed out reading the response") from None
        except httpx.TransportError as exc:
            raise FetchError(f"{url}: {_transport_reason(exc)}") from None
        parts.append(decoder.finish())
        return b"".join(parts)


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect ({exc or 'connection refused'})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP protocol ({exc})"
    return f"network error ({type(exc).__name__}: {exc})"


def _status_error(url: str, response: httpx.Response) -> HTTPStatusError:
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    reason = response.reason_phrase or "error"
    message = f"{url} answered HTTP {status} {reason}"
    if retry_after is not None and status in (429, 503):
        message += f" (retry after {retry_after:.0f} s)"
    permanent = status in (410, 451)
    return HTTPStatusError(message, status=status, retry_after_s=retry_after, permanent=permanent)
