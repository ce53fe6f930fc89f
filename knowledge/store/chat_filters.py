"""Each chat's filters: its mute words and the kinds of outlet it hides."""

from __future__ import annotations

from typing import Protocol

from knowledge.store.db import Database, to_db_time, utcnow


class ChatFilterStore(Protocol):
    """What the service needs of a chat's filters (one SQLite and, later, one PostgreSQL
    implementation)."""

    def mutes(self, chat_id: int) -> list[str]: ...
    def add_mute(self, chat_id: int, key: str, mute: str, limit: int) -> bool | None: ...
    def remove_mute(self, chat_id: int, key: str) -> str | None: ...
    def hidden_kinds(self, chat_id: int) -> list[str]: ...
    def set_kind_hidden(self, chat_id: int, kind: str, hidden: bool) -> bool: ...
    def move_chat(self, old_id: int, new_id: int) -> None: ...


class ChatFilters:
    """The chat_mutes and chat_hidden_kinds tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def mutes(self, chat_id: int) -> list[str]:
        """The chat's mutes in the order they were added."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT mute FROM chat_mutes WHERE chat_id = ? ORDER BY created_at, rowid",
                (chat_id,),
            )
            return [r[0] for r in rows]

    def add_mute(self, chat_id: int, key: str, mute: str, limit: int) -> bool | None:
        """Add a mute: True when added, False when the chat had it already, None when the chat
        has `limit` mutes already (checked in the same transaction)."""
        with self.db.write() as conn:
            if conn.execute(
                "SELECT 1 FROM chat_mutes WHERE chat_id = ? AND mute_key = ?", (chat_id, key)
            ).fetchone():
                return False
            count = conn.execute(
                "SELECT count(*) FROM chat_mutes WHERE chat_id = ?", (chat_id,)
            ).fetchone()[0]
            if count >= limit:
                return None
            conn.execute(
                "INSERT INTO chat_mutes (chat_id, mute_key, mute, created_at) VALUES (?, ?, ?, ?)",
                (chat_id, key, mute, to_db_time(utcnow())),
            )
            return True

    def remove_mute(self, chat_id: int, key: str) -> str | None:
        """Remove a mute by its key; the mute as stored, or None when the chat had none."""
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT mute FROM chat_mutes WHERE chat_id = ? AND mute_key = ?", (chat_id, key)
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "DELETE FROM chat_mutes WHERE chat_id = ? AND mute_key = ?", (chat_id, key)
            )
            return str(row[0])

    def hidden_kinds(self, chat_id: int) -> list[str]:
        """The kinds of outlet the chat hides."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT kind FROM chat_hidden_kinds WHERE chat_id = ? ORDER BY kind", (chat_id,)
            )
            return [r[0] for r in rows]

    def set_kind_hidden(self, chat_id: int, kind: str, hidden: bool) -> bool:
        """Hide or show a kind; False when nothing changed."""
        with self.db.write() as conn:
            if hidden:
                cur = conn.execute(
                    "INSERT INTO chat_hidden_kinds (chat_id, kind) VALUES (?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (chat_id, kind),
                )
            else:
                cur = conn.execute(
                    "DELETE FROM chat_hidden_kinds WHERE chat_id = ? AND kind = ?",
                    (chat_id, kind),
                )
            return bool(cur.rowcount)

    def move_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: its filters move to the new id (replacing any there)."""
        with self.db.write() as conn:
            for table in ("chat_mutes", "chat_hidden_kinds"):
                if conn.execute(f"SELECT 1 FROM {table} WHERE chat_id = ?", (old_id,)).fetchone():
                    conn.execute(f"DELETE FROM {table} WHERE chat_id = ?", (new_id,))
                    conn.execute(
                        f"UPDATE {table} SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
                    )
