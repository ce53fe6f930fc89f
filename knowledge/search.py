"""Search: dense nearest neighbours + FTS5 bm25 over the question's rarest words give the
candidates; the relevance model (knowledge/relevance.py) ranks them and decides which to show;
near-duplicate stories are collapsed.

`rank()` keeps the previous score fusion and similarity floors for the benchmarks to compare
against; `ask` no longer uses them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from knowledge.embedder import Embedder, Vectors
from knowledge.index import DenseIndex, IndexSnapshot
from knowledge.relevance import (
    Candidates,
    QueryTerms,
    RelevanceModel,
    Stemmer,
    decide,
    features,
    gather,
    model_digest,
    query_terms,
)
from knowledge.store.protocols import StoreBackend
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
SEARCH_THREADS = 4  # bm25 queries run here while the question is embedded
# bm25 runs over the question's rarest words only: OR-ing many common words made FTS5 score
# most of the store (29 ms p50 at 100k articles); the relevance model still sees every word.
KEYWORD_TERMS = 4
JUDGE_COSINE = 0.5  # judging given stories: below it, only keyword matches are scored
DF_REFRESH = 1.05  # document frequencies are re-read once the store grows by 5%
DF_CACHE_TERMS = 200_000


@dataclass(slots=True)
class _DfCache:
    size: int  # articles when the counts were read
    counts: dict[str, int] = field(default_factory=dict)


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
    """The knobs of search (from the settings). `threshold` and `model` (a hash of the model
    file) make up the decision; the rest configure `rank()`, the previous fusion the
    benchmarks compare against."""

    candidates: int = 50
    threshold: float = 0.58  # P(relevant) at which a story is shown (BRIEF_RELEVANCE_THRESHOLD)
    model: str = ""  # the relevance model file's hash (set by Searcher)
    floor: float = 0.35  # a story this similar to the query is relevant on its own
    keyword_floor: float = 0.25  # ...and a keyword match needs at least this much similarity
    fusion: str = "score"  # "score": weighted cosine + min-max bm25; "rrf": reciprocal rank
    dense_weight: float = 0.3
    keyword_weight: float = 0.7
    rrf_k: int = 60


class Searcher:
    """Keeps the dense index in step with the store and answers ranked story lists."""

    def __init__(
        self,
        store: StoreBackend,
        embedder: Embedder,
        tuning: SearchTuning,
        model: RelevanceModel | None = None,
        index: DenseIndex | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.model = model or RelevanceModel.load()
        self.tuning = replace(tuning, model=tuning.model or model_digest())
        self.stemmer = Stemmer()
        self.index = index if index is not None else DenseIndex()
        self._sizes: tuple[IndexSnapshot | None, dict[int, int]] = (None, {})
        self._df_cache = _DfCache(0)
        self._sync_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    def sync(self) -> None:
        """Load the rows stored, removed or changed since the last sync (by this process or
        another one); the first sync loads the saved index or reads the store."""
        with self._sync_lock:
            self.index.sync(self.store.articles)

    def _threads(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._closed:
                raise RuntimeError("the searcher is closed")
            if self._pool is None:
                self._pool = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="search")
            return self._pool

    def close(self) -> None:
        """Stop the search threads."""
        with self._pool_lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self.index.close()

    def search(self, query: str) -> list[RankedStory]:
        """Relevant stories, most probably relevant first; empty when none reaches the
        threshold ("nothing on that yet")."""
        self.sync()
        index = self.index.snapshot()
        terms = self.terms(query, index)
        match = terms.match(KEYWORD_TERMS)
        # SQLite releases the GIL, and so do torch and numpy's product: bm25 runs in a thread
        # while the query is embedded and compared with every stored vector.
        pending = (
            self._threads().submit(
                self.store.articles.keyword_search, match, self.tuning.candidates
            )
            if match
            else None
        )
        vector = self.embedder.encode_one(query)
        sims, dense_rows = self._dense(index, vector)
        keyword_hits = pending.result() if pending else []
        cands = self._gather(index, vector, sims, dense_rows, keyword_hits)
        return self.decide(terms, cands)

    def relevant(self, query: str, story_ids: Collection[int] | None = None) -> dict[int, float]:
        """Story id -> P(relevant) for the stories that reach the threshold, best first: with
        `story_ids`, exactly those stories are judged (unknown ids are ignored); without, the
        stories `search` answers."""
        self.sync()
        if story_ids is None:
            return {r.story_id: r.score for r in self.search(query)}
        index = self.index.snapshot()
        wanted = np.fromiter((int(s) for s in story_ids), dtype=np.int64)
        rows = index.live_rows(np.nonzero(np.isin(index.stories, wanted))[0].astype(np.int64))
        if not len(rows):
            return {}
        vector = self.embedder.encode_one(query)
        terms, store_wide = self.candidates(query, vector, index=index)
        global_rank = {
            int(s): float(r)
            for s, r in zip(store_wide.story_ids, store_wide.keyword_rank, strict=True)
            if r >= 0
        }
        match = terms.match(KEYWORD_TERMS)
        # every match in the store, then only the stories asked about (restricting inside
        # SQLite made FTS5 re-run the query once per id: seconds for a few thousand)
        wanted_articles = set(index.ids[rows].tolist())
        hits = [
            (article_id, bm25)
            for article_id, bm25 in (
                self.store.articles.keyword_search(match, len(index)) if match else []
            )
            if article_id in wanted_articles
        ]
        sims = index.similarities(vector, exact=False)
        hit_rows = index.rows_of([a for a, _ in hits])
        found = hit_rows >= 0
        index.refine(sims, np.concatenate([rows, hit_rows[found]]), vector)
        if sum(d > 0 for d in terms.df) <= KEYWORD_TERMS:
            # A story with none of the question's words has no term share at all, and the
            # model then wants a cosine far above JUDGE_COSINE (0.95 with the shipped one):
            # score only stories with a keyword match or that close in meaning.
            rows = rows[sims[rows] >= JUDGE_COSINE]
        cands = gather(
            sims,
            index.stories,
            index.times,
            index.ids,
            rows,
            hit_rows[found],
            np.array([b for _, b in hits], dtype=np.float64)[found],
            self._story_sizes(index),
            self.store.articles.texts,
        )
        # a story's keyword rank is its rank in the whole store, as `search` sees it
        cap = float(self.tuning.candidates)
        cands.keyword_rank = np.array(
            [
                global_rank.get(int(s), cap if r >= 0 else -1.0)
                for s, r in zip(cands.story_ids, cands.keyword_rank, strict=True)
            ],
            dtype=np.float64,
        )
        cands.top_cosine = max(cands.top_cosine, store_wide.top_cosine)
        cands.top_bm25 = min(cands.top_bm25, store_wide.top_bm25)
        return {r.story_id: r.score for r in self.decide(terms, cands)}

    def terms(self, query: str, index: IndexSnapshot | None = None) -> QueryTerms:
        """The query's words with their stems and document frequencies in the store."""
        size = max(len(index if index is not None else self.index.snapshot()), 1)
        return query_terms(query, self.stemmer, lambda s: self._frequencies(s, size), size)

    def _frequencies(self, stems: Sequence[str], size: int) -> dict[str, int]:
        """Document frequencies, cached until the store has grown by DF_REFRESH: FTS5's
        vocabulary table counts a term's documents by reading its whole posting list, and an
        IDF weight hardly moves with a few percent more articles."""
        cache = self._df_cache
        if cache.size == 0 or size > cache.size * DF_REFRESH or size < cache.size:
            cache = self._df_cache = _DfCache(size)
        missing = [s for s in stems if s not in cache.counts]
        if missing:
            found = self.store.articles.document_frequencies(missing)
            if len(cache.counts) > DF_CACHE_TERMS:
                cache.counts.clear()
            for stem in missing:
                cache.counts[stem] = found.get(stem, 0)
        return {s: cache.counts[s] for s in stems if cache.counts.get(s)}

    def candidates(
        self,
        query: str,
        vector: Vectors,
        keyword_hits: KeywordHits | None = None,
        terms: QueryTerms | None = None,
        index: IndexSnapshot | None = None,
    ) -> tuple[QueryTerms, Candidates]:
        """The query's candidate stories (dense top rows and bm25 hits) with their signals;
        bm25 runs here unless `keyword_hits` are given."""
        index = index if index is not None else self.index.snapshot()
        terms = terms if terms is not None else self.terms(query, index)
        if keyword_hits is None:
            match = terms.match(KEYWORD_TERMS)
            keyword_hits = (
                self.store.articles.keyword_search(match, self.tuning.candidates) if match else []
            )
        sims, dense_rows = self._dense(index, vector)
        return terms, self._gather(index, vector, sims, dense_rows, keyword_hits)

    def _dense(
        self, index: IndexSnapshot, vector: Vectors
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Row cosines to the query (exact at the rows kept; knowledge/index.py), and the top
        `candidates` rows, best first."""
        return index.nearest(vector, self.tuning.candidates)

    def _gather(
        self,
        index: IndexSnapshot,
        vector: Vectors,
        sims: npt.NDArray[np.float32],
        dense_rows: npt.NDArray[np.int64],
        keyword_hits: KeywordHits,
    ) -> Candidates:
        """The candidate rows collapsed into stories, with their signals (exact cosines)."""
        rows = index.rows_of([article_id for article_id, _ in keyword_hits])
        found = rows >= 0
        bm25 = np.array([b for _, b in keyword_hits], dtype=np.float64)[found]
        if index.approximate:
            index.refine(sims, rows[found], vector)
        return gather(
            sims,
            index.stories,
            index.times,
            index.ids,
            dense_rows,
            rows[found],
            bm25,
            self._story_sizes(index),
            self.store.articles.texts,
        )

    def decide(self, terms: QueryTerms, cands: Candidates) -> list[RankedStory]:
        """The candidates the model finds relevant, most probable first."""
        x = features(terms, cands, self.stemmer, self.tuning.candidates)
        probability = self.model.probability(x)
        return [
            RankedStory(story, round(p, 6), similarity)
            for story, p, similarity in decide(probability, cands, self.tuning.threshold)
        ]

    def _story_sizes(
        self, index: IndexSnapshot
    ) -> Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]]:
        """Articles per story for this snapshot (counted once per snapshot)."""
        held, sizes = self._sizes
        if held is not index:
            stories, counts = np.unique(index.stories, return_counts=True)
            sizes = dict(zip(stories.tolist(), counts.tolist(), strict=True))
            self._sizes = (index, sizes)

        def size_of(story_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
            return np.array([sizes.get(int(s), 1) for s in story_ids.tolist()], dtype=np.float64)

        return size_of

    def rank(
        self,
        query: str,
        vector: Vectors,
        mode: str = "hybrid",
        keyword_hits: KeywordHits | None = None,
        tuning: SearchTuning | None = None,
    ) -> list[RankedStory]:
        """The previous ranking, kept for the benchmarks: mode hybrid (score or RRF fusion
        with the similarity floors), dense or keyword. `keyword_hits` are the bm25 results
        when the caller has them."""
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
