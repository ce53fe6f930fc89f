"""Frozen dataclasses the core returns to its callers (the bot, the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
    """A feed or page that admins added for polling."""

    id: int
    url: str
    kind: str  # "feed" or "page"
    title: str
    added_at: datetime
    last_polled: datetime | None = None
    last_error: str | None = None


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
