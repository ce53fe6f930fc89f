"""knowledge/store/sources.py and migration 002 on real SQLite files."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from knowledge.store import Store, utcnow
from knowledge.store.db import migrations, statements


def test_a_version_1_database_keeps_its_sources_through_migration_2(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    (_, _, initial), *_ = migrations()
    for statement in statements(initial):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO sources (url, kind, title, added_at) "
        "VALUES ('https://thediplomat.com/feed/', 'feed', 'The Diplomat', '2026-11-01T00:00:00Z')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    store = Store(path)
    try:
        assert store.schema_version >= 2
        (source,) = store.sources.active()
        assert (source.url, source.title, source.kind) == (
            "https://thediplomat.com/feed/",
            "The Diplomat",
            "feed",
        )
        assert (source.error_streak, source.paused, source.articles) == (0, False, 0)
        assert source.next_poll_at is None  # due at once
        assert [s.id for s in store.sources.due(utcnow())] == [source.id]
    finally:
        store.close()


def test_seen_items_failures_pause_and_notices(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    try:
        sources = store.sources
        assert sources.add("https://a.example/feed", "feed", "A", 1)
        assert not sources.add("https://a.example/feed", "feed", "A again", 1)
        (source,) = sources.active()
        now = utcnow()

        sources.mark_seen(source.id, [("g1", None), ("g2", None)], now - timedelta(days=40))
        sources.mark_seen(source.id, [("g2", None)], now)  # seen again: renewed
        assert sources.seen(source.id, ["g1", "g2", "g3"]) == {"g1", "g2"}
        assert sources.forget_seen_before(source.id, now - timedelta(days=30)) == 1
        assert sources.seen(source.id, ["g1", "g2"]) == {"g2"}

        later = now + timedelta(minutes=30)
        sources.record_failure(
            source.id, when=now, error="boom", streak=1, next_poll_at=later, pause_reason=None
        )
        assert sources.due(now) == [] and [s.id for s in sources.due(later)] == [source.id]
        assert sources.next_due() == later
        sources.record_failure(
            source.id, when=now, error="boom", streak=2, next_poll_at=later, pause_reason="2 x"
        )
        paused = sources.get(source.id)
        assert paused is not None and paused.paused and paused.paused_reason == "2 x"
        assert sources.due(later) == []
        assert [s.id for s in sources.pause_notices()] == [source.id]
        sources.mark_notified([source.id])
        assert sources.pause_notices() == []

        sources.record_success(
            source.id,
            when=later,
            next_poll_at=later + timedelta(minutes=30),
            etag='"e"',
            last_modified=None,
            ttl_minutes=60,
            new_items=True,
        )
        back = sources.get(source.id)
        assert back is not None and not back.paused and back.error_streak == 0
        assert (back.etag, back.ttl_minutes, back.last_new_item) == ('"e"', 60, later)

        assert sources.add("https://b.example/feed", "feed", "B", None)
        b = sources.by_url("https://b.example/feed")
        assert b is not None
        assert not sources.move(source.id, "https://b.example/feed")  # taken by B
        assert sources.move(source.id, "https://a.example/new-feed")

        assert sources.remove(b.id) and not sources.remove(b.id)
        assert sources.get(b.id) is None and sources.count() == 1
        assert sources.add("https://b.example/feed", "feed", "B again", None)  # comes back
        again = sources.get(b.id)
        assert again is not None and again.title == "B again"
    finally:
        store.close()
