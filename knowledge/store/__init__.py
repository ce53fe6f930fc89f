"""The store. knowledge/store/protocols.py says what callers need (a protocol per kind of row);
this package's modules are the SQLite implementation, one module per kind of row, each holding
its SQL; knowledge/store/backends.py opens the backend the settings name (SQLite by default,
PostgreSQL from knowledge/store/postgres/ when BRIEF_DATABASE_URL is a postgresql:// URL).

SQLiteStore(path)
 ├── .db         Database: migrations (migrations/NNN_name.sql), the writer, per-thread readers
 ├── .articles   Articles: articles and their full-text index
 ├── .chats      Chats: chats the bot talks in
 ├── .sources    Sources: feeds and pages to poll
 ├── .subscriptions  Subscriptions: daily digest subscriptions and followed topics
 ├── .claims         DigestClaims: exactly-once digest claims, delivery rounds
 ├── .filters        ChatFilters: each chat's mute words and hidden kinds of outlet
 └── .story_topics   StoryTopics: each story's region topics
"""

from __future__ import annotations

from pathlib import Path

from knowledge.store.articles import Articles, NewArticle, VectorRows
from knowledge.store.chat_filters import ChatFilters, ChatFilterStore
from knowledge.store.chats import Chats
from knowledge.store.db import Database, from_db_time, schema_version, to_db_time, utcnow
from knowledge.store.sources import Sources
from knowledge.store.story_topics import StoryTopics
from knowledge.store.subscriptions import DigestClaims, Subscriptions


class SQLiteStore:
    """Every kind of row in one SQLite database file (a StoreBackend)."""

    def __init__(self, path: Path) -> None:
        self.db = Database(path)
        self.articles = Articles(self.db)
        self.chats = Chats(self.db)
        self.sources = Sources(self.db)
        self.subscriptions = Subscriptions(self.db)
        self.claims = DigestClaims(self.db, self.subscriptions)
        self.story_topics = StoryTopics(self.db)
        self.filters: ChatFilterStore = ChatFilters(self.db)

    @property
    def path(self) -> Path:
        """The database file."""
        return self.db.path

    @property
    def read_only(self) -> bool:
        """True when the file is marked read-only: it answers, and refuses writes."""
        return self.db.read_only

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        return self.db.schema_version

    def ping(self) -> int:
        """Reach the database afresh; its schema version, or StoreError."""
        return self.db.ping()

    def describe(self) -> str:
        """ "SQLite <file>", for `brief stats` and /stats."""
        return f"SQLite {self.path}"

    def size_bytes(self) -> int:
        """The file and its write-ahead log, in bytes."""
        files = (self.path, Path(f"{self.path}-wal"))
        return sum(p.stat().st_size for p in files if p.exists())

    def close(self) -> None:
        """Close every connection."""
        self.db.close()


Store = SQLiteStore  # the name older callers and tests use for the SQLite store

__all__ = [
    "Articles",
    "ChatFilterStore",
    "ChatFilters",
    "Chats",
    "Database",
    "DigestClaims",
    "NewArticle",
    "SQLiteStore",
    "Sources",
    "Store",
    "StoryTopics",
    "Subscriptions",
    "VectorRows",
    "from_db_time",
    "schema_version",
    "to_db_time",
    "utcnow",
]
