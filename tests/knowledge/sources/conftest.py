"""Fixtures for source tests: a loopback feed server and fetchers that cannot leave loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from knowledge.sources.fetch import Fetcher, FetchLimits
from tests.support.feedserver import FeedServer
from tests.support.network import RecordingBackend, table_resolver


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A feed server on 127.0.0.1, stopped after the test."""
    with FeedServer() as running:
        yield running


@pytest.fixture
def backend() -> RecordingBackend:
    """Records every connection; fails the test on any non-loopback address."""
    return RecordingBackend()


@pytest.fixture
def make_fetcher(backend: RecordingBackend) -> Callable[..., Fetcher]:
    """A Fetcher over the recording backend with a table resolver (no DNS); private addresses
    allowed unless the test says otherwise. Use as `async with make_fetcher() as fetcher`."""

    def make(resolve: dict[str, list[str]] | None = None, **limits: Any) -> Fetcher:
        limits.setdefault("allow_private", True)
        limits.setdefault("connect_timeout_s", 5.0)
        limits.setdefault("read_timeout_s", 5.0)
        limits.setdefault("total_timeout_s", 20.0)
        return Fetcher(
            FetchLimits(**limits),
            network_backend=backend,
            resolver=table_resolver(resolve or {}),
        )

    return make
