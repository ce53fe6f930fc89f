"""SQLite: the schema, its migrations and every SQL statement the core runs."""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from knowledge.errors import StoreCorruptError, StoreError, StoreReadOnlyError
from knowledge.models import Article, Coverage, Source

# Each entry moves the schema one version up; PRAGMA user_version records where a file is.
MIGRATIONS: tuple[str, ...] = (
    # 1: articles, sources, chats and the full-text index
    """
    CREATE TABLE sources (
        id          INTEGER PRIMARY KEY,
        url         TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL CHECK (kind IN ('feed', 'page')),
        title       TEXT NOT NULL DEFAULT '',
        added_at    TEXT NOT NULL,
        added_by    INTEGER,
        last_polled TEXT,
        last_error  TEXT,
        active      INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE articles (
        id           INTEGER PRIMARY KEY,
        url          TEXT UNIQUE,
        title        TEXT NOT NULL,
        source       TEXT NOT NULL,
        source_id    INTEGER REFERENCES sources(id) ON DELETE SET NULL,
        published    TEXT,
        fetched      TEXT NOT NULL,
        text         TEXT NOT NULL,
        summary      TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        embedding    BLOB NOT NULL,
        story_id     INTEGER REFERENCES articles(id)
    );
    -- Without a link, an article is the same one when its outlet and its text are the same.
    CREATE UNIQUE INDEX articles_unlinked ON articles(source, content_hash) WHERE url IS NULL;
    CREATE INDEX articles_hash ON articles(content_hash);
    CREATE INDEX articles_story ON articles(story_id);
    CREATE INDEX articles_newest ON articles(coalesce(published, fetched));
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, summary, text,
        content = 'articles', content_rowid = 'id',
        tokenize = 'porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, summary, text)
        VALUES (new.id, new.title, new.summary, new.text);
    END;
    CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)
        VALUES ('delete', old.id, old.title, old.summary, old.text);
    END;
    CREATE TRIGGER articles_au AFTER UPDATE OF title, summary, text ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)
        VALUES ('delete', old.id, old.title, old.summary, old.text);
        INSERT INTO articles_fts(rowid, title, summary, text)
        VALUES (new.id, new.title, new.summary, new.text);
    END;
    CREATE TABLE chats (
        chat_id         INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL,
        title           TEXT NOT NULL DEFAULT '',
        first_seen      TEXT NOT NULL,
        last_seen       TEXT NOT NULL,
        active          INTEGER NOT NULL DEFAULT 1,
        inactive_reason TEXT
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

ARTICLE_COLUMNS = "id, url, title, source, published, fetched, summary, story_id"


def utcnow() -> datetime:
    """Now, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def to_db_time(value: datetime | None) -> str | None:
    """Datetimes are stored as sortable UTC ISO strings."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_db_time(value: str | None) -> datetime | None:
    """The inverse of to_db_time."""
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article ready to store: cleaned, summarised and embedded."""

    url: str | None
    title: str
    source: str
    published: datetime | None
    fetched: datetime
    text: str
    summary: str
    content_hash: str
    embedding: bytes
    story_id: int | None = None
    source_id: int | None = None


@dataclass(frozen=True, slots=True)
class VectorRows:
    """Stored embeddings, for the in-memory index."""

    ids: list[int]
    story_ids: list[int]  # the story's first article; an article's own id when it is first
    times: list[str]  # coalesce(published, fetched)
    blobs: list[bytes]


def _is_marked_read_only(path: Path) -> bool:
    # Read the permission bits rather than os.access: as root, access() says yes to everything.
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    return not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


class Store:
    """One SQLite database file. Thread-safe: calls are serialised on one connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.read_only = _is_marked_read_only(self.path)
        self._lock = threading.RLock()
        self._conn = self._connect()

    # --- opening and migrating ------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            if self.read_only:
                # immutable: no locks, no -wal/-shm files, nothing written beside the file
                uri = f"file:{self.path.resolve()}?mode=ro&immutable=1"
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        except (sqlite3.OperationalError, OSError) as exc:
            raise StoreError(f"Cannot open the database {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.read_only:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._translate(exc) from exc
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The database {self.path} has schema version {version}, newer than this "
                f"program's {SCHEMA_VERSION}. Upgrade indopac-brief."
            )
        if version == SCHEMA_VERSION:
            return
        if self.read_only:
            raise StoreReadOnlyError(
                f"The database {self.path} is read-only and needs migrating to schema "
                f"version {SCHEMA_VERSION}; make it writable (chmod u+w) and run again."
            )
        for number in range(version, SCHEMA_VERSION):
            with conn:
                conn.executescript(f"BEGIN; {MIGRATIONS[number]}; COMMIT;")
                conn.execute(f"PRAGMA user_version = {number + 1}")

    def _translate(self, exc: sqlite3.DatabaseError) -> StoreError:
        message = str(exc).lower()
        if "readonly" in message or "read-only" in message:
            return StoreReadOnlyError(
                f"The database {self.path} is read-only: nothing was written. "
                "Make it writable (chmod u+w) or set BRIEF_DB to another file."
            )
        if isinstance(exc, sqlite3.OperationalError) and "malformed" not in message:
            return StoreError(f"Database error on {self.path}: {exc}")
        return StoreCorruptError(
            f"{self.path} is not a usable SQLite database ({exc}). It was left as it is: "
            "move it aside and run `brief seed` to start a new one, or restore a backup."
        )

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.DatabaseError as exc:
                raise self._translate(exc) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise StoreReadOnlyError(
                f"The database {self.path} is read-only: nothing was written. "
                "Make it writable (chmod u+w) or set BRIEF_DB to another file."
            )
        with self._cursor() as conn, conn:
            yield conn

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        with self._cursor() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def data_version(self) -> int:
        """Changes whenever another connection commits (PRAGMA data_version)."""
        with self._cursor() as conn:
            return int(conn.execute("PRAGMA data_version").fetchone()[0])

    # --- articles -------------------------------------------------------------------------
    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """The subset of these canonical URLs already stored."""
        wanted = list(set(urls))
        found: set[str] = set()
        with self._cursor() as conn:
            for chunk in _chunks(wanted, 500):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT url FROM articles WHERE url IN ({marks})", chunk)
                found.update(r[0] for r in rows)
        return found

    def known_unlinked(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The subset of these (source, content hash) pairs stored without a URL."""
        found: set[tuple[str, str]] = set()
        with self._cursor() as conn:
            for source, digest in set(pairs):
                row = conn.execute(
                    "SELECT 1 FROM articles WHERE url IS NULL AND source = ? AND content_hash = ?",
                    (source, digest),
                ).fetchone()
                if row:
                    found.add((source, digest))
        return found

    def first_with_hash(self, digests: Iterable[str]) -> dict[str, int]:
        """For each content hash already stored, the story it belongs to."""
        out: dict[str, int] = {}
        with self._cursor() as conn:
            for chunk in _chunks(list(set(digests)), 500):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT content_hash, min(coalesce(story_id, id)) FROM articles "
                    f"WHERE content_hash IN ({marks}) GROUP BY content_hash",
                    chunk,
                )
                out.update((r[0], int(r[1])) for r in rows)
        return out

    def insert_articles(self, articles: Sequence[NewArticle]) -> list[int | None]:
        """Insert in one transaction; None for an article that was already there."""
        ids: list[int | None] = []
        with self._write() as conn:
            for a in articles:
                cur = conn.execute(
                    "INSERT INTO articles (url, title, source, source_id, published, fetched, "
                    "text, summary, content_hash, embedding, story_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        a.url,
                        a.title,
                        a.source,
                        a.source_id,
                        to_db_time(a.published),
                        to_db_time(a.fetched),
                        a.text,
                        a.summary,
                        a.content_hash,
                        a.embedding,
                        a.story_id,
                    ),
                )
                ids.append(cur.lastrowid if cur.rowcount else None)
        return ids

    def vectors_after(self, after_id: int) -> VectorRows:
        """Embeddings of the articles whose id is above `after_id`, in id order."""
        rows = VectorRows([], [], [], [])
        with self._cursor() as conn:
            cursor = conn.execute(
                "SELECT id, coalesce(story_id, id), coalesce(published, fetched), embedding "
                "FROM articles WHERE id > ? ORDER BY id",
                (after_id,),
            )
            for r in cursor:
                rows.ids.append(r[0])
                rows.story_ids.append(r[1])
                rows.times.append(r[2])
                rows.blobs.append(r[3])
        return rows

    def article_count(self) -> int:
        """Articles stored."""
        with self._cursor() as conn:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def keyword_search(self, match: str, limit: int) -> list[tuple[int, float]]:
        """(article id, bm25) for an FTS5 query, best first; bm25 is negative, lower is
        better (title weighs 10, summary 4, text 1)."""
        with self._cursor() as conn:
            rows = conn.execute(
                "SELECT rowid, bm25(articles_fts, 10.0, 4.0, 1.0) AS score FROM articles_fts "
                "WHERE articles_fts MATCH ? ORDER BY score LIMIT ?",
                (match, limit),
            )
            return [(r[0], r[1]) for r in rows]

    def articles(self, ids: Sequence[int]) -> dict[int, Article]:
        """Articles by id."""
        out: dict[int, Article] = {}
        with self._cursor() as conn:
            for chunk in _chunks(list(ids), 500):
                marks = ",".join("?" * len(chunk))
                for r in conn.execute(
                    f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks})", chunk
                ):
                    out[r["id"]] = _article(r)
        return out

    def coverage(self, story_ids: Sequence[int]) -> dict[int, list[Coverage]]:
        """For each story, the other copies (outlet and link), oldest first."""
        out: dict[int, list[Coverage]] = {sid: [] for sid in story_ids}
        if not story_ids:
            return out
        with self._cursor() as conn:
            marks = ",".join("?" * len(story_ids))
            for r in conn.execute(
                f"SELECT story_id, source, url FROM articles WHERE story_id IN ({marks}) "
                "ORDER BY id",
                list(story_ids),
            ):
                out[r[0]].append(Coverage(source=r[1], url=r[2]))
        return out

    def newest_stories(self, limit: int, offset: int = 0) -> list[Article]:
        """Stories' first articles, newest first."""
        with self._cursor() as conn:
            rows = conn.execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE story_id IS NULL "
                "ORDER BY coalesce(published, fetched) DESC, id DESC LIMIT ? OFFSET ?",
                (limit, offset),
            )
            return [_article(r) for r in rows]

    def story_count(self) -> int:
        """Stories (articles that are not near-duplicates of an earlier one)."""
        with self._cursor() as conn:
            return int(
                conn.execute("SELECT count(*) FROM articles WHERE story_id IS NULL").fetchone()[0]
            )

    def last_fetched(self) -> datetime | None:
        """When the newest article was stored."""
        with self._cursor() as conn:
            return from_db_time(conn.execute("SELECT max(fetched) FROM articles").fetchone()[0])

    # --- chats ----------------------------------------------------------------------------
    def upsert_chat(self, chat_id: int, kind: str, title: str) -> None:
        """Remember a chat; seeing it again re-activates it."""
        now = to_db_time(utcnow())
        with self._write() as conn:
            conn.execute(
                "INSERT INTO chats (chat_id, kind, title, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(chat_id) DO UPDATE SET kind = excluded.kind, "
                "title = excluded.title, last_seen = excluded.last_seen, active = 1, "
                "inactive_reason = NULL",
                (chat_id, kind, title, now, now),
            )

    def deactivate_chat(self, chat_id: int, reason: str) -> None:
        """Stop sending to a chat."""
        now = to_db_time(utcnow())
        with self._write() as conn:
            conn.execute(
                "INSERT INTO chats (chat_id, kind, title, first_seen, last_seen, active, "
                "inactive_reason) VALUES (?, 'unknown', '', ?, ?, 0, ?) "
                "ON CONFLICT(chat_id) DO UPDATE SET active = 0, "
                "inactive_reason = excluded.inactive_reason, last_seen = excluded.last_seen",
                (chat_id, now, now, reason),
            )

    def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a chat to its new id (a group that became a supergroup)."""
        with self._write() as conn:
            row = conn.execute("SELECT * FROM chats WHERE chat_id = ?", (old_chat_id,)).fetchone()
            conn.execute("DELETE FROM chats WHERE chat_id = ?", (old_chat_id,))
            now = to_db_time(utcnow())
            conn.execute(
                "INSERT INTO chats (chat_id, kind, title, first_seen, last_seen) "
                "VALUES (?, 'supergroup', ?, ?, ?) ON CONFLICT(chat_id) DO UPDATE SET "
                "active = 1, inactive_reason = NULL",
                (new_chat_id, row["title"] if row else "", row["first_seen"] if row else now, now),
            )

    def chat_is_active(self, chat_id: int) -> bool | None:
        """True or False for a known chat, None for an unknown one."""
        with self._cursor() as conn:
            row = conn.execute("SELECT active FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
            return None if row is None else bool(row[0])

    def active_chat_count(self) -> int:
        """Chats the bot can still send to."""
        with self._cursor() as conn:
            return int(conn.execute("SELECT count(*) FROM chats WHERE active = 1").fetchone()[0])

    # --- sources --------------------------------------------------------------------------
    def add_source(self, url: str, kind: str, title: str, added_by: int | None) -> bool:
        """Add a source; False when that URL is already there."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO sources (url, kind, title, added_at, added_by) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(url) DO NOTHING",
                (url, kind, title, to_db_time(utcnow()), added_by),
            )
            return bool(cur.rowcount)

    def sources(self) -> list[Source]:
        """Active sources in the order they were added."""
        with self._cursor() as conn:
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

    def source_count(self) -> int:
        """Active sources."""
        with self._cursor() as conn:
            return int(conn.execute("SELECT count(*) FROM sources WHERE active = 1").fetchone()[0])


def _article(r: sqlite3.Row) -> Article:
    return Article(
        id=r["id"],
        url=r["url"],
        title=r["title"],
        source=r["source"],
        published=from_db_time(r["published"]),
        fetched=from_db_time(r["fetched"]) or utcnow(),
        summary=r["summary"],
        story_id=r["story_id"],
    )


def _chunks(items: list, size: int) -> Iterator[list]:  # type: ignore[type-arg]
    for start in range(0, len(items), size):
        yield items[start : start + size]
