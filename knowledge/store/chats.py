"""Chats the bot talks in: who is still reachable, and groups that moved to a new id."""

from __future__ import annotations

from knowledge.store.db import Database, to_db_time, utcnow


class Chats:
    """The chats table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert(self, chat_id: int, kind: str, title: str) -> None:
        """Remember a chat; seeing it again re-activates it."""
        now = to_db_time(utcnow())
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO chats (chat_id, kind, title, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(chat_id) DO UPDATE SET kind = excluded.kind, "
                "title = excluded.title, last_seen = excluded.last_seen, active = 1, "
                "inactive_reason = NULL",
                (chat_id, kind, title, now, now),
            )

    def deactivate(self, chat_id: int, reason: str) -> None:
        """Stop sending to a chat."""
        now = to_db_time(utcnow())
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO chats (chat_id, kind, title, first_seen, last_seen, active, "
                "inactive_reason) VALUES (?, 'unknown', '', ?, ?, 0, ?) "
                "ON CONFLICT(chat_id) DO UPDATE SET active = 0, "
                "inactive_reason = excluded.inactive_reason, last_seen = excluded.last_seen",
                (chat_id, now, now, reason),
            )

    def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a chat to its new id (a group that became a supergroup)."""
        with self.db.write() as conn:
            row = conn.execute("SELECT * FROM chats WHERE chat_id = ?", (old_chat_id,)).fetchone()
            conn.execute("DELETE FROM chats WHERE chat_id = ?", (old_chat_id,))
            now = to_db_time(utcnow())
            conn.execute(
                "INSERT INTO chats (chat_id, kind, title, first_seen, last_seen) "
                "VALUES (?, 'supergroup', ?, ?, ?) ON CONFLICT(chat_id) DO UPDATE SET "
                "active = 1, inactive_reason = NULL",
                (new_chat_id, row["title"] if row else "", row["first_seen"] if row else now, now),
            )

    def is_active(self, chat_id: int) -> bool | None:
        """True or False for a known chat, None for an unknown one."""
        with self.db.read() as conn:
            row = conn.execute("SELECT active FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
            return None if row is None else bool(row[0])

    def active_count(self) -> int:
        """Chats the bot can still send to."""
        with self.db.read() as conn:
            return int(conn.execute("SELECT count(*) FROM chats WHERE active = 1").fetchone()[0])
