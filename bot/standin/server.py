"""The HTTP server: :class:`BotAPIStandIn` serves a :class:`BotAPI` on 127.0.0.1.

Real HTTP on an ephemeral port with background daemon threads, for python-telegram-bot's
``Bot`` and ``Application``; ``/_standin/...`` is a small control API for manual runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from bot.standin.methods import BotAPI
from bot.standin.values import JSONDict
from bot.standin.wire import parse_params


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], standin: BotAPIStandIn) -> None:
        self.standin = standin
        self.closing = False
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._answering = 0  # requests read and not yet fully answered
        self._answered = threading.Condition(self._connections_lock)
        super().__init__(address, _Handler)

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around one request: stop() lets it finish writing its answer before cutting."""
        with self._answered:
            self._answering += 1
        try:
            yield
        finally:
            with self._answered:
                self._answering -= 1
                self._answered.notify_all()

    def wait_until_answered(self, timeout: float) -> None:
        """Wait (up to `timeout`) for the requests being answered to finish writing."""
        with self._answered:
            self._answered.wait_for(lambda: self._answering == 0, timeout)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if self.closing or isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def open_connections(self) -> int:
        with self._connections_lock:
            return len(self._connections)

    def interrupt_connections(self) -> None:
        """Make every handler thread see EOF so it finishes and closes its socket."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle on, each answer waits ~40 ms for the
        # client's delayed ACK, which the real Bot API does not do.
        if self.server.standin.nodelay:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        with self.server.answering():
            body = self._read_body()
            status, payload = self.server.standin.dispatch(
                self.command, self.path, self.headers.get("Content-Type", ""), body
            )
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()


class BotAPIStandIn(BotAPI):
    """A local Telegram Bot API server; see the package docstring.

    ``nodelay=False`` turns Nagle's algorithm back on for the stand-in's sockets (a bench row
    shows what that costs).
    """

    def __init__(self, *args: Any, port: int = 0, nodelay: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nodelay = nodelay
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind 127.0.0.1 (ephemeral port unless ``port`` was given) and serve in a thread."""
        if self._server is not None:
            return self
        self._closing = False
        server = _Server(("127.0.0.1", self._requested_port), self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"BotAPIStandIn:{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: unblocks long polls, closes every connection and the listening socket."""
        server, thread = self._server, self._thread
        if server is None:
            return
        with self._cond:
            self._closing = True
            self._faults.release()
            self._cond.notify_all()
        server.shutdown()
        server.closing = True
        server.wait_until_answered(2.0)  # woken long polls write their empty answer first
        server.interrupt_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        deadline = time.monotonic() + 2.0
        while server.open_connections() and time.monotonic() < deadline:
            time.sleep(0.005)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("BotAPIStandIn is not started; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot`` — PTB appends ``<token>/<method>``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """``http://127.0.0.1:PORT/file/bot`` (file downloads are not served)."""
        return f"{self.url}/file/bot"

    def dispatch(
        self, http_method: str, raw_path: str, content_type: str, body: bytes
    ) -> tuple[int, JSONDict]:
        """Answer one HTTP request: (status, JSON body)."""
        split = urlsplit(raw_path)
        if split.path.startswith("/_standin/"):
            return self._control(split.path[len("/_standin/") :], body)
        match = re.fullmatch(r"/bot([^/]*)/([^/]+)/?", split.path)
        if match is None or match.group(1) != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        response = self.serve(
            match.group(2), lambda: parse_params(split.query, content_type, body)
        )
        status = 200 if response.get("ok") else int(response.get("error_code") or 500)
        return status, response

    def _control(self, action: str, body: bytes) -> tuple[int, JSONDict]:
        """Tiny control API for manual runs: POST JSON kwargs to /_standin/push_message etc."""
        kwargs = json.loads(body.decode("utf-8")) if body else {}
        actions: dict[str, Callable[..., Any]] = {
            "push_message": self.push_message,
            "push_callback_query": self.push_callback_query,
            "push_inline_query": self.push_inline_query,
            "push_my_chat_member": self.push_my_chat_member,
            "push_raw": self.push_raw,
            "reset": self.reset,
            "calls": lambda: [dataclasses.asdict(c) for c in self.calls],
            "messages": lambda chat_id: [
                dataclasses.asdict(m) for m in self.chat_messages(chat_id)
            ],
        }
        if action not in actions:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        try:
            result = actions[action](**kwargs)
        except (TypeError, LookupError, ValueError) as exc:
            return 400, {"ok": False, "error_code": 400, "description": str(exc)}
        return 200, json.loads(json.dumps({"ok": True, "result": result}, default=repr))
