"""Articles: inserting them, finding what is already stored, reading them back for answers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from knowledge.models import Article, Coverage
from knowledge.store.db import Database, from_db_time, to_db_time, utcnow

ARTICLE_COLUMNS = "id, url, title, source, published, fetched, summary, story_id, source_id"
CHUNK = 500  # host parameters per IN (...) list


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


class Articles:
    """The articles table and its full-text index."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def known_urls(self, urls: Iterable[str]) -> dict[str, int]:
        """For each of these canonical URLs already stored, its article id."""
        found: dict[str, int] = {}
        with self.db.read() as conn:
            for chunk in chunks(list(set(urls)), CHUNK):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT url, id FROM articles WHERE url IN ({marks})", chunk)
                found.update((r[0], int(r[1])) for r in rows)
        return found

    def known_unlinked(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """For each (source, content hash) pair stored without a URL, its article id."""
        found: dict[tuple[str, str], int] = {}
        with self.db.read() as conn:
            for source, digest in set(pairs):
                row = conn.execute(
                    "SELECT id FROM articles "
                    "WHERE url IS NULL AND source = ? AND content_hash = ?",
                    (source, digest),
                ).fetchone()
                if row:
                    found[(source, digest)] = int(row[0])
        return found

    def first_with_hash(self, digests: Iterable[str]) -> dict[str, int]:
        """For each content hash already stored, the story it belongs to."""
        out: dict[str, int] = {}
        with self.db.read() as conn:
            for chunk in chunks(list(set(digests)), CHUNK):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT content_hash, min(coalesce(story_id, id)) FROM articles "
                    f"WHERE content_hash IN ({marks}) GROUP BY content_hash",
                    chunk,
                )
                out.update((r[0], int(r[1])) for r in rows)
        return out

    def insert(self, articles: Sequence[NewArticle]) -> list[int | None]:
        """Insert in one transaction; None for an article that was already there."""
        with self.db.write() as conn:
            return [self._insert_one(conn, a) for a in articles]

    def insert_each(self, articles: Sequence[NewArticle]) -> list[int | Exception | None]:
        """Insert one transaction per article: an article the database refuses is reported
        (the exception in its place) and the others are stored."""
        out: list[int | Exception | None] = []
        for a in articles:
            try:
                with self.db.write() as conn:
                    out.append(self._insert_one(conn, a))
            except Exception as exc:  # reported per article by the caller
                out.append(exc)
        return out

    @staticmethod
    def _insert_one(conn: sqlite3.Connection, a: NewArticle) -> int | None:
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
        return cur.lastrowid if cur.rowcount else None

    def max_id(self) -> int:
        """The highest article id stored (0 when there is none)."""
        with self.db.read() as conn:
            return int(conn.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0])

    def vectors_after(self, after_id: int, limit: int | None = None) -> VectorRows:
        """Embeddings of the articles whose id is above `after_id`, in id order (at most
        `limit` of them: a large store is read in pages)."""
        return self._vectors(
            "WHERE id > ? ORDER BY id LIMIT ?", (after_id, -1 if limit is None else limit)
        )

    def vectors_of(self, ids: Sequence[int]) -> VectorRows:
        """Embeddings of these articles (those still stored), in id order."""
        rows = VectorRows([], [], [], [])
        for chunk in chunks(sorted(set(ids)), CHUNK):
            part = self._vectors(f"WHERE id IN ({','.join('?' * len(chunk))}) ORDER BY id", chunk)
            rows.ids.extend(part.ids)
            rows.story_ids.extend(part.story_ids)
            rows.times.extend(part.times)
            rows.blobs.extend(part.blobs)
        return rows

    def _vectors(self, where: str, params: Sequence[object]) -> VectorRows:
        rows = VectorRows([], [], [], [])
        with self.db.read() as conn:
            cursor = conn.execute(
                "SELECT id, coalesce(story_id, id), coalesce(published, fetched), embedding "
                f"FROM articles {where}",
                params,
            )
            for r in cursor:
                rows.ids.append(r[0])
                rows.story_ids.append(r[1])
                rows.times.append(r[2])
                rows.blobs.append(r[3])
        return rows

    def index_state(self) -> tuple[int, int, int]:
        """(articles stored, highest id, last change cursor): what a saved index is checked
        against, and what tells a running one there is something to follow."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM articles), (SELECT coalesce(max(id), 0) FROM "
                "articles), (SELECT coalesce(max(seq), 0) FROM article_changes)"
            ).fetchone()
            return int(row[0]), int(row[1]), int(row[2])

    def last_change(self) -> int:
        """The newest change cursor (0 when nothing was ever removed or changed)."""
        with self.db.read() as conn:
            row = conn.execute("SELECT coalesce(max(seq), 0) FROM article_changes").fetchone()
            return int(row[0])

    def changes_after(self, seq: int) -> tuple[int, list[int]]:
        """(newest cursor, ids of the articles removed or changed after cursor `seq`)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT seq, article_id FROM article_changes WHERE seq > ? ORDER BY seq", (seq,)
            ).fetchall()
        if not rows:
            return seq, []
        return int(rows[-1][0]), sorted({int(r[1]) for r in rows})

    def update(
        self, article_id: int, *, title: str, text: str, summary: str, embedding: bytes
    ) -> bool:
        """Replace an article's words and embedding (a corrected story); False when it is
        not stored."""
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE articles SET title = ?, text = ?, summary = ?, embedding = ? WHERE id = ?",
                (title, text, summary, embedding, article_id),
            )
            return bool(cur.rowcount)

    def delete(self, ids: Sequence[int]) -> int:
        """Remove these articles; a story that loses its first article is led by its next
        oldest one. Returns how many were removed."""
        removed = 0
        with self.db.write() as conn:
            for chunk in chunks(sorted(set(ids)), CHUNK):
                marks = ",".join("?" * len(chunk))
                led = [
                    int(r[0])
                    for r in conn.execute(
                        f"SELECT DISTINCT story_id FROM articles WHERE story_id IN ({marks})",
                        chunk,
                    )
                ]
                removed += conn.execute(
                    f"DELETE FROM articles WHERE id IN ({marks})", chunk
                ).rowcount
                for story in led:
                    rest = conn.execute(
                        "SELECT min(id) FROM articles WHERE story_id = ?", (story,)
                    ).fetchone()[0]
                    if rest is None:
                        continue
                    conn.execute("UPDATE articles SET story_id = NULL WHERE id = ?", (rest,))
                    conn.execute(
                        "UPDATE articles SET story_id = ? WHERE story_id = ?", (rest, story)
                    )
        return removed

    def count(self) -> int:
        """Articles stored."""
        with self.db.read() as conn:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def keyword_search(self, match: str, limit: int) -> list[tuple[int, float]]:
        """(article id, bm25) for an FTS5 query, best first; bm25 is negative, lower is
        better (title weighs 10, summary 4, text 1)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT rowid, bm25(articles_fts, 10.0, 4.0, 1.0) AS score FROM articles_fts "
                "WHERE articles_fts MATCH ? ORDER BY score LIMIT ?",
                (match, limit),
            )
            return [(r[0], r[1]) for r in rows]

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many articles contain each index term (a Porter stem); absent terms are left
        out. Read from the FTS5 vocabulary, not by scanning."""
        if not terms:
            return {}
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT term, doc FROM temp.articles_vocab "
                "WHERE term IN (SELECT value FROM json_each(?))",
                (json.dumps(list(terms)),),
            )
            return {str(r[0]): int(r[1]) for r in rows}

    def texts(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(title, text) of these articles."""
        out: dict[int, tuple[str, str]] = {}
        with self.db.read() as conn:
            for chunk in chunks(list(ids), CHUNK):
                marks = ",".join("?" * len(chunk))
                for r in conn.execute(
                    f"SELECT id, title, text FROM articles WHERE id IN ({marks})", chunk
                ):
                    out[int(r[0])] = (str(r[1]), str(r[2]))
        return out

    def by_ids(self, ids: Sequence[int]) -> dict[int, Article]:
        """Articles by id."""
        out: dict[int, Article] = {}
        with self.db.read() as conn:
            for chunk in chunks(list(ids), CHUNK):
                marks = ",".join("?" * len(chunk))
                for r in conn.execute(
                    f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks})", chunk
                ):
                    out[r["id"]] = article_from_row(r)
        return out

    def coverage(self, story_ids: Sequence[int]) -> dict[int, list[Coverage]]:
        """For each story, the other copies (outlet and link), oldest first."""
        out: dict[int, list[Coverage]] = {sid: [] for sid in story_ids}
        with self.db.read() as conn:
            for chunk in chunks(list(story_ids), CHUNK):
                marks = ",".join("?" * len(chunk))
                for r in conn.execute(
                    f"SELECT story_id, source, url FROM articles WHERE story_id IN ({marks}) "
                    "ORDER BY id",
                    chunk,
                ):
                    out[r[0]].append(Coverage(source=r[1], url=r[2]))
        return out

    def newest_stories(self, limit: int, offset: int = 0) -> list[Article]:
        """Stories' first articles, newest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE story_id IS NULL "
                "ORDER BY coalesce(published, fetched) DESC, id DESC LIMIT ? OFFSET ?",
                (limit, offset),
            )
            return [article_from_row(r) for r in rows]

    def story_count(self) -> int:
        """Stories (articles that are not near-duplicates of an earlier one)."""
        with self.db.read() as conn:
            return int(
                conn.execute("SELECT count(*) FROM articles WHERE story_id IS NULL").fetchone()[0]
            )

    def last_fetched(self) -> datetime | None:
        """When the newest article was stored."""
        with self.db.read() as conn:
            return from_db_time(conn.execute("SELECT max(fetched) FROM articles").fetchone()[0])


def article_from_row(r: sqlite3.Row) -> Article:
    """An Article from a row with ARTICLE_COLUMNS."""
    return Article(
        id=r["id"],
        url=r["url"],
        title=r["title"],
        source=r["source"],
        published=from_db_time(r["published"]),
        fetched=from_db_time(r["fetched"]) or utcnow(),
        summary=r["summary"],
        story_id=r["story_id"],
        source_id=r["source_id"],
    )


def chunks(items: list, size: int) -> Iterator[list]:  # type: ignore[type-arg]
    """`items` in lists of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
