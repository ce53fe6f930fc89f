"""Hybrid search: dense nearest neighbours + FTS5 bm25, fused into one score, with a
similarity floor and near-duplicate stories collapsed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge.embedder import Embedder, Vectors
from knowledge.index import DenseIndex, IndexSnapshot
from knowledge.store import Store
from knowledge.text import words

# Words that match nearly every article; they only slow FTS down and add noise. (Summaries have
# their own, longer list: knowledge.text.STOP_WORDS.)
QUERY_STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in",
        "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will",
        "with", "what", "who", "whom", "which", "when", "where", "why", "how", "about", "into",
        "over", "after", "before", "news", "latest", "update", "updates",
    }
)  # fmt: skip
MAX_QUERY_TERMS = 32
KEYWORD_THREADS = 4


def keyword_query(text: str) -> str:
    """An FTS5 MATCH expression: the query's words, each quoted, OR-ed (bm25 ranks them)."""
    seen: list[str] = []
    for word in words(text):
        if word in QUERY_STOP_WORDS or (len(word) < 2 and not word.isdigit()) or word in seen:
            continue
        seen.append(word)
        if len(seen) == MAX_QUERY_TERMS:
            break
    return " OR ".join(f'"{w}"' for w in seen)


@dataclass(frozen=True, slots=True)
class RankedStory:
    """A story found for a query, before it is fetched for display."""

    story_id: int
    score: float
    similarity: float


KeywordHits = list[tuple[int, float]]  # (article id, bm25), best first


@dataclass(frozen=True, slots=True)
class SearchTuning:
    """The knobs of hybrid search (from the settings)."""

    candidates: int = 50
    floor: float = 0.35  # a story this similar to the query is relevant on its own
    keyword_floor: float = 0.25  # ...and a keyword match needs at least this much similarity
    fusion: str = "score"  # "score": weighted cosine + min-max bm25; "rrf": reciprocal rank
    dense_weight: float = 0.3
    keyword_weight: float = 0.7
    rrf_k: int = 60


class Searcher:
    """Keeps the dense index in step with the store and answers ranked story lists."""

    def __init__(self, store: Store, embedder: Embedder, tuning: SearchTuning) -> None:
        self.store = store
        self.embedder = embedder
        self.tuning = tuning
        self.index = DenseIndex()
        self._sync_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    def sync(self) -> None:
        """Load the rows stored since the last sync (by this process or another one)."""
        if self.store.articles.max_id() <= self.index.max_id:
            return
        with self._sync_lock:
            self.index.add(self.store.articles.vectors_after(self.index.max_id))

    def _keyword_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._closed:
                raise RuntimeError("the searcher is closed")
            if self._pool is None:
                self._pool = ThreadPoolExecutor(KEYWORD_THREADS, thread_name_prefix="bm25")
            return self._pool

    def close(self) -> None:
        """Stop the keyword threads."""
        with self._pool_lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def search(self, query: str) -> list[RankedStory]:
        """Relevant stories, best first; empty when nothing reaches the similarity floor."""
        self.sync()
        match = keyword_query(query)
        # SQLite and torch both release the GIL: bm25 runs while the query is embedded.
        pending = (
            self._keyword_pool().submit(
                self.store.articles.keyword_search, match, self.tuning.candidates
            )
            if match
            else None
        )
        vector = self.embedder.encode_one(query)
        keyword_hits = pending.result() if pending else []
        return self.rank(query, vector, keyword_hits=keyword_hits)

    def rank(
        self,
        query: str,
        vector: Vectors,
        mode: str = "hybrid",
        keyword_hits: KeywordHits | None = None,
        tuning: SearchTuning | None = None,
    ) -> list[RankedStory]:
        """Rank with a given query vector; mode is hybrid, dense or keyword (the bench
        compares them). `keyword_hits` are the bm25 results when the caller has them."""
        t = tuning or self.tuning
        index = self.index.snapshot()  # one consistent view for the whole ranking
        if not len(index):
            return []
        sims = index.similarities(vector)
        dense_rows = np.zeros(0, dtype=np.int64)
        keyword_rows = np.zeros(0, dtype=np.int64)
        keyword_scores = np.zeros(0, dtype=np.float64)
        if mode in ("hybrid", "dense"):
            n = min(t.candidates, len(sims))
            top = np.argpartition(-sims, n - 1)[:n]
            dense_rows = top[np.argsort(-sims[top], kind="stable")].astype(np.int64)
        if mode in ("hybrid", "keyword"):
            if keyword_hits is None:
                match = keyword_query(query)
                keyword_hits = (
                    self.store.articles.keyword_search(match, t.candidates) if match else []
                )
            rows = index.rows_of([article_id for article_id, _ in keyword_hits])
            found = rows >= 0
            keyword_rows = rows[found]
            keyword_scores = np.array([b for _, b in keyword_hits], dtype=np.float64)[found]

        if mode == "dense":
            fused = _rank_scores(dense_rows)
        elif mode == "keyword":
            fused = _rank_scores(keyword_rows)
        elif t.fusion == "rrf":
            fused = _rrf(dense_rows, keyword_rows, t)
        else:
            fused = _weighted(dense_rows, keyword_rows, keyword_scores, sims, t)
        return _stories(index, fused, sims, set(keyword_rows.tolist()), t)


