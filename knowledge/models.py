"""Frozen dataclasses the core returns to its callers (the bot, the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from knowledge.urls import host_of


@dataclass(frozen=True, slots=True)
class Coverage:
    """Another outlet's copy of the same story."""

    source: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Article:
    """One stored article. `url` is None for items imported without a link."""

    id: int
    url: str | None
    title: str
    source: str
    published: datetime | None
    fetched: datetime
    summary: str
    story_id: int | None = None  # the first copy of the story, when this one is a near-duplicate
    source_id: int | None = None  # the source it was polled from (None: imported)
    kind: str = "unknown"  # its outlet's kind (knowledge/provenance.py), filled by the service


@dataclass(frozen=True, slots=True)
class Hit:
    """One item of a brief: a story's first article, how well it matched, who else covered it."""

    article: Article
    score: float  # the fused score (BRIEF_FUSION), best first; comparable only within one answer
    similarity: float  # cosine similarity of the query to the article, -1..1
    also: tuple[Coverage, ...] = ()


@dataclass(frozen=True, slots=True)
class Brief:
    """The answer to a query: one page of hits."""

    query: str
    hits: tuple[Hit, ...]
    offset: int = 0
    total: int = 0  # relevant stories found, across all pages
    muted: int = 0  # stories the chat's mute words hid (across all pages; /latest: so far)
    kind_hidden: int = 0  # stories hidden because the chat hides their outlet's kind

    @property
    def has_more(self) -> bool:
        """True when another page follows this one."""
        return self.offset + len(self.hits) < self.total


@dataclass(frozen=True, slots=True)
class Rejection:
    """An import line that was not taken, and why."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did."""

    imported: int = 0
    duplicates: int = 0  # already stored (same canonical URL or same text): nothing changed
    linked: int = 0  # stored, and linked as a near-duplicate of an earlier story
    rejected: tuple[Rejection, ...] = ()

    @property
    def read(self) -> int:
        """Lines read in all."""
        return self.imported + self.duplicates + len(self.rejected)


@dataclass(frozen=True, slots=True)
class Source:
    """A feed or page that admins added for polling, with its poll state and health."""

    id: int
    url: str
    kind: str  # "feed" or "page"
    title: str
    added_at: datetime
    last_polled: datetime | None = None
    last_error: str | None = None
    added_by: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    interval_minutes: int | None = None  # None: BRIEF_POLL_INTERVAL_MINUTES
    ttl_minutes: int | None = None  # the feed's own <ttl>
    next_poll_at: datetime | None = None  # None: due now
    last_success: datetime | None = None
    last_new_item: datetime | None = None
    error_streak: int = 0
    paused: bool = False
    paused_reason: str | None = None
    paused_at: datetime | None = None
    admins_notified: bool = False
    articles: int = 0  # articles stored from it
    outlet_kind: str = "unknown"  # state media, government, wire, ... (knowledge/provenance.py)
    outlet_kind_set: bool = False  # an admin set outlet_kind (else it comes from the table)

    @property
    def name(self) -> str:
        """What articles from it are credited to: its title, else its host."""
        return self.title or host_of(self.url) or self.url


@dataclass(frozen=True, slots=True)
class AddedSource:
    """What adding a source found: the stored source, the kind of document, its items."""

    source: Source
    found: str  # "RSS feed", "Atom feed", "JSON feed", "RDF feed", "article page"
    items: int


@dataclass(frozen=True, slots=True)
class SourcePoll:
    """What one poll of one source did."""

    source_id: int
    name: str
    url: str
    status: str  # "ok" | "not_modified" | "failed"
    items: int = 0  # items in the document
    new: int = 0  # items not seen before, handed to the ingestor
    stored: int = 0
    duplicates: int = 0
    linked: int = 0
    rejected: int = 0
    error: str | None = None
    paused: bool = False  # paused by this poll
    next_poll_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PollReport:
    """What a poll of several sources did, one entry per source."""

    polls: tuple[SourcePoll, ...] = ()

    @property
    def stored(self) -> int:
        """Articles stored in all."""
        return sum(p.stored for p in self.polls)

    @property
    def duplicates(self) -> int:
        """Items that were already stored."""
        return sum(p.duplicates for p in self.polls)

    @property
    def linked(self) -> int:
        """Stored articles linked to an earlier story."""
        return sum(p.linked for p in self.polls)

    @property
    def failed(self) -> tuple[SourcePoll, ...]:
        """The sources whose poll failed."""
        return tuple(p for p in self.polls if p.status == "failed")


@dataclass(frozen=True, slots=True)
class Topic:
    """A region topic offered as a button: what it is called and what it searches for."""

    label: str
    query: str


@dataclass(frozen=True, slots=True)
class Stats:
    """The bot's health at a glance."""

    articles: int
    stories: int
    sources: int
    chats: int
    last_ingest: datetime | None
    db_path: str
    db_bytes: int
    schema_version: int
    extra: dict[str, str] = field(default_factory=dict)
    store: str = ""  # which backend and database: "SQLite data/brief.db", "PostgreSQL host/db"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat's daily digest: when (local time in its timezone), where and on what."""

    chat_id: int
    thread_id: int | None  # a forum topic's message_thread_id, where /subscribe was sent
    at: time  # local time of day
    timezone: str  # IANA name, e.g. "Asia/Manila"
    topics: tuple[str, ...] = ()  # followed topics, free text; empty means everything
    silent: bool = False  # deliver without a notification sound
    notify_empty: bool = False  # send a "nothing new" notice when there is nothing
    last_sent_at: datetime | None = None  # the cutoff of what is new for the next digest
    created_at: datetime | None = None
    sent_through_id: int | None = None  # the newest story id the last digest sent could hold


@dataclass(frozen=True, slots=True)
class DigestSection:
    """One topic's stories in a digest, best first."""

    topic: str  # the label: a region topic, or a followed topic when the chat has some
    hits: tuple[Hit, ...]
    more: int = 0  # this topic's stories left out of the digest (over the size limit)


@dataclass(frozen=True, slots=True)
class Digest:
    """What is new for one chat: sections of stories, most covered and newest first."""

    chat_id: int
    local_date: date  # the chat's own date the digest is for
    since: datetime  # stories newer than this are new
    sections: tuple[DigestSection, ...]
    until: datetime | None = None  # composed at; the next digest's `since` once this is sent
    until_id: int | None = None  # the newest story id it could hold (the next one's watermark)
    muted: int = 0  # new stories the chat's mute words hid
    kind_hidden: int = 0  # new stories hidden because the chat hides their outlet's kind

    @property
    def empty(self) -> bool:
        """True when there is nothing new."""
        return not any(section.hits for section in self.sections)

    @property
    def stories(self) -> int:
        """Stories shown, across sections."""
        return sum(len(section.hits) for section in self.sections)


@dataclass(frozen=True, slots=True)
class DigestClaim:
    """The record that a chat's digest for one local date is being, or was, sent."""

    chat_id: int
    local_date: date
    status: str  # claimed | sent | uncertain | failed
    claimed_at: datetime
    finished_at: datetime | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class DigestRun:
    """One scheduled delivery round, for /stats."""

    started_at: datetime
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # nothing new, already claimed, or no longer subscribed
    uncertain: int = 0  # outcome unknown (a timeout after the request left): never re-sent
    finished_at: datetime | None = None
