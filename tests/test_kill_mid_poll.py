"""Killing `brief ingest` in the middle of a poll and starting it again loses nothing and stores
nothing twice: a real subprocess, SIGKILLed while it stores a 400-item feed served on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from knowledge.build import build_service
from knowledge.settings import load_settings
from tests.support.pollserver import FeedServer, conditional, rss

ROOT = Path(__file__).resolve().parents[1]
ITEMS = 400


def bbc_feed(shared_data: Path) -> tuple[bytes, set[str]]:
    """An RSS document of ITEMS real BBC headlines and standfirsts, and their links."""
    items: list[dict[str, str]] = []
    with gzip.open(shared_data / "news_bbc_rss_2022" / "other.jsonl.gz", "rt") as handle:
        for line in handle:
            record = json.loads(line)
            items.append(
                {
                    "title": record["title"],
                    "link": record["url"],
                    "guid": record["id"],
                    "description": record["text"],
                }
            )
            if len(items) == ITEMS:
                break
    return rss(items, title="BBC News"), {i["link"] for i in items}


def count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        conn.close()


@pytest.fixture
def feed(shared_data: Path) -> Iterator[tuple[FeedServer, set[str]]]:
    body, links = bbc_feed(shared_data)
    with FeedServer() as server:
        server.route("/bbc.xml", conditional(body))
        yield server, links


def ingest_process(db: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BRIEF_DB": str(db),
        "BRIEF_ALLOW_PRIVATE_ADDRESSES": "true",  # the feed is on 127.0.0.1
        "BRIEF_FETCH_FULL_TEXT": "false",  # its links point at the real BBC
        "BRIEF_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "ingest"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_killed_mid_poll_then_restarted_loses_nothing_and_duplicates_nothing(
    feed: tuple[FeedServer, set[str]], tmp_path: Path
) -> None:
    server, links = feed
    db = tmp_path / "brief.db"
    setup = build_service(load_settings(db=db))
    setup.store.sources.add(server.url("/bbc.xml"), "feed", "BBC News", None)
    setup.close()

    first_log = tmp_path / "first.log"
    with first_log.open("wb") as log, ingest_process(db, log) as first:
        deadline = time.monotonic() + 300
        try:
            while count(db, "SELECT count(*) FROM articles") == 0:  # wait until it stores
                assert first.poll() is None, first_log.read_text()[-2000:]
                assert time.monotonic() < deadline, "the poll never started storing"
                time.sleep(0.05)
            first.send_signal(signal.SIGKILL)
        finally:
            if first.poll() is None:
                first.kill()
        assert first.wait(timeout=30) == -signal.SIGKILL
    stored_when_killed = count(db, "SELECT count(*) FROM articles")
    assert 0 < stored_when_killed < ITEMS  # it really died mid-poll
    # killed before the end: the validators were not saved, so the next poll fetches again
    assert count(db, "SELECT count(*) FROM sources WHERE etag IS NOT NULL") == 0

    second_log = tmp_path / "second.log"
    with second_log.open("wb") as log, ingest_process(db, log) as second:
        assert second.wait(timeout=600) == 0, second_log.read_text()[-2000:]
    summary = second_log.read_text().splitlines()[-1]
    assert summary.startswith(f"polled 1: stored {ITEMS - stored_when_killed} ")

    conn = sqlite3.connect(db)
    stored = {r[0] for r in conn.execute("SELECT url FROM articles")}
    total = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    seen = conn.execute("SELECT count(*) FROM source_items").fetchone()[0]
    etag = conn.execute("SELECT etag FROM sources").fetchone()[0]
    conn.close()
    assert total == len(stored) == ITEMS  # nothing twice
    assert stored == links  # nothing lost
    assert seen == ITEMS and etag == '"v1"'
