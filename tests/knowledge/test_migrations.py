"""Migrations: one transaction per step, so a failure or a second process never half-applies
one, and two processes opening a new database at once both work."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from knowledge.errors import StoreError
from knowledge.store import Store, db, schema_version


def test_statements_keep_trigger_bodies_whole() -> None:
    script = (
        "-- a comment\nCREATE TABLE t (a);\n"
        "CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN\n  INSERT INTO t VALUES (1);\nEND;\n"
    )
    found = db.statements(script)
    assert len(found) == 2
    assert found[1].startswith("CREATE TRIGGER") and found[1].endswith("END;")


def test_a_failing_step_leaves_nothing_half_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "brief.db"
    real, current = db.migrations(), schema_version()
    broken = (current + 1, "broken", "CREATE TABLE half (a);\nCREATE TABLE (oops;\n")
    monkeypatch.setattr(db, "migrations", lambda: [*real, broken])
    with pytest.raises(StoreError):
        Store(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == current
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "half" not in names and "articles" in names  # the good steps stayed, whole
    monkeypatch.setattr(db, "migrations", lambda: real)
    store = Store(path)  # the fixed program opens it
    assert store.schema_version == current
    store.close()


def _open(path: str, barrier: multiprocessing.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    barrier.wait()
    store = Store(Path(path))
    store.chats.upsert(1, "private", "x")
    store.close()


def test_two_processes_opening_a_new_database_at_once_both_work(tmp_path: Path) -> None:
    path = tmp_path / "brief.db"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    workers = [ctx.Process(target=_open, args=(str(path), barrier)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    store = Store(path)
    assert store.schema_version == schema_version()
    assert store.chats.active_count() == 1
    store.close()
