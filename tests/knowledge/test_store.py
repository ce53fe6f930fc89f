"""The SQLite store: schema and migrations, WAL, read-only and corrupt files."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge.errors import StoreCorruptError, StoreError, StoreReadOnlyError
from knowledge.service import BriefService
from knowledge.store import Store, schema_version

SCHEMA_VERSION = schema_version()

ARTICLE = {
    "title": "Philippine and Chinese vessels collide near Scarborough Shoal",
    "text": "A Chinese coast guard ship collided with a Philippine patrol vessel near "
    "Scarborough Shoal in the South China Sea. Manila protested.",
    "url": "https://manila.example.ph/scarborough",
    "published": "2025-10-12",
    "source": "Manila Example",
}


def test_new_store_is_wal_and_at_the_current_schema(tmp_path: Path) -> None:
    store = Store(tmp_path / "brief.db")
    assert store.schema_version == SCHEMA_VERSION
    with sqlite3.connect(tmp_path / "brief.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"articles", "sources", "chats", "articles_fts"} <= tables
    store.close()


def test_reopening_keeps_the_data_and_migrates_nothing(
    tmp_path: Path, make_service: Callable[..., BriefService]
) -> None:
    path = tmp_path / "brief.db"
    first = make_service(db=path)
    assert first.import_records([(1, ARTICLE)]).imported == 1
    first.record_chat(-100123, "supergroup", "Watchers")
    first.close()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE marker (x)")  # a migration that rebuilt the file would drop it
    again = make_service(db=path)
    assert again.store.schema_version == SCHEMA_VERSION
    stats = again.stats()
    assert (stats.articles, stats.stories, stats.chats) == (1, 1, 1)
    assert again.chat_is_active(-100123) is True
    (hit,) = again.ask("Scarborough Shoal collision").hits  # the index is rebuilt from the file
    assert hit.article.title == ARTICLE["title"]
    assert hit.article.url == ARTICLE["url"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM marker").fetchone() == (0,)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "brief.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this program"):
        Store(path)


def test_corrupt_file_is_reported_and_left_untouched(
    tmp_path: Path, make_service: Callable[..., BriefService]
) -> None:
    path = tmp_path / "brief.db"
    junk = b"this is not a database, " * 200
    path.write_bytes(junk)
    with pytest.raises(StoreCorruptError, match="not a usable SQLite database") as caught:
        make_service(db=path)
    assert "move it aside" in str(caught.value)
    assert path.read_bytes() == junk


def test_read_only_file_answers_but_refuses_writes(
    tmp_path: Path, make_service: Callable[..., BriefService]
) -> None:
    path = tmp_path / "brief.db"
    writer = make_service(db=path)
    assert writer.import_records([(1, ARTICLE)]).imported == 1
    writer.close()
    before = path.read_bytes()
    path.chmod(0o444)
    try:
        reader = make_service(db=path)
        assert reader.store.read_only
        brief = reader.ask("Scarborough Shoal collision")
        assert [h.article.url for h in brief.hits] == [ARTICLE["url"]]
        with pytest.raises(StoreReadOnlyError, match="read-only: nothing was written"):
            reader.import_records([(1, {**ARTICLE, "url": "https://other.example/x"})])
        with pytest.raises(StoreReadOnlyError):
            reader.record_chat(5, "private")
        assert path.read_bytes() == before
    finally:
        path.chmod(0o644)


def test_chats_are_recorded_deactivated_and_migrated(tmp_path: Path) -> None:
    store = Store(tmp_path / "brief.db")
    store.chats.upsert(-100, "group", "Analysts")
    assert store.chats.is_active(-100) is True
    store.chats.deactivate(-100, "kicked")
    assert store.chats.is_active(-100) is False
    assert store.chats.active_count() == 0
    store.chats.upsert(-100, "group", "Analysts")  # writing again re-activates
    store.chats.migrate(-100, -1001234)
    assert store.chats.is_active(-100) is None
    assert store.chats.is_active(-1001234) is True
    store.close()


def test_record_chat_writes_only_when_something_changed(
    make_service: Callable[..., BriefService],
) -> None:
    service = make_service()
    service.record_chat(7, "private", "Ana")
    wal = Path(f"{service.store.path}-wal")
    size = wal.stat().st_size
    service.record_chat(7, "private", "Ana")  # the same again: no write
    assert wal.stat().st_size == size
    service.deactivate_chat(7, "blocked")
    assert service.chat_is_active(7) is False
    service.record_chat(7, "private", "Ana")  # after a deactivation it writes again
    assert service.chat_is_active(7) is True
