"""Digest subscriptions, the exactly-once claims, and delivery rounds.

The claim is a row with a unique key (chat_id, local_date): whoever inserts it sends. That is
a plain `INSERT … ON CONFLICT` and a row count, so it holds across threads, processes and, with
the same SQL, several bot processes sharing a PostgreSQL database; no in-process lock decides
it. A claim moves from "claimed" to "sent", "uncertain" (the outcome is unknown: never sent
again) or "failed" (definitely not delivered: it may be claimed again).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime, time

from knowledge.models import DigestClaim, DigestRun, Subscription
from knowledge.store.db import Database, from_db_time, to_db_time, utcnow

CLAIM_STATUSES = ("claimed", "sent", "uncertain", "failed")
FINISHED = ("sent", "uncertain", "failed")
_SUBSCRIPTION_COLUMNS = (
    "chat_id, thread_id, at, timezone, silent, notify_empty, last_sent_at, sent_through_id, "
    "created_at"
)


class Subscriptions:
    """The subscriptions and subscription_topics tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert(self, chat_id: int, thread_id: int | None, at: time, timezone: str) -> Subscription:
        """Subscribe a chat, or change the time, timezone and thread of its subscription (a
        chat that had unsubscribed starts afresh: its first digest is the last day again)."""
        now = to_db_time(utcnow())
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO subscriptions (chat_id, thread_id, at, timezone, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(chat_id) DO UPDATE SET "
                "thread_id = excluded.thread_id, at = excluded.at, "
                "timezone = excluded.timezone, updated_at = excluded.updated_at, "
                "created_at = CASE WHEN subscriptions.active = 1 THEN subscriptions.created_at "
                "ELSE excluded.created_at END, "
                "last_sent_at = CASE WHEN subscriptions.active = 1 "
                "THEN subscriptions.last_sent_at END, "
                "sent_through_id = CASE WHEN subscriptions.active = 1 "
                "THEN subscriptions.sent_through_id END, "
                "active = 1, ended_at = NULL, end_reason = NULL",
                (chat_id, thread_id, at.strftime("%H:%M"), timezone, now, now),
            )
            found = _get(conn, chat_id)
        assert found is not None
        return found

    def get(self, chat_id: int) -> Subscription | None:
        """The chat's active subscription."""
        with self.db.read() as conn:
            return _get(conn, chat_id)

    def update(
        self,
        chat_id: int,
        *,
        at: time | None = None,
        timezone: str | None = None,
        silent: bool | None = None,
        notify_empty: bool | None = None,
    ) -> Subscription | None:
        """Change some fields of an active subscription; None when there is none."""
        changes: dict[str, object] = {}
        if at is not None:
            changes["at"] = at.strftime("%H:%M")
        if timezone is not None:
            changes["timezone"] = timezone
        if silent is not None:
            changes["silent"] = int(silent)
        if notify_empty is not None:
            changes["notify_empty"] = int(notify_empty)
        changes["updated_at"] = to_db_time(utcnow())
        assignments = ", ".join(f"{name} = ?" for name in changes)
        with self.db.write() as conn:
            conn.execute(
                f"UPDATE subscriptions SET {assignments} WHERE chat_id = ? AND active = 1",
                (*changes.values(), chat_id),
            )
            return _get(conn, chat_id)

    def end(self, chat_id: int, reason: str) -> bool:
        """End a chat's subscription (its topics and claims stay); False when it had none."""
        now = to_db_time(utcnow())
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE subscriptions SET active = 0, ended_at = ?, end_reason = ?, "
                "updated_at = ? WHERE chat_id = ? AND active = 1",
                (now, reason, now, chat_id),
            )
            return bool(cur.rowcount)

    def follow(self, chat_id: int, key: str, topic: str) -> bool:
        """Add a followed topic; False when the chat already follows it."""
        with self.db.write() as conn:
            cur = conn.execute(
                "INSERT INTO subscription_topics (chat_id, topic_key, topic, position) "
                "SELECT ?, ?, ?, coalesce(max(position), 0) + 1 FROM subscription_topics "
                "WHERE chat_id = ? ON CONFLICT (chat_id, topic_key) DO NOTHING",
                (chat_id, key, topic, chat_id),
            )
            return bool(cur.rowcount)

    def unfollow(self, chat_id: int, key: str) -> bool:
        """Drop a followed topic; False when the chat did not follow it."""
        with self.db.write() as conn:
            cur = conn.execute(
                "DELETE FROM subscription_topics WHERE chat_id = ? AND topic_key = ?",
                (chat_id, key),
            )
            return bool(cur.rowcount)

    def active(self) -> list[Subscription]:
        """Every active subscription, by chat id."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE active = 1 "
                "ORDER BY chat_id"
            ).fetchall()
            topics = _topics(conn, None)
        return [_subscription(r, topics.get(r["chat_id"], ())) for r in rows]

    def active_count(self) -> int:
        """Chats subscribed to the digest."""
        with self.db.read() as conn:
            row = conn.execute("SELECT count(*) FROM subscriptions WHERE active = 1").fetchone()
            return int(row[0])

    def move_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: move its chat row, subscription, topics and claims to
        the new id in one transaction (updates: everything that refers to them follows).
        Whatever the new id already had (a message seen there first) gives way."""
        with self.db.write() as conn:
            if not conn.execute("SELECT 1 FROM chats WHERE chat_id = ?", (old_id,)).fetchone():
                now = to_db_time(utcnow())
                conn.execute(
                    "INSERT INTO chats (chat_id, kind, title, first_seen, last_seen) "
                    "VALUES (?, 'group', '', ?, ?)",
                    (old_id, now, now),
                )
            conn.execute("DELETE FROM chats WHERE chat_id = ?", (new_id,))
            conn.execute(
                "UPDATE chats SET chat_id = ?, kind = 'supergroup', active = 1, "
                "inactive_reason = NULL, last_seen = ? WHERE chat_id = ?",
                (new_id, to_db_time(utcnow()), old_id),
            )
            if conn.execute("SELECT 1 FROM subscriptions WHERE chat_id = ?", (old_id,)).fetchone():
                conn.execute("DELETE FROM subscription_topics WHERE chat_id = ?", (new_id,))
                conn.execute("DELETE FROM subscriptions WHERE chat_id = ?", (new_id,))
                conn.execute(
                    "UPDATE subscriptions SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
                )
                # ON UPDATE CASCADE moved the topics already when foreign keys are enforced
                conn.execute(
                    "UPDATE subscription_topics SET chat_id = ? WHERE chat_id = ?",
                    (new_id, old_id),
                )
            conn.execute(
                "DELETE FROM digest_claims WHERE chat_id = ? AND local_date IN "
                "(SELECT local_date FROM digest_claims WHERE chat_id = ?)",
                (new_id, old_id),
            )
            conn.execute(
                "UPDATE digest_claims SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
            )

    def mark_sent(
        self, conn: sqlite3.Connection, chat_id: int, at: datetime, through_id: int | None
    ) -> None:
        """Move the chat's cutoff of what is new (inside the caller's transaction)."""
        conn.execute(
            "UPDATE subscriptions SET last_sent_at = ?, "
            "sent_through_id = coalesce(?, sent_through_id) WHERE chat_id = ?",
            (to_db_time(at), through_id, chat_id),
        )


