"""A real HTTP server on 127.0.0.1 for the polling tests and the bench: fixed bodies,
per-request functions, faults (status codes, Retry-After, slow answers, redirects) and
conditional GET; every request is recorded. (feedserver.py serves the fetch tests.)"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self


@dataclass(frozen=True)
class Response:
    """What the server answers for one request."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow server)


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    at: float


Handler = Callable[[Request], Response]

RSS = "application/rss+xml; charset=utf-8"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: FeedServer) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.owner = owner


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, time.time())
        response = owner.answer(request)
        if response.delay:
            owner.stopping.wait(response.delay)
        try:
            self.send_response(response.status)
            headers = {"Content-Length": str(len(response.body)), **response.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if response.status != 304:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass


class FeedServer:
    """`with FeedServer() as server: server.route("/feed.xml", body, ...)`; `server.url(path)`."""

    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        """The full URL of a path on this server."""
        return self.base + path

    # --- what to serve --------------------------------------------------------------------
    def route(
        self,
        path: str,
        body: bytes | Handler = b"",
        *,
        status: int = 200,
        content_type: str = RSS,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve `body` (or what a function returns per request) at `path`."""
        if callable(body):
            handler: Handler = body
        else:
            fixed = Response(
                body, status, {"Content-Type": content_type, **(headers or {})}, delay
            )

            def handler(request: Request) -> Response:
                return fixed

        with self._lock:
            self._routes[path] = handler

    def serve_file(self, path: str, file: Path, content_type: str = RSS) -> None:
        """Serve a file's bytes as they are, with an ETag and conditional GET."""
        self.route(path, conditional(file.read_bytes(), content_type))

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        """Answer `path` with a redirect."""
        self.route(path, b"", status=status, headers={"Location": to}, content_type="text/plain")

    def answer(self, request: Request) -> Response:
        """Record the request and find its answer (404 for an unknown path)."""
        with self._lock:
            self.requests.append(request)
            handler = self._routes.get(request.path)
        if handler is None:
            return Response(b"not found", 404, {"Content-Type": "text/plain"})
        return handler(request)

    def hits(self, path: str) -> list[Request]:
        """The requests received for `path`."""
        with self._lock:
            return [r for r in self.requests if r.path == path]


def conditional(
    body: bytes, content_type: str = RSS, etag: str = '"v1"', last_modified: str | None = None
) -> Handler:
    """A handler that serves `body` with an ETag (and Last-Modified), and 304 when the request
    carries the same validator."""
    modified = last_modified or "Mon, 30 Nov 2026 06:00:00 GMT"

    def handler(request: Request) -> Response:
        headers = {"Content-Type": content_type, "ETag": etag, "Last-Modified": modified}
        if request.headers.get("if-none-match") == etag:
            return Response(b"", 304, headers)
        if "if-none-match" not in request.headers and (
            request.headers.get("if-modified-since") == modified
        ):
            return Response(b"", 304, headers)
        return Response(body, 200, headers)

    return handler


def rss(items: list[dict[str, str]], title: str = "Test feed", ttl: int | None = None) -> bytes:
    """An RSS 2.0 document with these items (keys: title, link, guid, description, pubDate)."""
    from xml.sax.saxutils import escape

    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://example.org/</link>",
        "<description>test</description>",
    ]
    if ttl is not None:
        parts.append(f"<ttl>{ttl}</ttl>")
    for item in items:
        parts.append("<item>")
        for key in ("title", "link", "guid", "description", "pubDate"):
            if key in item:
                parts.append(f"<{key}>{escape(item[key])}</{key}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


class HeldFeed:
    """A handler (conditional GET of `body`) whose first request waits until `release` is set;
    `arrived` tells the test that the poller is there: a poll held at a known point."""

    def __init__(self, body: bytes) -> None:
        self.serve = conditional(body)
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, request: Request) -> Response:
        """Serve the feed; the first request only once released."""
        if not self.arrived.is_set():
            self.arrived.set()
            self.release.wait(600)
        return self.serve(request)
