"""Sources: the feeds and pages admins added for polling, their poll state and the feed items
each one has already handed over."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime

from knowledge.models import Source
from knowledge.store.db import Database, from_db_time, to_db_time, utcnow

SOURCE_COLUMNS = (
    "s.id, s.url, s.kind, s.title, s.added_at, s.added_by, s.last_polled, s.last_error, "
    "s.etag, s.last_modified, s.interval_minutes, s.ttl_minutes, s.next_poll_at, "
    "s.last_success, s.last_new_item, s.error_streak, s.paused, s.paused_reason, s.paused_at, "
    "s.admins_notified, s.provenance, "
    "(SELECT count(*) FROM articles a WHERE a.source_id = s.id) AS articles"
)


class Sources:
    """The sources table and source_items (feed item keys seen per source)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- adding and removing --------------------------------------------------------------
    def add(self, url: str, kind: str, title: str, added_by: int | None) -> bool:
        """Add a source; False when that URL is already an active source. A source removed
        earlier comes back with a clean poll state (the items it handed over stay known)."""
        now = to_db_time(utcnow())
        with self.db.write() as conn:
            cur = conn.execute(
                "INSERT INTO sources (url, kind, title, added_at, added_by) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET kind = excluded.kind, "
                "title = excluded.title, added_at = excluded.added_at, "
                "added_by = excluded.added_by, active = 1, paused = 0, paused_reason = NULL, "
                "paused_at = NULL, admins_notified = 0, error_streak = 0, last_error = NULL, "
                "next_poll_at = NULL, etag = NULL, last_modified = NULL WHERE active = 0",
                (url, kind, title, now, added_by),
            )
            return bool(cur.rowcount)

    def remove(self, source_id: int) -> bool:
        """Stop polling a source; its articles stay. False when there is no such source."""
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE sources SET active = 0 WHERE id = ? AND active = 1", (source_id,)
            )
            return bool(cur.rowcount)

    def set_provenance(self, source_id: int, kind: str | None) -> bool:
        """Set an active source's kind of outlet (None: from the shipped table again); False
        when there is no such source."""
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE sources SET provenance = ? WHERE id = ? AND active = 1", (kind, source_id)
            )
            return bool(cur.rowcount)

    # --- reading --------------------------------------------------------------------------
    def outlets(self) -> dict[int, tuple[str | None, str, str]]:
        """Every source, removed ones too (their articles stay): id -> (the kind an admin set
        or None, its URL, its title)."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT id, provenance, url, title FROM sources")
            return {int(r[0]): (r[1], r[2], r[3]) for r in rows}

    def active(self) -> list[Source]:
        """Active sources in the order they were added."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {SOURCE_COLUMNS} FROM sources s WHERE s.active = 1 ORDER BY s.id"
            )
            return [_source(r) for r in rows]

    def get(self, source_id: int) -> Source | None:
        """An active source by id."""
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT {SOURCE_COLUMNS} FROM sources s WHERE s.id = ? AND s.active = 1",
                (source_id,),
            ).fetchone()
            return _source(row) if row else None

    def by_url(self, url: str) -> Source | None:
        """An active source by its URL."""
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT {SOURCE_COLUMNS} FROM sources s WHERE s.url = ? AND s.active = 1",
                (url,),
            ).fetchone()
            return _source(row) if row else None

    def due(self, now: datetime) -> list[Source]:
        """Active, unpaused sources whose next poll is due at `now`, the most overdue first."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {SOURCE_COLUMNS} FROM sources s WHERE s.active = 1 AND s.paused = 0 "
                "AND (s.next_poll_at IS NULL OR s.next_poll_at <= ?) "
                "ORDER BY coalesce(s.next_poll_at, ''), s.id",
                (to_db_time(now),),
            )
            return [_source(r) for r in rows]

    def next_due(self) -> datetime | None:
        """When the next unpaused source is due (None when none is)."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT min(coalesce(next_poll_at, '')) FROM sources "
                "WHERE active = 1 AND paused = 0"
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return from_db_time(row[0]) or utcnow()

    def count(self) -> int:
        """Active sources."""
        with self.db.read() as conn:
            return int(conn.execute("SELECT count(*) FROM sources WHERE active = 1").fetchone()[0])

    # --- feed items seen ------------------------------------------------------------------
    def seen(self, source_id: int, keys: Iterable[str]) -> set[str]:
        """The subset of these item keys (guid, else link) this source handed over before."""
        wanted = list(dict.fromkeys(keys))
        found: set[str] = set()
        with self.db.read() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT guid FROM source_items WHERE source_id = ? AND guid IN ({marks})",
                    [source_id, *chunk],
                )
                found.update(r[0] for r in rows)
        return found

    def mark_seen(
        self, source_id: int, items: Sequence[tuple[str, int | None]], when: datetime
    ) -> None:
        """Remember (item key, article id or None) pairs as handed over by this source (seen
        again: the time is renewed)."""
        stamp = to_db_time(when)
        with self.db.write() as conn:
            conn.executemany(
                "INSERT INTO source_items (source_id, guid, article_id, seen_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(source_id, guid) DO UPDATE SET "
                "article_id = coalesce(excluded.article_id, source_items.article_id), "
                "seen_at = excluded.seen_at",
                [(source_id, key, article_id, stamp) for key, article_id in items],
            )

    def forget_seen_before(self, source_id: int, before: datetime) -> int:
        """Drop item keys seen before `before` (a feed whose guids change keeps adding keys;
        an item that comes back is still caught by the article checks)."""
        with self.db.write() as conn:
            cur = conn.execute(
                "DELETE FROM source_items WHERE source_id = ? AND seen_at < ?",
                (source_id, to_db_time(before)),
            )
            return cur.rowcount

    # --- poll results ---------------------------------------------------------------------
    def record_success(
        self,
        source_id: int,
        *,
        when: datetime,
        next_poll_at: datetime,
        etag: str | None,
        last_modified: str | None,
        ttl_minutes: int | None,
        new_items: bool,
        title: str | None = None,
    ) -> None:
        """A poll worked: save the conditional-GET state, clear the error streak and any
        pause, and schedule the next poll."""
        stamp = to_db_time(when)
        with self.db.write() as conn:
            conn.execute(
                "UPDATE sources SET last_polled = ?, last_success = ?, "
                "last_new_item = CASE WHEN ? THEN ? ELSE last_new_item END, "
                "etag = ?, last_modified = ?, ttl_minutes = ?, next_poll_at = ?, "
                "error_streak = 0, last_error = NULL, paused = 0, paused_reason = NULL, "
                "paused_at = NULL, admins_notified = 0, "
                "title = CASE WHEN title = '' AND ? IS NOT NULL THEN ? ELSE title END "
                "WHERE id = ?",
                (
                    stamp,
                    stamp,
                    int(new_items),
                    stamp,
                    etag,
                    last_modified,
                    ttl_minutes,
                    to_db_time(next_poll_at),
                    title,
                    title,
                    source_id,
                ),
            )

    def record_not_modified(
        self, source_id: int, *, when: datetime, next_poll_at: datetime
    ) -> None:
        """The server answered 304: nothing new, the saved validators stay."""
        stamp = to_db_time(when)
        with self.db.write() as conn:
            conn.execute(
                "UPDATE sources SET last_polled = ?, last_success = ?, next_poll_at = ?, "
                "error_streak = 0, last_error = NULL, paused = 0, paused_reason = NULL, "
                "paused_at = NULL, admins_notified = 0 WHERE id = ?",
                (stamp, stamp, to_db_time(next_poll_at), source_id),
            )

    def record_failure(
        self,
        source_id: int,
        *,
        when: datetime,
        error: str,
        streak: int,
        next_poll_at: datetime,
        pause_reason: str | None,
    ) -> None:
        """A poll failed: the error, the streak, the next try, and a pause when it is time."""
        stamp = to_db_time(when)
        with self.db.write() as conn:
            conn.execute(
                "UPDATE sources SET last_polled = ?, last_error = ?, error_streak = ?, "
                "next_poll_at = ? WHERE id = ?",
                (stamp, error, streak, to_db_time(next_poll_at), source_id),
            )
            if pause_reason is not None:
                conn.execute(
                    "UPDATE sources SET paused = 1, paused_reason = ?, paused_at = ?, "
                    "admins_notified = 0 WHERE id = ? AND paused = 0",
                    (pause_reason, stamp, source_id),
                )

    def move(self, source_id: int, new_url: str) -> bool:
        """A permanent redirect: the source's URL becomes `new_url`. False (nothing changes)
        when another source already has that URL."""
        try:
            with self.db.write() as conn:
                cur = conn.execute(
                    "UPDATE sources SET url = ? WHERE id = ? AND NOT EXISTS "
                    "(SELECT 1 FROM sources WHERE url = ? AND id != ?)",
                    (new_url, source_id, new_url, source_id),
                )
                return bool(cur.rowcount)
        except sqlite3.IntegrityError:
            return False

    # --- telling admins -------------------------------------------------------------------
    def pause_notices(self) -> list[Source]:
        """Paused active sources the admins have not been told about yet."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {SOURCE_COLUMNS} FROM sources s WHERE s.active = 1 AND s.paused = 1 "
                "AND s.admins_notified = 0 ORDER BY s.id"
            )
            return [_source(r) for r in rows]

    def mark_notified(self, source_ids: Iterable[int]) -> None:
        """The admins were told these sources are paused."""
        with self.db.write() as conn:
            conn.executemany(
                "UPDATE sources SET admins_notified = 1 WHERE id = ?",
                [(i,) for i in source_ids],
            )


def _source(r: sqlite3.Row) -> Source:
    return Source(
        id=r["id"],
        url=r["url"],
        kind=r["kind"],
        title=r["title"],
        added_at=from_db_time(r["added_at"]) or utcnow(),
        added_by=r["added_by"],
        last_polled=from_db_time(r["last_polled"]),
        last_error=r["last_error"],
        etag=r["etag"],
        last_modified=r["last_modified"],
        interval_minutes=r["interval_minutes"],
        ttl_minutes=r["ttl_minutes"],
        next_poll_at=from_db_time(r["next_poll_at"]),
        last_success=from_db_time(r["last_success"]),
        last_new_item=from_db_time(r["last_new_item"]),
        error_streak=int(r["error_streak"]),
        paused=bool(r["paused"]),
        paused_reason=r["paused_reason"],
        paused_at=from_db_time(r["paused_at"]),
        admins_notified=bool(r["admins_notified"]),
        articles=int(r["articles"]),
        outlet_kind=r["provenance"] or "unknown",
        outlet_kind_set=r["provenance"] is not None,
    )
