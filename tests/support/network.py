"""Network stand-ins for fetch tests: a backend that records every connection and refuses
anything but loopback, and a resolver that answers from a table (no DNS is ever asked)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpcore

LOOPBACK = frozenset({"127.0.0.1", "::1"})


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """The real anyio backend, recording each (address, port) connected to; a connection to
    anything but loopback fails the test instead of leaving the machine."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        if host not in LOOPBACK:
            raise AssertionError(f"a test tried to connect to {host}:{port}")
        return await self.inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError(f"a test tried to connect to the Unix socket {path}")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def table_resolver(table: dict[str, list[str]]) -> Callable[[str, int], Awaitable[list[str]]]:
    """A resolver answering from `table`; any other name fails as an unknown host."""

    async def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return list(table[host])
        raise httpcore.ConnectError(f"{host}: unknown host (the test resolver has no DNS)")

    return resolve
