"""What callers need from the store, as small protocols: one per kind of row, and the backend
that holds them all. Two implementations: SQLite (knowledge/store/__init__.py, the default) and
PostgreSQL (knowledge/store/postgres/, chosen by BRIEF_DATABASE_URL); knowledge/store/backends.py
opens the one the settings name. Callers (search, ingestion, topics, digests, sources, the
service) depend on these protocols, never on a backend's classes.

StoreBackend
 ├── .articles        ArticleStore: articles, their vectors and keyword search
 ├── .chats           ChatStore: chats the bot talks in
 ├── .sources         SourceStore: feeds and pages to poll, the items each handed over
 ├── .subscriptions   SubscriptionStore: daily digest subscriptions and followed topics
 ├── .claims          ClaimStore: exactly-once digest claims, delivery rounds
 ├── .filters         ChatFilterStore: each chat's mutes and hidden kinds of outlet
                      (defined beside its SQLite class, knowledge/store/chat_filters.py)
 └── .story_topics    StoryTopicStore: each story's region topics, the reads digests need

Every method is synchronous and thread-safe; times are aware UTC datetimes (to the second).
The row types (NewArticle, VectorRows, TopicState, RecentStories) are plain frozen dataclasses
that every backend returns and takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Protocol

from knowledge.models import Article, Coverage, DigestClaim, DigestRun, Source, Subscription
from knowledge.store.articles import NewArticle, VectorRows
from knowledge.store.chat_filters import ChatFilterStore
from knowledge.store.story_topics import RecentStories, TopicState


class ArticleStore(Protocol):
    """Articles: inserting them, finding what is stored, reading them back for answers."""

    def known_urls(self, urls: Iterable[str]) -> dict[str, int]:
        """For each of these canonical URLs already stored, its article id."""
        ...

    def known_unlinked(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """For each (source, content hash) pair stored without a URL, its article id."""
        ...

    def first_with_hash(self, digests: Iterable[str]) -> dict[str, int]:
        """For each content hash already stored, the story it belongs to."""
        ...

    def insert(self, articles: Sequence[NewArticle]) -> list[int | None]:
        """Insert in one transaction; None for an article that was already there."""
        ...

    def insert_each(self, articles: Sequence[NewArticle]) -> list[int | Exception | None]:
        """One transaction per article; a refused one is reported (the exception in its
        place) and the others are stored."""
        ...

    def max_id(self) -> int:
        """The highest article id stored (0 when there is none)."""
        ...

    def vectors_after(self, after_id: int, limit: int | None = None) -> VectorRows:
        """Embeddings of the articles whose id is above `after_id`, in id order (at most
        `limit`)."""
        ...

    def vectors_of(self, ids: Sequence[int]) -> VectorRows:
        """Embeddings of these articles (those still stored), in id order."""
        ...

    def index_state(self) -> tuple[int, int, int]:
        """(articles stored, highest id, last change cursor), for the search index."""
        ...

    def changes_after(self, seq: int) -> tuple[int, list[int]]:
        """(newest cursor, ids of the articles removed or changed after cursor `seq`)."""
        ...

    def update(
        self, article_id: int, *, title: str, text: str, summary: str, embedding: bytes
    ) -> bool:
        """Replace an article's words and embedding; False when it is not stored."""
        ...

    def delete(self, ids: Sequence[int]) -> int:
        """Remove these articles; returns how many were removed."""
        ...

    def count(self) -> int:
        """Articles stored."""
        ...

    def keyword_search(self, match: str, limit: int) -> list[tuple[int, float]]:
        """(article id, bm25) for a keyword query, best first; lower (negative) is better."""
        ...

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many articles contain each index term (a Porter stem); absent terms left out."""
        ...

    def texts(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(title, text) of these articles."""
        ...

    def by_ids(self, ids: Sequence[int]) -> dict[int, Article]:
        """Articles by id."""
        ...

    def coverage(self, story_ids: Sequence[int]) -> dict[int, list[Coverage]]:
        """For each story, the other copies (outlet and link), oldest first."""
        ...

    def newest_stories(self, limit: int, offset: int = 0) -> list[Article]:
        """Stories' first articles, newest first."""
        ...

    def story_count(self) -> int:
        """Stories (articles that are not near-duplicates of an earlier one)."""
        ...

    def last_fetched(self) -> datetime | None:
        """When the newest article was stored."""
        ...


