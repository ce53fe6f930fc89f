"""Killing `brief ingest` in the middle of a poll and starting it again loses nothing and stores
nothing twice: a real subprocess polling two feeds of 200 real headlines each, served on
127.0.0.1, SIGKILLed at a known point: the first feed stored, the second one's answer held by
the feed server. So the counts are exact, however fast the machine."""

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
from tests.support.pollserver import FeedServer, HeldFeed, conditional, rss

ROOT = Path(__file__).resolve().parents[1]
ITEMS = 400
HALF = ITEMS // 2


def bbc_items(shared_data: Path) -> list[dict[str, str]]:
    """ITEMS real BBC headlines and standfirsts, as RSS items."""
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
    return items


def count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        conn.close()


@pytest.fixture
def feeds(shared_data: Path) -> Iterator[tuple[FeedServer, HeldFeed, set[str]]]:
    """/first.xml (the first HALF items) served at once; /second.xml (the rest) held."""
    items = bbc_items(shared_data)
    held = HeldFeed(rss(items[HALF:], title="BBC News (more)"))
    with FeedServer() as server:
        server.route("/first.xml", conditional(rss(items[:HALF], title="BBC News")))
        server.route("/second.xml", held)
        try:
            yield server, held, {i["link"] for i in items}
        finally:
            held.release.set()


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


def first_feed_done(db: Path) -> bool:
    """The first feed's poll is recorded: its items stored and its validators saved."""
    return count(db, "SELECT count(*) FROM sources WHERE etag IS NOT NULL") == 1


def test_killed_mid_poll_then_restarted_loses_nothing_and_duplicates_nothing(
    feeds: tuple[FeedServer, HeldFeed, set[str]], tmp_path: Path
) -> None:
    server, held, links = feeds
    db = tmp_path / "brief.db"
    setup = build_service(load_settings(db=db))
    setup.store.sources.add(server.url("/first.xml"), "feed", "BBC News", None)
    setup.store.sources.add(server.url("/second.xml"), "feed", "BBC News (more)", None)
    setup.close()

    first_log = tmp_path / "first.log"
    with first_log.open("wb") as log, ingest_process(db, log) as first:
        try:
            # the two feeds are fetched at once: the second one's answer waits for the kill
            assert held.arrived.wait(300), first_log.read_text()[-2000:]
            while not first_feed_done(db):  # an event in another process: looked for
                assert first.poll() is None, first_log.read_text()[-2000:]
                time.sleep(0.05)
            first.send_signal(signal.SIGKILL)
        finally:
            if first.poll() is None:
                first.kill()
        assert first.wait(timeout=30) == -signal.SIGKILL
    held.release.set()
    assert count(db, "SELECT count(*) FROM articles") == HALF  # the first feed, exactly
    # the second feed was never answered: its validators are not saved, it is fetched again
    assert count(db, "SELECT count(*) FROM sources WHERE etag IS NOT NULL") == 1

    second_log = tmp_path / "second.log"
    with second_log.open("wb") as log, ingest_process(db, log) as second:
        assert second.wait(timeout=600) == 0, second_log.read_text()[-2000:]
    summary = second_log.read_text().splitlines()[-1]
    assert summary.startswith(f"polled 2: stored {ITEMS - HALF} ")
    assert len(server.hits("/first.xml")) == 2 and len(server.hits("/second.xml")) == 2

    conn = sqlite3.connect(db)
    stored = {r[0] for r in conn.execute("SELECT url FROM articles")}
    total = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    seen = conn.execute("SELECT count(*) FROM source_items").fetchone()[0]
    etags = [r[0] for r in conn.execute("SELECT etag FROM sources ORDER BY id")]
    conn.close()
    assert total == len(stored) == ITEMS  # nothing twice
    assert stored == links  # nothing lost
    assert seen == ITEMS and etags == ['"v1"', '"v1"']
