"""A real HTTP server on 127.0.0.1 for source tests: routes set per test, every request recorded.

    with FeedServer() as server:
        server.route("/feed.xml", Reply(body=data, headers={"Content-Type": "text/xml"}))
        server.route("/moved", Reply.redirect("/feed.xml", status=301))
        server.serve_dir("/files/", Path("../shared/data/feeds"))
        url = server.url("/feed.xml")

A route is a Reply or a function (RecordedRequest) -> Reply. A Reply's body may be bytes or an
iterable of chunks (sent without Content-Length, then the connection closes: a client that
stops reading is recorded in `server.aborted`). `hold` makes the handler wait on an event
before answering (released at stop), for timeout tests. Run by hand:
`python -m tests.support.feedserver --dir ../shared/data/feeds --port 8765`.
"""

from __future__ import annotations

import argparse
import mimetypes
import ssl
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

CONTENT_TYPES = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/json",
    ".html": "text/html",
    ".htm": "text/html",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names

    def header(self, name: str) -> str | None:
        """A request header by name (any case)."""
        return self.headers.get(name.lower())


@dataclass
class Reply:
    """What a route answers."""

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None  # wait for this before answering

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        """A redirect to `location`."""
        return cls(status=status, headers={"Location": location})


Route = Reply | Callable[[RecordedRequest], Reply]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read `requests` instead."""

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        owner = self.server.owner
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        owner._record(request)
        try:
            reply = owner._reply_for(request)
            if reply.hold is not None:
                reply.hold.wait(timeout=30)
                if owner._stopping.is_set():
                    return
            self._send(reply, send_body)
        finally:
            owner._done(request)

    def _send(self, reply: Reply, send_body: bool) -> None:
        self.send_response(reply.status)
        names = {name.lower() for name in reply.headers}
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if isinstance(reply.body, bytes | bytearray):
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if send_body:
                self.wfile.write(reply.body)
            return
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        sent = 0
        try:
            for chunk in reply.body:
                if not send_body or self.server.owner._stopping.is_set():
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.server.owner._abort(self.path, sent)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FeedServer

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up mid-answer is what fault tests do; anything else is printed."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class FeedServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with per-test routes."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self.scheme = "https" if tls else "http"
        self.server_names: list[str | None] = []  # the SNI of each TLS handshake
        if tls is not None:
            tls.sni_callback = self._record_sni
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._routes: dict[str, Route] = {}
        self._prefixes: list[tuple[str, Path]] = []
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.requests: list[RecordedRequest] = []
        self.aborted: list[tuple[str, int]] = []  # (path, bytes sent) when a client hung up
        self.active = 0
        self.max_active = 0

    # --- set-up -----------------------------------------------------------------------------

    def url(self, path: str = "/") -> str:
        """An absolute URL on this server."""
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def _record_sni(self, sock: object, name: str | None, context: object) -> None:
        with self._lock:
            self.server_names.append(name)

    def route(self, path: str, reply: Route) -> str:
        """Answer requests for `path` (exact, query string ignored); returns its URL."""
        self._routes[path] = reply
        return self.url(path)

    def serve_dir(self, prefix: str, folder: Path) -> None:
        """Serve the files under `folder` at `prefix` with a Content-Type from the suffix."""
        self._prefixes.append((prefix, folder.resolve()))

    # --- inspection -------------------------------------------------------------------------

    def hits(self, path: str) -> int:
        """How many requests asked for `path` (query string ignored)."""
        with self._lock:
            return sum(1 for r in self.requests if urlsplit(r.path).path == path)

    def wait_for_active(self, count: int, timeout: float = 5.0) -> bool:
        """Block until `count` requests are being handled at once (or the timeout)."""
        with self._lock:
            return self._lock.wait_for(lambda: self.active >= count, timeout=timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no request is being handled (or the timeout)."""
        with self._lock:
            return self._lock.wait_for(lambda: self.active == 0, timeout=timeout)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> FeedServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held requests, stop serving and close the socket."""
        self._stopping.set()
        for route in self._routes.values():
            if isinstance(route, Reply) and route.hold is not None:
                route.hold.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- handler side -----------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self._lock.notify_all()

    def _done(self, request: RecordedRequest) -> None:
        with self._lock:
            self.active -= 1
            self._lock.notify_all()

    def _abort(self, path: str, sent: int) -> None:
        with self._lock:
            self.aborted.append((path, sent))

    def _reply_for(self, request: RecordedRequest) -> Reply:
        path = unquote(urlsplit(request.path).path)
        route = self._routes.get(path)
        if route is not None:
            return route(request) if callable(route) else route
        for prefix, folder in self._prefixes:
            if path.startswith(prefix):
                target = (folder / path[len(prefix) :]).resolve()
                if target.is_relative_to(folder) and target.is_file():
                    kind = CONTENT_TYPES.get(target.suffix.lower()) or (
                        mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                    )
                    return Reply(body=target.read_bytes(), headers={"Content-Type": kind})
        return Reply(status=404, body=b"not found", headers={"Content-Type": "text/plain"})


def chunks(total: int, size: int = 65536, fill: bytes = b"x") -> Iterator[bytes]:
    """`total` bytes in chunks of `size` (a large body, produced lazily)."""
    block = fill * size
    sent = 0
    while sent < total:
        piece = block[: min(size, total - sent)]
        sent += len(piece)
        yield piece


def main() -> None:
    """Serve a folder on loopback by hand."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = FeedServer(port=args.port)
    server.serve_dir("/", args.dir)
    print(f"serving {args.dir} at {server.url('/')} (Ctrl-C stops)")
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    main()
