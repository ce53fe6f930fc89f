"""The learned decision: how relevant each candidate story is to a query, and whether to show it.

A logistic regression over signals search already has (cosine and its gap to the best
candidate, bm25 relative to the best keyword hit and its rank, the IDF-weighted share of the
query's words found in the story's title and text, the share of the query the store has
never seen, story size) gives a calibrated probability. Stories at or above the threshold are
shown, best first; none at all is "nothing on that yet". The coefficients live in
relevance_model.json beside this file (plain JSON, no pickle); bench/train_relevance.py fits
them on the dev half of the questions (bench/relevance_questions.json and
bench/answer_questions.json) over the dev half of the shared corpus.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from knowledge.text import query_words

MODEL_FILE = Path(__file__).with_name("relevance_model.json")

PRIOR_DOCUMENTS = 1000

FEATURES: tuple[str, ...] = (
    "cosine",  # cosine similarity of the query and the story's best article
    "cosine_gap",  # best cosine among this query's candidates minus this one
    "keyword_hit",  # 1 when bm25 found the story
    "bm25_ratio",  # bm25 / the best bm25 of the query (0..1; 0 when no keyword hit)
    "keyword_rank",  # log(1 + bm25 rank), capped at the candidate count
    "term_share",  # IDF-weighted share of the query's words in the title or text
    "title_share",  # the same, title only
    "unknown_share",  # IDF-weighted share of the query's words the store has never seen
    "query_terms",  # log(1 + number of content words in the query)
    "story_size",  # log(1 + articles in the story)
    "cosine_x_short",  # cosine for a one- or two-word query (short queries sit lower)
)


class Stemmer:
    """Porter stems exactly as the FTS5 index makes them: an in-memory FTS5 table with the
    same tokenizer does the work; stems are cached (the vocabulary is bounded)."""

    def __init__(self, tokenizer: str = "porter unicode61 remove_diacritics 2") -> None:
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._conn.execute(f"CREATE VIRTUAL TABLE words USING fts5(w, tokenize = '{tokenizer}')")
        self._conn.execute("CREATE VIRTUAL TABLE words_v USING fts5vocab(words, 'instance')")
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def stems(self, words: Iterable[str]) -> dict[str, str]:
        """Each word's stem ('' for a word the tokenizer drops)."""
        wanted = set(words)
        missing = [w for w in wanted if w not in self._cache]
        if missing:
            with self._lock:
                self._conn.execute("DELETE FROM words")
                self._conn.executemany(
                    "INSERT INTO words(rowid, w) VALUES (?, ?)", list(enumerate(missing))
                )
                found: dict[int, str] = {}
                for doc, term in self._conn.execute(
                    "SELECT doc, term FROM words_v WHERE offset = 0"
                ):
                    found[int(doc)] = str(term)
                if len(self._cache) > 500_000:
                    self._cache.clear()
                for i, word in enumerate(missing):
                    self._cache[word] = found.get(i, "")
        return {w: self._cache[w] for w in wanted}


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """A query's content words with their FTS5 stems, document frequencies and IDF weights."""

    words: tuple[str, ...]
    stems: tuple[str, ...]
    df: tuple[int, ...]
    idf: tuple[float, ...]
    documents: int = PRIOR_DOCUMENTS  # articles in the store when the counts were read

    @property
    def weights(self) -> tuple[float, ...]:
        """Each word's weight: its IDF, scaled down for a word no stored article contains
        when the store holds fewer than PRIOR_DOCUMENTS articles: in a small store a word never
        seen says little (the model was fitted on a store of 7,000, where the scale is 1)."""
        scale = min(1.0, self.documents / PRIOR_DOCUMENTS)
        return tuple(w if d else w * scale for w, d in zip(self.idf, self.df, strict=True))

    @property
    def total_idf(self) -> float:
        """The weight of the whole query."""
        return float(sum(self.weights))

    @property
    def unknown_share(self) -> float:
        """Weighted share of words that no stored article contains."""
        total = self.total_idf
        unknown = sum(w for w, d in zip(self.weights, self.df, strict=True) if d == 0)
        return unknown / total if total else 0.0

    def match(self, max_terms: int) -> str:
        """An FTS5 MATCH expression over the rarest `max_terms` words the store holds (OR-ed:
        bm25 ranks them); '' when it holds none. Dropping common words keeps bm25 fast on long
        questions and hardly changes its order."""
        known = [(d, i) for i, d in enumerate(self.df) if d > 0]
        kept = sorted(i for _, i in sorted(known)[:max_terms])
        # the words as typed: FTS5 stems them exactly as it stemmed the index
        return " OR ".join(f'"{self.words[i]}"' for i in kept)