class ChatStore(Protocol):
    """Chats the bot talks in."""

    def upsert(self, chat_id: int, kind: str, title: str) -> None:
        """Remember a chat; seeing it again re-activates it."""
        ...

    def deactivate(self, chat_id: int, reason: str) -> None:
        """Stop sending to a chat."""
        ...

    def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a chat to its new id (a group that became a supergroup)."""
        ...

    def is_active(self, chat_id: int) -> bool | None:
        """True or False for a known chat, None for an unknown one."""
        ...

    def active_count(self) -> int:
        """Chats the bot can still send to."""
        ...


class SourceStore(Protocol):
    """Feeds and pages to poll, their poll state, and the feed items each handed over."""

    def add(self, url: str, kind: str, title: str, added_by: int | None) -> bool:
        """Add a source; False when that URL is already an active source."""
        ...

    def remove(self, source_id: int) -> bool:
        """Stop polling a source; its articles stay. False when there is no such source."""
        ...

    def set_provenance(self, source_id: int, kind: str | None) -> bool:
        """Set an active source's kind of outlet (None: from the shipped table again); False
        when there is no such source."""
        ...

    def outlets(self) -> dict[int, tuple[str | None, str, str]]:
        """Every source, removed ones too: id -> (the kind an admin set or None, URL, title)."""
        ...

    def active(self) -> list[Source]:
        """Active sources in the order they were added."""
        ...

    def get(self, source_id: int) -> Source | None:
        """An active source by id."""
        ...

    def by_url(self, url: str) -> Source | None:
        """An active source by its URL."""
        ...

    def due(self, now: datetime) -> list[Source]:
        """Active, unpaused sources whose next poll is due at `now`, the most overdue first."""
        ...

    def next_due(self) -> datetime | None:
        """When the next unpaused source is due (None when none is)."""
        ...

    def count(self) -> int:
        """Active sources."""
        ...

    def seen(self, source_id: int, keys: Iterable[str]) -> set[str]:
        """The subset of these item keys (guid, else link) this source handed over before."""
        ...

    def mark_seen(
        self, source_id: int, items: Sequence[tuple[str, int | None]], when: datetime
    ) -> None:
        """Remember (item key, article id or None) pairs as handed over by this source."""
        ...

    def forget_seen_before(self, source_id: int, before: datetime) -> int:
        """Drop item keys seen before `before`; how many were dropped."""
        ...

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
        """A poll worked: conditional-GET state saved, errors and pause cleared, next poll set."""
        ...

    def record_not_modified(
        self, source_id: int, *, when: datetime, next_poll_at: datetime
    ) -> None:
        """The server answered 304: nothing new, the saved validators stay."""
        ...

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
        ...

    def move(self, source_id: int, new_url: str) -> bool:
        """A permanent redirect: the URL becomes `new_url`; False when another source has it."""
        ...

    def pause_notices(self) -> list[Source]:
        """Paused active sources the admins have not been told about yet."""
        ...

    def mark_notified(self, source_ids: Iterable[int]) -> None:
        """The admins were told these sources are paused."""
        ...


class SubscriptionStore(Protocol):
    """Daily digest subscriptions and the topics chats follow."""

    def upsert(self, chat_id: int, thread_id: int | None, at: time, timezone: str) -> Subscription:
        """Subscribe a chat, or change its time, timezone and thread."""
        ...

    def get(self, chat_id: int) -> Subscription | None:
        """The chat's active subscription."""
        ...

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
        ...

    def end(self, chat_id: int, reason: str) -> bool:
        """End a chat's subscription (its topics and claims stay); False when it had none."""
        ...

    def follow(self, chat_id: int, key: str, topic: str) -> bool:
        """Add a followed topic; False when the chat already follows it."""
        ...

    def unfollow(self, chat_id: int, key: str) -> bool:
        """Drop a followed topic; False when the chat did not follow it."""
        ...

    def active(self) -> list[Subscription]:
        """Every active subscription, by chat id."""
        ...

    def active_count(self) -> int:
        """Chats subscribed to the digest."""
        ...

    def move_chat(self, old_id: int, new_id: int) -> None:
        """Move a chat row, subscription, topics and claims to the new id, in one transaction."""
        ...