def _stories(
    index: IndexSnapshot,
    fused: dict[int, float],
    sims: npt.NDArray[np.float32],
    keyword_rows: set[int],
    t: SearchTuning,
) -> list[RankedStory]:
    """Collapse rows into stories (best copy counts), apply the floor, sort."""
    best: dict[int, tuple[float, float, float, bool]] = {}
    rows = np.fromiter(fused, dtype=np.int64, count=len(fused))
    stories = index.story_of_rows(rows).tolist()
    times = index.time_of_rows(rows).tolist()
    for row, story, when in zip(rows.tolist(), stories, times, strict=True):
        score, similarity, matched = fused[row], float(sims[row]), row in keyword_rows
        old = best.get(story)
        if old is not None:
            score, similarity = max(old[0], score), max(old[1], similarity)
            when, matched = max(old[2], when), old[3] or matched
        best[story] = (score, similarity, when, matched)
    # The floor: "nothing on that yet" beats the nearest unrelated article. A short query
    # ("Taiwan") sits far from a long article in embedding space, so a keyword match
    # lowers the bar; an unrelated keyword hit still fails it.
    ranked = [
        (story, score, similarity, when)
        for story, (score, similarity, when, matched) in best.items()
        if similarity >= (t.keyword_floor if matched else t.floor)
    ]
    ranked.sort(key=lambda r: (-r[1], -r[3]))  # recency breaks ties
    return [RankedStory(story, score, similarity) for story, score, similarity, _ in ranked]


def _rank_scores(rows: npt.NDArray[np.int64]) -> dict[int, float]:
    """One ranker alone: a score that keeps its order."""
    return {int(row): 1.0 / (rank + 1) for rank, row in enumerate(rows)}


def _rrf(
    dense_rows: npt.NDArray[np.int64], keyword_rows: npt.NDArray[np.int64], t: SearchTuning
) -> dict[int, float]:
    """Reciprocal rank fusion."""
    fused: dict[int, float] = {}
    for rows, weight in ((dense_rows, t.dense_weight), (keyword_rows, t.keyword_weight)):
        for rank, row in enumerate(rows.tolist()):
            fused[row] = fused.get(row, 0.0) + weight / (t.rrf_k + rank + 1)
    return fused


def _weighted(
    dense_rows: npt.NDArray[np.int64],
    keyword_rows: npt.NDArray[np.int64],
    keyword_scores: npt.NDArray[np.float64],
    sims: npt.NDArray[np.float32],
    t: SearchTuning,
) -> dict[int, float]:
    """Weighted sum of the cosine and bm25 scaled to 0..1 over this query's keyword hits.

    Measured in bench/: on headline queries this beats both single rankers and RRF,
    which throws away how far ahead an exact title match is."""
    scaled: dict[int, float] = {}
    if len(keyword_rows):
        best, worst = float(keyword_scores.min()), float(keyword_scores.max())
        spread = worst - best
        for row, score in zip(keyword_rows.tolist(), keyword_scores.tolist(), strict=True):
            scaled[row] = (worst - score) / spread if spread > 0 else 1.0
    rows = set(dense_rows.tolist()) | set(scaled)
    return {
        row: t.dense_weight * float(sims[row]) + t.keyword_weight * scaled.get(row, 0.0)
        for row in rows
    }