def query_terms(
    text: str,
    stemmer: Stemmer,
    document_frequencies: Callable[[Sequence[str]], dict[str, int]],
    n_documents: int,
) -> QueryTerms:
    """The query's content words (text.query_words: the words keyword search uses), stemmed,
    with their document frequencies from the index (`document_frequencies` maps stems to
    counts)."""
    words = query_words(text)
    stem_of = stemmer.stems(words)
    kept = [(w, stem_of[w]) for w in words if stem_of[w]]
    stems = [s for _, s in kept]
    counts = document_frequencies(sorted(set(stems))) if stems else {}
    df = [int(counts.get(s, 0)) for s in stems]
    # PRIOR_DOCUMENTS smooths the weights: in a store of a few articles most words are
    # "never seen", which says little; in a store of thousands it says a lot.
    idf = [math.log((n_documents + PRIOR_DOCUMENTS) / (d + 0.5)) for d in df]
    return QueryTerms(tuple(w for w, _ in kept), tuple(stems), tuple(df), tuple(idf), n_documents)


@dataclass(slots=True)
class Candidates:
    """One query's candidate stories with the raw signals for each (parallel arrays)."""

    story_ids: npt.NDArray[np.int64]
    cosine: npt.NDArray[np.float64]
    bm25: npt.NDArray[np.float64]  # FTS5 bm25 (negative, lower is better); 0 when no hit
    keyword_rank: npt.NDArray[np.float64]  # 0-based rank among keyword hits; -1 when no hit
    story_size: npt.NDArray[np.float64]
    in_dense: npt.NDArray[np.bool_]  # among the dense top rows
    texts: list[tuple[str, str]] = field(default_factory=list)  # (title, text)
    times: npt.NDArray[np.float64] | None = None  # epoch seconds, to break ties
    # the query's best cosine and best bm25 over the whole store's candidates: the yardsticks
    # for cosine_gap and bm25_ratio (judging a given set of stories keeps the store's ones)
    top_cosine: float = 0.0
    top_bm25: float = 0.0

    def __len__(self) -> int:
        return len(self.story_ids)


def features(terms: QueryTerms, cands: Candidates, stemmer: Stemmer, cap: int) -> npt.NDArray:  # type: ignore[type-arg]
    """The model's input: one row per candidate, columns as in FEATURES."""
    n = len(cands)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if not n:
        return out
    cosine = cands.cosine
    hit = cands.keyword_rank >= 0
    best_bm25 = min(cands.top_bm25, float(cands.bm25[hit].min()) if hit.any() else 0.0)
    out[:, 0] = cosine
    out[:, 1] = max(cands.top_cosine, float(cosine.max())) - cosine
    out[:, 2] = hit
    out[:, 3] = np.where(hit, cands.bm25 / best_bm25, 0.0) if best_bm25 < 0 else 0.0
    out[:, 4] = np.log1p(np.where(hit, np.minimum(cands.keyword_rank, cap), cap))
    total = terms.total_idf
    if total > 0 and terms.stems:
        weight = dict(zip(terms.stems, terms.weights, strict=True))
        rx = _prefix_pattern(terms.stems)
        title_words = [set(rx.findall(t.lower())) for t, _ in cands.texts]
        body_words = [set(rx.findall(b.lower())) for _, b in cands.texts]
        stem_of = stemmer.stems(set().union(*title_words, *body_words))
        for i in range(n):
            in_title = {stem_of[w] for w in title_words[i]} & weight.keys()
            in_any = in_title | ({stem_of[w] for w in body_words[i]} & weight.keys())
            out[i, 5] = sum(weight[s] for s in in_any) / total
            out[i, 6] = sum(weight[s] for s in in_title) / total
    out[:, 7] = terms.unknown_share
    out[:, 8] = math.log1p(len(terms.words))
    out[:, 9] = np.log1p(cands.story_size)
    out[:, 10] = cosine if len(terms.words) <= 2 else 0.0
    return out


def _prefix_pattern(stems: Sequence[str]) -> re.Pattern[str]:
    """Whole tokens that start like one of the stems (a Porter stem may end differently from
    its words: "countri" for "country"); only these few tokens need stemming to compare."""
    heads = sorted({s if len(s) <= 3 else s[: max(3, len(s) - 2)] for s in stems})
    alternatives = "|".join(re.escape(h) for h in heads)
    return re.compile(rf"(?<![^\W_])(?:{alternatives})[^\W_]*")


