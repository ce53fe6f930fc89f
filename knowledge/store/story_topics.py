"""Each story's region topics (settings.topics), and the story reads digests and /latest need.

The rows are decided by search relevance (the service classifies stories lazily, a topic at a
time, and records in topic_state how far it got, with which query and which decision), so
composing thousands of digests or a page of /latest is a plain query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from knowledge.models import Article, Coverage
from knowledge.store.articles import ARTICLE_COLUMNS, article_from_row, chunks
from knowledge.store.db import Database, from_db_time, to_db_time, utcnow

# When a story happened: its publication date, never later than when it reached the store.
_EFFECTIVE = (
    "CASE WHEN published IS NOT NULL AND published < fetched THEN published ELSE fetched END"
)
_IN_A_TOPIC = "EXISTS (SELECT 1 FROM story_topics t WHERE t.story_id = articles.id)"


@dataclass(frozen=True, slots=True)
class TopicState:
    """How far one region topic has been classified."""

    query: str
    decision: str
    upto_id: int


@dataclass(frozen=True, slots=True)
class RecentStories:
    """Stories of a window, for digests: first articles, their copies, times and topics."""

    articles: list[Article]
    effective: dict[int, datetime]  # story id -> when it happened
    coverage: dict[int, list[Coverage]]  # story id -> other copies, oldest first
    topics: dict[str, dict[int, float]]  # topic label -> story id -> relevance


class StoryTopics:
    """The story_topics and topic_state tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def state(self) -> dict[str, TopicState]:
        """Every classified topic's state, by label."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT topic, query, decision, upto_id FROM topic_state")
            return {r[0]: TopicState(r[1], r[2], int(r[3])) for r in rows}

    def stories_between(self, after_id: int, upto_id: int) -> list[int]:
        """Ids of the stories (first articles) in (after_id, upto_id]."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id FROM articles WHERE story_id IS NULL AND id > ? AND id <= ?",
                (after_id, upto_id),
            )
            return [int(r[0]) for r in rows]

    def save(
        self, topic: str, state: TopicState, scores: Mapping[int, float], *, replace: bool
    ) -> None:
        """Record a topic's relevant stories (dropping its old rows first when `replace`) and
        how far it is classified, in one transaction."""
        with self.db.write() as conn:
            if replace:
                conn.execute("DELETE FROM story_topics WHERE topic = ?", (topic,))
            conn.executemany(
                "INSERT INTO story_topics (story_id, topic, score) VALUES (?, ?, ?) "
                "ON CONFLICT (story_id, topic) DO UPDATE SET score = excluded.score",
                [(story_id, topic, float(score)) for story_id, score in scores.items()],
            )
            conn.execute(
                "INSERT INTO topic_state (topic, query, decision, upto_id) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (topic) DO UPDATE SET query = excluded.query, "
                "decision = excluded.decision, upto_id = excluded.upto_id",
                (topic, state.query, state.decision, state.upto_id),
            )

    def keep_only(self, topics: Sequence[str]) -> None:
        """Forget topics no longer configured."""
        with self.db.write() as conn:
            marks = ",".join("?" * len(topics)) or "NULL"
            conn.execute(f"DELETE FROM story_topics WHERE topic NOT IN ({marks})", list(topics))
            conn.execute(f"DELETE FROM topic_state WHERE topic NOT IN ({marks})", list(topics))

    def topics_of(self, story_ids: Sequence[int]) -> dict[int, list[str]]:
        """Each story's topics, most relevant first."""
        out: dict[int, list[str]] = {sid: [] for sid in story_ids}
        with self.db.read() as conn:
            for chunk in chunks(list(story_ids), 500):
                marks = ",".join("?" * len(chunk))
                for r in conn.execute(
                    f"SELECT story_id, topic FROM story_topics WHERE story_id IN ({marks}) "
                    "ORDER BY score DESC",
                    chunk,
                ):
                    out[int(r[0])].append(r[1])
        return out

    def newest(self, limit: int, offset: int = 0) -> list[Article]:
        """Stories in at least one region topic, newest first (what /latest shows)."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE story_id IS NULL "
                f"AND {_IN_A_TOPIC} "
                "ORDER BY coalesce(published, fetched) DESC, id DESC LIMIT ? OFFSET ?",
                (limit, offset),
            )
            return [article_from_row(r) for r in rows]

    def count(self) -> int:
        """Stories in at least one region topic."""
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT count(*) FROM articles WHERE story_id IS NULL AND {_IN_A_TOPIC}"
            ).fetchone()
            return int(row[0])

    def recent(self, not_before: datetime, until_id: int, *, in_a_topic: bool) -> RecentStories:
        """Stories up to `until_id` that happened after `not_before` (only those in a region
        topic when `in_a_topic`), with their copies and topics."""
        where = f"AND {_IN_A_TOPIC}" if in_a_topic else ""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {ARTICLE_COLUMNS}, {_EFFECTIVE} AS effective FROM articles "
                "WHERE story_id IS NULL AND id <= ? AND coalesce(published, fetched) > ? "
                f"{where}",
                (until_id, to_db_time(not_before)),
            ).fetchall()
            articles = [article_from_row(r) for r in rows]
            effective = {int(r["id"]): from_db_time(r["effective"]) or utcnow() for r in rows}
            ids = [a.id for a in articles]
            coverage: dict[int, list[Coverage]] = {sid: [] for sid in ids}
            topics: dict[str, dict[int, float]] = {}
            for chunk in chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                for r in conn.execute(
                    f"SELECT story_id, source, url FROM articles WHERE story_id IN ({marks}) "
                    "AND id <= ? ORDER BY id",
                    [*chunk, until_id],
                ):
                    coverage[int(r[0])].append(Coverage(source=r[1], url=r[2]))
                for r in conn.execute(
                    f"SELECT story_id, topic, score FROM story_topics WHERE story_id IN ({marks})",
                    chunk,
                ):
                    topics.setdefault(r[1], {})[int(r[0])] = float(r[2])
        return RecentStories(articles, effective, coverage, topics)