class DigestClaims:
    """The digest_claims and digest_runs tables."""

    def __init__(self, db: Database, subscriptions: Subscriptions) -> None:
        self.db = db
        self.subscriptions = subscriptions

    def claim(self, chat_id: int, local_date: date) -> bool:
        """Claim the chat's digest for its local date: True for the one caller that may send
        it, False for everyone else (already claimed, sent or uncertain). A failed claim is
        claimed again by the first to ask."""
        now = to_db_time(utcnow())
        with self.db.write() as conn:
            cur = conn.execute(
                "INSERT INTO digest_claims (chat_id, local_date, status, claimed_at, through_id) "
                "VALUES (?, ?, 'claimed', ?, (SELECT max(id) FROM articles)) "
                "ON CONFLICT (chat_id, local_date) DO UPDATE SET "
                "status = 'claimed', claimed_at = excluded.claimed_at, finished_at = NULL, "
                "through_id = excluded.through_id, attempts = digest_claims.attempts + 1 "
                "WHERE digest_claims.status = 'failed'",
                (chat_id, local_date.isoformat(), now),
            )
            return cur.rowcount == 1

    def finish(
        self,
        chat_id: int,
        local_date: date,
        status: str,
        *,
        cutoff: datetime | None = None,
        through_id: int | None = None,
        stories: int | None = None,
    ) -> bool:
        """Record how a claimed digest ended. "sent" and "uncertain" move the chat's cutoff of
        what is new to the digest's (`cutoff`, `through_id`), else to the claim's time and
        newest article; False when there was no open claim."""
        if status not in FINISHED:
            raise ValueError(f"status must be one of {', '.join(FINISHED)}; got {status!r}")
        now = utcnow()
        with self.db.write() as conn:
            day = local_date.isoformat()
            row = conn.execute(
                "SELECT status, claimed_at, through_id FROM digest_claims WHERE chat_id = ? "
                "AND local_date = ?",
                (chat_id, day),
            ).fetchone()
            # An uncertain send that turns out delivered may still be marked sent.
            open_states = ("claimed", "uncertain") if status == "sent" else ("claimed",)
            if row is None or row["status"] not in open_states:
                return False
            conn.execute(
                "UPDATE digest_claims SET status = ?, finished_at = ?, "
                "stories = coalesce(?, stories) WHERE chat_id = ? AND local_date = ?",
                (status, to_db_time(now), stories, chat_id, day),
            )
            if status in ("sent", "uncertain"):
                if cutoff is None:
                    cutoff = from_db_time(row["claimed_at"]) or now
                if through_id is None:
                    through_id = row["through_id"]
                self.subscriptions.mark_sent(conn, chat_id, cutoff, through_id)
            return True

    def get(self, chat_id: int, local_date: date) -> DigestClaim | None:
        """The claim for a chat's local date."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM digest_claims WHERE chat_id = ? AND local_date = ?",
                (chat_id, local_date.isoformat()),
            ).fetchone()
            return _claim(row) if row else None

    def unsent(self, claimed_before: datetime | None = None) -> list[DigestClaim]:
        """Claims never finished (a crash before or during the send), oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM digest_claims WHERE status = 'claimed' AND claimed_at <= ? "
                "ORDER BY claimed_at, chat_id",
                (to_db_time(claimed_before or utcnow()),),
            ).fetchall()
            return [_claim(r) for r in rows]

    def last_date(self, chat_id: int) -> date | None:
        """The latest local date the chat's digest was claimed for (failed ones aside)."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT max(local_date) FROM digest_claims WHERE chat_id = ? "
                "AND status != 'failed'",
                (chat_id,),
            ).fetchone()
            return date.fromisoformat(row[0]) if row and row[0] else None

    def last_dates(self, chat_ids: Sequence[int] | None = None) -> dict[int, date]:
        """last_date for many chats at once (all of them when chat_ids is None)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT chat_id, max(local_date) FROM digest_claims WHERE status != 'failed' "
                "GROUP BY chat_id"
            ).fetchall()
        wanted = None if chat_ids is None else set(chat_ids)
        return {
            int(r[0]): date.fromisoformat(r[1])
            for r in rows
            if wanted is None or int(r[0]) in wanted
        }

    def record_run(self, run: DigestRun) -> None:
        """Remember a delivery round."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO digest_runs (started_at, finished_at, sent, failed, skipped, "
                "uncertain) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    to_db_time(run.started_at),
                    to_db_time(run.finished_at or utcnow()),
                    run.sent,
                    run.failed,
                    run.skipped,
                    run.uncertain,
                ),
            )

    def last_run(self) -> DigestRun | None:
        """The latest delivery round."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM digest_runs ORDER BY started_at DESC, id DESC LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return DigestRun(
            started_at=from_db_time(row["started_at"]) or utcnow(),
            sent=row["sent"],
            failed=row["failed"],
            skipped=row["skipped"],
            uncertain=row["uncertain"],
            finished_at=from_db_time(row["finished_at"]),
        )