class ClaimStore(Protocol):
    """Exactly-once digest claims (a unique key per chat and local date) and delivery rounds."""

    def claim(self, chat_id: int, local_date: date) -> bool:
        """True for the one caller that may send the chat's digest for that date."""
        ...

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
        """Record how a claimed digest ended ("sent", "uncertain", "failed"); False when there
        was no open claim."""
        ...

    def get(self, chat_id: int, local_date: date) -> DigestClaim | None:
        """The claim for a chat's local date."""
        ...

    def unsent(self, claimed_before: datetime | None = None) -> list[DigestClaim]:
        """Claims never finished (a crash before or during the send), oldest first."""
        ...

    def last_date(self, chat_id: int) -> date | None:
        """The latest local date the chat's digest was claimed for (failed ones aside)."""
        ...

    def last_dates(self, chat_ids: Sequence[int] | None = None) -> dict[int, date]:
        """last_date for many chats at once (all of them when chat_ids is None)."""
        ...

    def record_run(self, run: DigestRun) -> None:
        """Remember a delivery round."""
        ...

    def last_run(self) -> DigestRun | None:
        """The latest delivery round."""
        ...


class StoryTopicStore(Protocol):
    """Each story's region topics, how far each topic is classified, the reads digests need."""

    def state(self) -> dict[str, TopicState]:
        """Every classified topic's state, by label."""
        ...

    def stories_between(self, after_id: int, upto_id: int) -> list[int]:
        """Ids of the stories (first articles) in (after_id, upto_id]."""
        ...

    def save(
        self, topic: str, state: TopicState, scores: Mapping[int, float], *, replace: bool
    ) -> None:
        """Record a topic's relevant stories and how far it is classified, in one transaction."""
        ...

    def keep_only(self, topics: Sequence[str]) -> None:
        """Forget topics no longer configured."""
        ...

    def topics_of(self, story_ids: Sequence[int]) -> dict[int, list[str]]:
        """Each story's topics, most relevant first."""
        ...

    def newest(self, limit: int, offset: int = 0) -> list[Article]:
        """Stories in at least one region topic, newest first (what /latest shows)."""
        ...

    def count(self) -> int:
        """Stories in at least one region topic."""
        ...

    def recent(self, not_before: datetime, until_id: int, *, in_a_topic: bool) -> RecentStories:
        """Stories up to `until_id` that happened after `not_before`, with copies and topics."""
        ...


class StoreBackend(Protocol):
    """One database holding every kind of row: what open_store() returns."""

    @property
    def articles(self) -> ArticleStore: ...

    @property
    def chats(self) -> ChatStore: ...

    @property
    def sources(self) -> SourceStore: ...

    @property
    def subscriptions(self) -> SubscriptionStore: ...

    @property
    def claims(self) -> ClaimStore: ...

    @property
    def story_topics(self) -> StoryTopicStore: ...

    @property
    def filters(self) -> ChatFilterStore: ...

    @property
    def read_only(self) -> bool:
        """True when the store answers and refuses writes."""
        ...

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        ...

    def describe(self) -> str:
        """Which backend and database, for `brief stats` and /stats, never a password:
        "SQLite data/brief.db", "PostgreSQL db.example.com:5432/brief"."""
        ...

    def size_bytes(self) -> int:
        """The database's size on disk (0 when unknown)."""
        ...

    def ping(self) -> int:
        """Reach the database afresh (a new connection, as a restart would): its schema
        version, or StoreError saying why not. /readyz's store check."""
        ...

    def close(self) -> None:
        """Close every connection."""
        ...


__all__ = [
    "ArticleStore",
    "ChatFilterStore",
    "ChatStore",
    "ClaimStore",
    "NewArticle",
    "RecentStories",
    "SourceStore",
    "StoreBackend",
    "StoryTopicStore",
    "SubscriptionStore",
    "TopicState",
    "VectorRows",
]
