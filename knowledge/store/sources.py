"""Sources: the feeds and pages admins added for polling."""

from __future__ import annotations

from knowledge.models import Source
from knowledge.store.db import Database, from_db_time, to_db_time, utcnow


class Sources:
    """The sources table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, url: str, kind: str, title: str, added_by: int | None) -> bool:
        """Add a source; False when that URL is already there."""
        with self.db.write() as conn:
            cur = conn.execute(
                "INSERT INTO sources (url, kind, title, added_at, added_by) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(url) DO NOTHING",
                (url, kind, title, to_db_time(utcnow()), added_by),
            )
            return bool(cur.rowcount)

    def active(self) -> list[Source]:
        """Active sources in the order they were added."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id, url, kind, title, added_at, last_polled, last_error FROM sources "
                "WHERE active = 1 ORDER BY id"
            )
            return [
                Source(
                    id=r["id"],
                    url=r["url"],
                    kind=r["kind"],
                    title=r["title"],
                    added_at=from_db_time(r["added_at"]) or utcnow(),
                    last_polled=from_db_time(r["last_polled"]),
                    last_error=r["last_error"],
                )
                for r in rows
            ]

    def count(self) -> int:
        """Active sources."""
        with self.db.read() as conn:
            return int(conn.execute("SELECT count(*) FROM sources WHERE active = 1").fetchone()[0])