def _get(conn: sqlite3.Connection, chat_id: int) -> Subscription | None:
    row = conn.execute(
        f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE chat_id = ? AND active = 1",
        (chat_id,),
    ).fetchone()
    if row is None:
        return None
    return _subscription(row, _topics(conn, chat_id).get(chat_id, ()))


def _topics(conn: sqlite3.Connection, chat_id: int | None) -> dict[int, tuple[str, ...]]:
    where, args = ("WHERE chat_id = ?", (chat_id,)) if chat_id is not None else ("", ())
    out: dict[int, list[str]] = {}
    for r in conn.execute(
        f"SELECT chat_id, topic FROM subscription_topics {where} ORDER BY chat_id, position",
        args,
    ):
        out.setdefault(int(r[0]), []).append(r[1])
    return {k: tuple(v) for k, v in out.items()}


def _subscription(r: sqlite3.Row, topics: tuple[str, ...]) -> Subscription:
    hour, minute = r["at"].split(":")
    return Subscription(
        chat_id=r["chat_id"],
        thread_id=r["thread_id"],
        at=time(int(hour), int(minute)),
        timezone=r["timezone"],
        topics=topics,
        silent=bool(r["silent"]),
        notify_empty=bool(r["notify_empty"]),
        last_sent_at=from_db_time(r["last_sent_at"]),
        created_at=from_db_time(r["created_at"]),
        sent_through_id=r["sent_through_id"],
    )


def _claim(r: sqlite3.Row) -> DigestClaim:
    return DigestClaim(
        chat_id=r["chat_id"],
        local_date=date.fromisoformat(r["local_date"]),
        status=r["status"],
        claimed_at=from_db_time(r["claimed_at"]) or utcnow(),
        finished_at=from_db_time(r["finished_at"]),
        attempts=r["attempts"],
    )
