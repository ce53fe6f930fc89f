"""The ingest worker: polls in a real process of its own (spawned, loading the real model), at
idle CPU priority, writing to the same SQLite file, from feeds served on 127.0.0.1. Feeds that
hold their answer until the test releases them put the worker mid-poll when the test wants."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from knowledge.build import build_ingestion, build_service
from knowledge.embedder import Embedder
from knowledge.errors import IngestWorkerError, SourceError
from knowledge.models import PollReport
from knowledge.service import BriefService
from knowledge.settings import Settings
from knowledge.sources.poll import AnswerGate
from knowledge.sources.worker import IngestWorker
from tests.support.pollserver import FeedServer, HeldFeed, rss

MINT = "feeds_netnewswire/files/livemint.xml"  # 25 items
BBC_ITEMS = 40


def bbc_feed(shared_data: Path) -> tuple[bytes, dict[str, str]]:
    """An RSS document of real BBC headlines and standfirsts; their titles by link."""
    items: list[dict[str, str]] = []
    with gzip.open(shared_data / "news_bbc_rss_2022" / "asia_pacific.jsonl.gz", "rt") as handle:
        for line in handle:
            r = json.loads(line)
            items.append(
                {"title": r["title"], "link": r["url"], "guid": r["id"], "description": r["text"]}
            )
            if len(items) == BBC_ITEMS:
                break
    return rss(items, title="BBC News"), {i["link"]: i["title"] for i in items}


@pytest.fixture
def feeds(shared_data: Path) -> Iterator[tuple[FeedServer, HeldFeed, dict[str, str]]]:
    body, links = bbc_feed(shared_data)
    held = HeldFeed(body)
    with FeedServer() as server:
        server.serve_file("/mint.xml", shared_data / MINT)
        server.route("/bbc.xml", held)
        yield server, held, links
        held.release.set()  # never leave a server thread waiting


@pytest.fixture
def service(make_settings: Callable[..., Settings], embedder: Embedder) -> Iterator[BriefService]:
    settings = make_settings(allow_private_addresses=True, fetch_full_text=False)
    svc = build_service(settings, embedder=embedder, poll_in_worker=True)
    yield svc
    svc.close()


def add(service: BriefService, url: str, title: str) -> int:
    assert service.store.sources.add(url, "feed", title, None)
    found = service.store.sources.by_url(url)
    assert found is not None
    return found.id


def articles(db: Path) -> list[str | None]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT url FROM articles")]
    finally:
        conn.close()


def gone(pid: int) -> bool:
    """True when no process has this id (the worker was reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@contextmanager
def held_poll(
    service: BriefService, feeds: tuple[FeedServer, HeldFeed, dict[str, str]]
) -> Iterator[tuple[Future[PollReport], int]]:
    """Both feeds added and a poll started in the worker, held while the BBC feed is served:
    the poll's future and the worker's pid."""
    server, held, _ = feeds
    add(service, server.url("/mint.xml"), "Mint")
    add(service, server.url("/bbc.xml"), "BBC News")
    assert service.worker is not None
    with ThreadPoolExecutor(1) as pool:
        polling = pool.submit(service.ingest_sources)
        assert held.arrived.wait(120), "the worker never fetched the feed"
        pid = service.worker.pid
        assert pid is not None and pid != os.getpid()
        yield polling, pid


def test_the_worker_polls_into_the_shared_database_at_idle_priority(
    service: BriefService, feeds: tuple[FeedServer, HeldFeed, dict[str, str]]
) -> None:
    _, held, links = feeds
    with held_poll(service, feeds) as (polling, pid):
        assert os.sched_getscheduler(pid) == os.SCHED_IDLE
        assert service.poll_due() == PollReport()  # a poll is running: the tick returns at once
        held.release.set()
        report = polling.result(timeout=300)

    assert (report.stored, len(report.failed)) == (25 + BBC_ITEMS, 0)
    assert service.worker is not None
    assert service.worker.pid == pid  # one worker, kept for the next poll
    # the answering process's search sees what the worker stored
    link, title = next(iter(links.items()))
    assert link in {h.article.url for h in service.ask(title).hits}

    with pytest.raises(SourceError, match="There is no source #999"):
        service.ingest_sources(999)
    again = service.ingest_sources()
    assert {p.status for p in again.polls} == {"not_modified"}

    service.worker.close()
    assert gone(pid)
    with pytest.raises(IngestWorkerError, match="shut down"):
        service.poll_due()


def test_a_worker_killed_mid_poll_fails_that_poll_and_the_next_one_loses_nothing(
    service: BriefService, feeds: tuple[FeedServer, HeldFeed, dict[str, str]], tmp_path: Path
) -> None:
    _, held, links = feeds
    with held_poll(service, feeds) as (polling, pid):
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(IngestWorkerError, match=f"pid {pid}.*exit code -9"):
            polling.result(timeout=300)
    held.release.set()

    report = service.ingest_sources()  # a new worker
    assert service.worker is not None and service.worker.pid not in (None, pid)
    assert not report.failed
    stored = articles(service.settings.db)
    assert len(stored) == len(set(stored)) == 25 + BBC_ITEMS  # nothing twice
    assert set(links) <= set(stored)  # nothing lost


def test_close_stops_a_worker_stuck_in_a_poll(
    make_service: Callable[..., BriefService], feeds: tuple[FeedServer, HeldFeed, dict[str, str]]
) -> None:
    server, held, _ = feeds
    service = make_service(allow_private_addresses=True, fetch_full_text=False)
    add(service, server.url("/bbc.xml"), "BBC News")
    worker = IngestWorker(
        service.settings, build=build_ingestion, gate=AnswerGate(), grace_s=0.5, priority="low"
    )
    with ThreadPoolExecutor(1) as pool:
        polling = pool.submit(worker.ingest)
        assert held.arrived.wait(120), "the worker never fetched the feed"
        pid = worker.pid
        assert pid is not None
        assert os.getpriority(os.PRIO_PROCESS, pid) >= os.getpriority(os.PRIO_PROCESS, 0) + 10
        worker.close()  # the poll does not finish within the grace: the worker is stopped
        with pytest.raises(IngestWorkerError, match="stopped"):
            polling.result(timeout=300)
    assert gone(pid)
    with pytest.raises(IngestWorkerError, match="shut down"):
        worker.ingest()
