"""Hybrid search: dense nearest neighbours + FTS5 bm25, fused by reciprocal rank, with a
similarity floor and near-duplicate stories collapsed."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge.embedder import DIM, Embedder, Vectors, from_blobs
from knowledge.store import Store, VectorRows

_WORD = re.compile(r"\w+", re.UNICODE)
# Words that match nearly every article; they only slow FTS down and add noise.
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in",
        "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will",
        "with", "what", "who", "whom", "which", "when", "where", "why", "how", "about", "into",
        "over", "after", "before", "news", "latest", "update", "updates",
    }
)  # fmt: skip
MAX_QUERY_TERMS = 32
DUPLICATE_CHUNK = 16_384  # rows per float32 block in the near-duplicate check
_KEYWORD_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bm25")


def keyword_query(text: str) -> str:
    """An FTS5 MATCH expression: the query's words, each quoted, OR-ed (bm25 ranks them)."""
    seen: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS or (len(word) < 2 and not word.isdigit()) or word in seen:
            continue
        seen.append(word)
        if len(seen) == MAX_QUERY_TERMS:
            break
    return " OR ".join(f'"{w}"' for w in seen)


def _epoch_seconds(times: list[str]) -> npt.NDArray[np.float64]:
    stamps = np.array([t.rstrip("Z") for t in times], dtype="datetime64[s]")
    return stamps.astype(np.int64).astype(np.float64)


class DenseIndex:
    """Every article's unit vector in one growable float16 matrix; a query is one
    matrix-vector product.

    Measured in bench/: a product over pre-normalised rows beats sklearn's
    NearestNeighbors(metric="cosine"), which re-normalises the matrix per query; and torch's
    half-precision product reads half the memory of numpy's float32 one (about 3x faster at
    100k rows on 2 cores; cosine error below 1e-4, as stored vectors are float16 anyway).
    """

    def __init__(self) -> None:
        self._matrix: npt.NDArray[np.float16] = np.zeros((0, DIM), dtype=np.float16)
        self._ids = np.zeros(0, dtype=np.int64)
        self._stories = np.zeros(0, dtype=np.int64)
        self._times = np.zeros(0, dtype=np.float64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def max_id(self) -> int:
        """The highest article id held (0 when empty)."""
        return int(self._ids[self._size - 1]) if self._size else 0

    def add(self, rows: VectorRows) -> None:
        """Append rows; ids must be above max_id."""
        if not rows.ids:
            return
        self.add_arrays(
            np.asarray(rows.ids, dtype=np.int64),
            np.asarray(rows.story_ids, dtype=np.int64),
            _epoch_seconds(rows.times),
            from_blobs(rows.blobs),
        )

    def add_arrays(
        self,
        ids: npt.NDArray[np.int64],
        stories: npt.NDArray[np.int64],
        times: npt.NDArray[np.float64],
        vectors: Vectors,
    ) -> None:
        """Append rows given as arrays (ids ascending, above max_id)."""
        n = len(ids)
        need = self._size + n
        if need > len(self._ids):
            capacity = max(need, 2 * len(self._ids), 1024)
            self._matrix = _grow(self._matrix, capacity)
            self._ids = _grow(self._ids, capacity)
            self._stories = _grow(self._stories, capacity)
            self._times = _grow(self._times, capacity)
        end = self._size + n
        self._matrix[self._size : end] = vectors
        self._ids[self._size : end] = ids
        self._stories[self._size : end] = stories
        self._times[self._size : end] = times
        self._size = end

    def similarities(self, query: Vectors) -> npt.NDArray[np.float32]:
        """Cosine similarity of a unit query vector to every row."""
        import torch  # the model has loaded it already; importing here keeps imports light

        matrix = torch.from_numpy(self._matrix[: self._size])
        vector = torch.from_numpy(np.ascontiguousarray(query, dtype=np.float16))
        result: npt.NDArray[np.float32] = torch.mv(matrix, vector).float().numpy()
        return result

    def rows_of(self, article_ids: list[int]) -> npt.NDArray[np.int64]:
        """Row numbers of these article ids (-1 for ids not held)."""
        ids = self._ids[: self._size]
        wanted = np.asarray(article_ids, dtype=np.int64)
        pos = np.searchsorted(ids, wanted)
        pos[pos >= self._size] = 0
        found = ids[pos] == wanted if self._size else np.zeros(len(wanted), dtype=bool)
        return np.where(found, pos, -1)

    def story_of_rows(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The story id of each row."""
        return self._stories[rows]

    def time_of_rows(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The effective time (published, else fetched) of each row, in epoch seconds."""
        return self._times[rows]

    def nearest_stories(
        self, vectors: Vectors, times: npt.NDArray[np.float64], window_s: float, threshold: float
    ) -> list[int | None]:
        """For each vector, the story of the most similar row within the time window, when
        that similarity reaches the threshold."""
        out: list[int | None] = [None] * len(vectors)
        if not self._size or not len(vectors):
            return out
        # A batch product in float16 is slow on CPUs (torch.mm: 8.5 s for 256 x 100k rows);
        # numpy float32 over chunks of rows keeps the temporary copy small and fast.
        batch = np.ascontiguousarray(vectors.T, dtype=np.float32)
        best: dict[int, tuple[float, int]] = {}
        for start in range(0, self._size, DUPLICATE_CHUNK):
            stop = min(start + DUPLICATE_CHUNK, self._size)
            sims = self._matrix[start:stop].astype(np.float32) @ batch  # (rows, batch)
            # Few pairs reach the threshold: check the time window only for those.
            rows, cols = np.nonzero(sims >= threshold)
            inside = np.abs(self._times[start + rows] - times[cols]) <= window_s
            for row, col in zip(rows[inside].tolist(), cols[inside].tolist(), strict=True):
                similarity = float(sims[row, col])
                if col not in best or similarity > best[col][0]:
                    best[col] = (similarity, start + row)
        for col, (_, row) in best.items():
            out[col] = int(self._stories[row])
        return out


def _grow(array: npt.NDArray, capacity: int) -> npt.NDArray:  # type: ignore[type-arg]
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


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
        self._lock = threading.Lock()
        self._data_version: int | None = None

    def sync(self, force: bool = False) -> None:
        """Load rows written since the last sync: by another process (seen through
        PRAGMA data_version) or, with force, by this one."""
        with self._lock:
            version = self.store.data_version()
            if version == self._data_version and not force:
                return
            self.index.add(self.store.vectors_after(self.index.max_id))
            self._data_version = version

    def search(self, query: str) -> list[RankedStory]:
        """Relevant stories, best first; empty when nothing reaches the similarity floor."""
        self.sync()
        match = keyword_query(query)
        # SQLite and torch both release the GIL: bm25 runs while the query is embedded.
        pending = (
            _KEYWORD_POOL.submit(self.store.keyword_search, match, self.tuning.candidates)
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
        index = self.index
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
                keyword_hits = self.store.keyword_search(match, t.candidates) if match else []
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
        return self._stories(fused, sims, set(keyword_rows.tolist()), t)

    def _stories(
        self,
        fused: dict[int, float],
        sims: npt.NDArray[np.float32],
        keyword_rows: set[int],
        t: SearchTuning,
    ) -> list[RankedStory]:
        """Collapse rows into stories (best copy counts), apply the floor, sort."""
        best: dict[int, tuple[float, float, float, bool]] = {}
        rows = np.fromiter(fused, dtype=np.int64, count=len(fused))
        stories = self.index.story_of_rows(rows).tolist()
        times = self.index.time_of_rows(rows).tolist()
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