@dataclass(frozen=True)
class RelevanceModel:
    """A fitted logistic regression over standardised FEATURES. The threshold at which a story
    is shown is a setting (BRIEF_RELEVANCE_THRESHOLD), not part of the file."""

    features: tuple[str, ...]
    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    coef: npt.NDArray[np.float64]
    intercept: float

    def probability(self, x: npt.NDArray) -> npt.NDArray[np.float64]:  # type: ignore[type-arg]
        """P(relevant) for each row of a feature matrix."""
        if not len(x):
            return np.zeros(0, dtype=np.float64)
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
        return result

    def to_json(self) -> str:
        """The model as JSON (what relevance_model.json holds: every key is read back)."""
        return json.dumps(
            {
                "features": list(self.features),
                "mean": [round(float(v), 8) for v in self.mean],
                "scale": [round(float(v), 8) for v in self.scale],
                "coef": [round(float(v), 8) for v in self.coef],
                "intercept": round(float(self.intercept), 8),
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> RelevanceModel:
        """Parse a model written by to_json; its features must be this code's FEATURES, and a
        key this code does not read is an error (a file says only what is used)."""
        data = json.loads(text)
        unread = set(data) - set(MODEL_KEYS)
        if unread:
            raise ValueError(f"relevance model has keys nothing reads: {sorted(unread)}")
        names = tuple(data["features"])
        if names != FEATURES:
            raise ValueError(f"relevance model features {names} do not match {FEATURES}")
        arrays = {k: np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")}
        if any(a.shape != (len(FEATURES),) for a in arrays.values()):
            raise ValueError("relevance model arrays do not match its features")
        return cls(
            names, arrays["mean"], arrays["scale"], arrays["coef"], float(data["intercept"])
        )

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> RelevanceModel:
        """The shipped model (or another file)."""
        return cls.from_json(path.read_text(encoding="utf-8"))


MODEL_KEYS = ("features", "mean", "scale", "coef", "intercept")


def model_digest(path: Path = MODEL_FILE) -> str:
    """A short hash of the model file, part of the decision's signature."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def gather(
    sims: npt.NDArray[np.float32],
    row_stories: npt.NDArray[np.int64],
    row_times: npt.NDArray[np.float64],
    row_ids: npt.NDArray[np.int64],
    dense_rows: npt.NDArray[np.int64],
    keyword_rows: npt.NDArray[np.int64],
    keyword_bm25: npt.NDArray[np.float64],
    story_sizes: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]],
    texts_of: Callable[[list[int]], dict[int, tuple[str, str]]],
) -> Candidates:
    """Collapse candidate rows (dense top rows and keyword hits, in bm25 order) into stories:
    a story's best copy counts for each signal; its title and summary are those of its copy
    most similar to the query."""
    best: dict[int, list[float]] = {}  # story -> [cosine, bm25, rank, time, row, in dense]
    for row in dense_rows.tolist():
        story = int(row_stories[row])
        cos = float(sims[row])
        old = best.get(story)
        if old is None:
            best[story] = [cos, 0.0, -1.0, float(row_times[row]), float(row), 1.0]
        elif cos > old[0]:
            old[0], old[4] = cos, float(row)
    for rank, (row, bm25) in enumerate(
        zip(keyword_rows.tolist(), keyword_bm25.tolist(), strict=True)
    ):
        story = int(row_stories[row])
        cos = float(sims[row])
        old = best.get(story)
        if old is None:
            best[story] = [cos, bm25, float(rank), float(row_times[row]), float(row), 0.0]
            continue
        if old[2] < 0:
            old[1], old[2] = bm25, float(rank)
        if cos > old[0]:
            old[0], old[4] = cos, float(row)
        old[3] = max(old[3], float(row_times[row]))
    stories = np.fromiter(best, dtype=np.int64, count=len(best))
    values = np.array(list(best.values()), dtype=np.float64).reshape(len(best), 6)
    article_ids = [int(row_ids[int(r)]) for r in values[:, 4]]
    texts = texts_of(article_ids) if article_ids else {}
    hit = values[:, 2] >= 0
    return Candidates(
        story_ids=stories,
        cosine=values[:, 0],
        bm25=values[:, 1],
        keyword_rank=values[:, 2],
        story_size=story_sizes(stories),
        in_dense=values[:, 5] > 0,
        texts=[texts.get(a, ("", "")) for a in article_ids],
        times=values[:, 3],
        top_cosine=float(values[:, 0].max()) if len(values) else 0.0,
        top_bm25=float(values[hit, 1].min()) if hit.any() else 0.0,
    )


def decide(
    probability: npt.NDArray[np.float64],
    cands: Candidates,
    threshold: float,
    order: npt.NDArray[np.float64] | None = None,
) -> list[tuple[int, float, float]]:
    """(story id, probability, cosine) of the candidates at or above the threshold, highest
    `order` first (default: the probability; newest first on ties)."""
    keep = np.nonzero(probability >= threshold)[0]
    times = cands.times if cands.times is not None else np.zeros(len(cands))
    key = probability if order is None else order
    ranked = sorted(keep.tolist(), key=lambda i: (-round(float(key[i]), 6), -times[i]))
    return [
        (int(cands.story_ids[i]), float(probability[i]), float(cands.cosine[i])) for i in ranked
    ]
