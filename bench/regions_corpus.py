"""The corpus as the region classifier sees it: each item of articles + distractors turned into
the draft, summary and embedding that ingestion stores, with its labels and its half.

Shared by bench/train_regions.py (fits on the dev half) and bench/bench_regions.py (reports the
test half). Embeddings are cached in bench/.cache, keyed by the data and the text/embedding code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import common
import numpy as np
import numpy.typing as npt

# Categories (the corpus's `category`, case-folded) that are never for a brief.
NOT_FOR_A_BRIEF_CATEGORIES = frozenset(
    {
        "sports",
        "sport",
        "entertainment",
        "comedy",
        "style & beauty",
        "style",
        "home & living",
        "food & drink",
        "wellness",
        "healthy living",
        "parenting",
        "parents",
        "travel",
        "weddings",
        "divorce",
        "culture & arts",
        "arts & culture",
        "arts",
        "weird news",
        "taste",
        "fifty",
        "good news",
        "queer voices",
        "black voices",
        "latino voices",
        "women",
        "media",
    }
)
SPORT_AND_SHOWBIZ_CATEGORIES = frozenset(
    {"sports", "sport", "entertainment", "comedy", "style & beauty", "style", "culture & arts"}
)


def sha(item_id: object) -> str:
    """sha256(str(id)) in hex."""
    return hashlib.sha256(str(item_id).encode()).hexdigest()


def half(item_id: object) -> str:
    """The fixed split: dev when sha256(str(id)) starts with 0-7, test otherwise."""
    return "dev" if sha(item_id)[0] in "01234567" else "test"


@dataclass(frozen=True, slots=True)
class Item:
    """One corpus row as ingestion would store it."""

    id: str
    half: str
    title: str
    text: str
    summary: str
    topics: tuple[str, ...]  # the corpus's topic labels ([] for distractors)
    asia: bool  # in articles.jsonl.gz (passed the Asia-Pacific filter)
    category: str  # case-folded, "" when none
    relevance: str  # "core", "broad", or "distractor"
    dataset: str
    published: str | None
    source: str | None
    url: str | None

    @property
    def sport_or_showbiz(self) -> bool:
        """Sport, entertainment or lifestyle by the corpus's category."""
        return self.category in SPORT_AND_SHOWBIZ_CATEGORIES

    @property
    def off_brief_category(self) -> bool:
        """A category that is never for a brief."""
        return self.category in NOT_FOR_A_BRIEF_CATEGORIES


def _rows() -> list[tuple[dict[str, Any], bool]]:
    rows = [(r, True) for r in common.read_rows(common.ARTICLES)]
    rows += [(r, False) for r in common.read_rows(common.DISTRACTORS)]
    return rows


def _key() -> str:
    digest = hashlib.sha256()
    for path in (
        common.ARTICLES,
        common.DISTRACTORS,
        common.ROOT / "knowledge" / "text.py",
        common.ROOT / "knowledge" / "records.py",
        common.ROOT / "knowledge" / "embedder.py",
        common.ROOT / "config" / "default.toml",
    ):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def load() -> tuple[list[Item], npt.NDArray[np.float32]]:
    """Every usable corpus item and its stored embedding (title + summary), row-aligned."""
    from knowledge.embedder import from_blobs, to_blob
    from knowledge.records import draft_from_record
    from knowledge.text import summarise

    settings = common.make_settings(common.CACHE / "unused.db")
    items: list[Item] = []
    for row, asia in _rows():
        try:
            draft = draft_from_record(row)
        except Exception:  # rows the importer rejects are not stored, so not classified
            continue
        summary = (
            summarise(
                draft.text,
                draft.title,
                max_sentences=settings.summary_max_sentences,
                max_chars=settings.summary_max_chars,
            )
            or draft.text[:300]
        )
        items.append(
            Item(
                id=str(row["id"]),
                half=half(row["id"]),
                title=draft.title,
                text=draft.text,
                summary=summary,
                topics=tuple(row.get("topics") or ()),
                asia=asia,
                category=(row.get("category") or "").strip().casefold(),
                relevance=str(row.get("relevance") or "") if asia else "distractor",
                dataset=str(row.get("dataset") or ""),
                published=row.get("published"),
                source=row.get("source"),
                url=row.get("url"),
            )
        )
    common.ensure_cache()
    path = common.CACHE / f"regions-emb-{_key()}.npz"
    if path.exists():
        cached = np.load(path)
        if list(cached["ids"]) == [i.id for i in items]:
            return items, cached["vectors"]
    common.log(f"regions: embedding {len(items):,} corpus items (cached in {path.name})")
    model = common.embedder()
    vectors = model.encode([f"{i.title}. {i.summary}" for i in items])
    # what the store holds (float16 blobs), so training sees what ingestion classifies
    stored = from_blobs([to_blob(v) for v in vectors]).astype(np.float32)
    np.savez_compressed(path, ids=np.array([i.id for i in items]), vectors=stored)
    return items, stored
