"""Session-wide fixtures: the real model, loaded once, and services over temp databases."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Nothing may reach a model hub; PTB 22 warns on retry_after unless told to use timedelta.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["PTB_TIMEDELTA"] = "1"
for _name in list(os.environ):  # a developer's own settings must not leak into the tests
    if _name.startswith("BRIEF_"):
        del os.environ[_name]
os.environ["BRIEF_ENV_FILE"] = ""  # nor a .env file in the working directory (subprocesses too)
# Nothing polls the real seed sources in tests: polling is on only where a test turns it on
# (and then only against its own server on 127.0.0.1).
os.environ["BRIEF_POLL"] = "false"

from knowledge.build import build_service  # noqa: E402
from knowledge.embedder import Embedder, shared_embedder  # noqa: E402
from knowledge.service import BriefService  # noqa: E402
from knowledge.settings import Settings, load_settings  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2, loaded once per test session."""
    model = shared_embedder()  # the same instance the CLI and services build for themselves
    model.load()
    return model


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings over a fresh database in tmp_path, with overrides."""

    def make(**overrides: Any) -> Settings:
        overrides.setdefault("db", tmp_path / "brief.db")
        return load_settings(**overrides)

    return make


@pytest.fixture
def make_service(
    make_settings: Callable[..., Settings], embedder: Embedder
) -> Iterator[Callable[..., BriefService]]:
    """A BriefService on the real model over a fresh database; closed after the test."""
    opened: list[BriefService] = []

    def make(**overrides: Any) -> BriefService:
        service = build_service(make_settings(**overrides), embedder=embedder)
        opened.append(service)
        return service

    yield make
    for service in opened:
        service.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, beside the checkout (read-only)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not there")
    return SHARED_DATA


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound once by us, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unreachable_api_url() -> str:
    """A Bot API URL on loopback where nothing answers: a bot under test never reaches out."""
    return f"http://127.0.0.1:{closed_loopback_port()}/bot"
