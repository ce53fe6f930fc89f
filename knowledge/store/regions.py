"""Each article's region labels: reading the rows the classifier needs, writing its labels;
and the story reads digests and /latest make by those labels."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from knowledge.models import Article, Coverage
from knowledge.regions import RegionLabels
from knowledge.store.articles import ARTICLE_COLUMNS, article_from_row, chunks, label_columns
from knowledge.store.db import Database, from_db_time, to_db_time, utcnow


@dataclass(frozen=True, slots=True)
class ToLabel:
    """What the classifier reads of a stored article."""

    id: int
    title: str
    text: str
    embedding: bytes


class ArticleRegions:
    """The region label columns of the articles table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def unlabelled_count(self) -> int:
        """Articles not labelled yet."""
        with self.db.read() as conn:
            row = conn.execute("SELECT count(*) FROM articles WHERE region_model IS NULL")
            return int(row.fetchone()[0])

    def batches(self, size: int, *, everything: bool) -> Iterator[list[ToLabel]]:
        """The articles to label (every one when `everything`, else the unlabelled), in id
        order, `size` at a time; read a batch at a time so the writer is never blocked long."""
        after = 0
        where = "" if everything else "AND region_model IS NULL"
        while True:
            with self.db.read() as conn:
                rows = conn.execute(
                    f"SELECT id, title, text, embedding FROM articles WHERE id > ? {where} "
                    "ORDER BY id LIMIT ?",
                    (after, size),
                ).fetchall()
            if not rows:
                return
            yield [ToLabel(int(r[0]), str(r[1]), str(r[2]), bytes(r[3])) for r in rows]
            after = int(rows[-1][0])

    def save(self, labels: Sequence[tuple[int, RegionLabels]], model: str) -> None:
        """Store these articles' labels, in one transaction."""
        with self.db.write() as conn:
            conn.executemany(
                "UPDATE articles SET sections = ?, section = ?, regional = ?, for_brief = ?, "
                "region_model = ? WHERE id = ?",
                [(*label_columns(lab, model), article_id) for article_id, lab in labels],
            )

    def models(self) -> dict[str | None, int]:
        """How many articles each model signature labelled (None: not labelled)."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT region_model, count(*) FROM articles GROUP BY 1")
            return {r[0]: int(r[1]) for r in rows}


# When a story happened: its publication date, never later than when it reached the store.
_EFFECTIVE = (
    "CASE WHEN published IS NOT NULL AND published < fetched THEN published ELSE fetched END"
)


@dataclass(frozen=True, slots=True)
class RecentStories:
    """Stories of a window, for digests: first articles (with their labels), times, copies."""

    articles: list[Article]
    effective: dict[int, datetime]  # story id -> when it happened
    coverage: dict[int, list[Coverage]]  # story id -> other copies, oldest first


def _section_filter(section: str | None) -> tuple[str, list[object]]:
    if section is None:
        return "", []
    return "AND (' ' || coalesce(sections, '') || ' ' LIKE ? OR section = ?)", [
        f"% {section} %",
        section,
    ]


class BriefStories:
    """The reads of digests and /latest: stories the regional decision keeps."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def newest(
        self, limit: int, offset: int = 0, *, for_brief: bool = True, section: str | None = None
    ) -> list[Article]:
        """Stories newest first: only regional developments when `for_brief` (in `section`
        when given)."""
        where, params = _section_filter(section)
        kept = "AND for_brief = 1" if for_brief else ""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE story_id IS NULL {kept} {where} "
                "ORDER BY coalesce(published, fetched) DESC, id DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
            return [article_from_row(r) for r in rows]

    def count(self, *, for_brief: bool = True, section: str | None = None) -> int:
        """How many stories `newest` can page through."""
        where, params = _section_filter(section)
        kept = "AND for_brief = 1" if for_brief else ""
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT count(*) FROM articles WHERE story_id IS NULL {kept} {where}", params
            ).fetchone()
            return int(row[0])

    def recent(self, not_before: datetime, until_id: int, *, for_brief: bool) -> RecentStories:
        """Stories up to `until_id` that happened after `not_before` (only the regional
        developments when `for_brief`), with their copies."""
        kept = "AND for_brief = 1" if for_brief else ""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {ARTICLE_COLUMNS}, {_EFFECTIVE} AS effective FROM articles "
                "WHERE story_id IS NULL AND id <= ? AND coalesce(published, fetched) > ? "
                f"{kept}",
                (until_id, to_db_time(not_before)),
            ).fetchall()
            articles = [article_from_row(r) for r in rows]
            effective = {int(r["id"]): from_db_time(r["effective"]) or utcnow() for r in rows}
            ids = [a.id for a in articles]
            coverage: dict[int, list[Coverage]] = {sid: [] for sid in ids}
            for chunk in chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                for r in conn.execute(
                    f"SELECT story_id, source, url FROM articles WHERE story_id IN ({marks}) "
                    "AND id <= ? ORDER BY id",
                    [*chunk, until_id],
                ):
                    coverage[int(r[0])].append(Coverage(source=r[1], url=r[2]))
        return RecentStories(articles, effective, coverage)
