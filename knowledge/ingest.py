"""The ingestion pipeline: drafts from any source (a JSONL import, a feed, a page) →
duplicate checks → summary → embedding → story linking → the store, with one outcome per item.

A draft is a duplicate when its canonical URL is stored (without a URL: the same outlet and
text). A new draft joins an earlier story when it has the same text, or when its embedding is
within `duplicate_similarity` of a story's within `duplicate_window_days`. One bad item is
rejected with its reason; the rest of its batch is stored.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from knowledge.embedder import Embedder, Vectors, from_blobs, to_blob
from knowledge.errors import StoreError, StoreReadOnlyError
from knowledge.search import Searcher
from knowledge.store import NewArticle, utcnow
from knowledge.store.protocols import StoreBackend
from knowledge.text import content_hash, summarise

log = logging.getLogger(__name__)

BATCH = 256  # drafts per transaction; the model sorts them by length
FALLBACK_SUMMARY_CHARS = 300


@dataclass(frozen=True, slots=True)
class Draft:
    """An article as a source gave it, cleaned, before summarising and embedding."""

    url: str | None  # canonical http(s) URL, or None
    title: str
    text: str
    source: str  # the outlet's name
    published: datetime | None
    source_id: int | None = None  # the polled source it came from
    guid: str | None = None  # the feed's id for the item


class Status(enum.StrEnum):
    """What happened to a draft."""

    STORED = "stored"  # a new story
    LINKED = "linked"  # stored, as another outlet's copy of an earlier story
    DUPLICATE = "duplicate"  # already stored: nothing changed
    REJECTED = "rejected"  # not stored: see the reason


@dataclass(frozen=True, slots=True)
class Outcome:
    """One draft's fate."""

    draft: Draft
    status: Status
    article_id: int | None = None  # the article stored, or the one already there
    reason: str = ""  # why it was rejected


@dataclass(frozen=True, slots=True)
class IngestTuning:
    """The knobs of ingestion (from the settings)."""

    summary_max_sentences: int = 4
    summary_max_chars: int = 600
    duplicate_similarity: float = 0.90
    duplicate_window_days: int = 3


@dataclass(slots=True)
class _Fresh:
    """A draft that passed the duplicate checks, with what storing it needs."""

    index: int  # position in the batch
    digest: str
    summary: str
    when: datetime
    blob: bytes = b""
    story: int | tuple[str, int] | None = None  # a stored story, or ("batch", j) for fresh[j]


def not_unicode(draft: Draft) -> str | None:
    """Why `draft` cannot be stored as text, or None: a lone surrogate (from a JSON escape such
    as "\\ud800") is not a character and has no UTF-8 form, so no store can hold it."""
    fields = {
        "title": draft.title,
        "text": draft.text,
        "source": draft.source,
        "url": draft.url,
        "guid": draft.guid,
    }
    for name, value in fields.items():
        if value is None:
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(value[exc.start])
            return (
                f"{name} holds a lone surrogate (U+{code:04X} at character {exc.start + 1}), "
                "which is not valid Unicode text"
            )
    return None


class Ingestor:
    """Turns drafts into stored articles, one batch at a time; thread-safe (one ingest runs at
    a time, queries go on meanwhile)."""

    def __init__(
        self, store: StoreBackend, embedder: Embedder, searcher: Searcher, tuning: IngestTuning
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.searcher = searcher
        self.tuning = tuning
        self._lock = threading.Lock()

    def ingest(self, drafts: Sequence[Draft]) -> list[Outcome]:
        """Store what is new; one outcome per draft, in order."""
        out: list[Outcome | None] = [None] * len(drafts)
        valid: list[int] = []
        for i, draft in enumerate(drafts):
            problem = not_unicode(draft)
            if problem:
                out[i] = Outcome(draft, Status.REJECTED, reason=problem)
            else:
                valid.append(i)
        with self._lock:
            for start in range(0, len(valid), BATCH):
                chunk = valid[start : start + BATCH]
                for i, outcome in zip(chunk, self._batch([drafts[i] for i in chunk]), strict=True):
                    out[i] = outcome
        return [o for o in out if o is not None]

    def _batch(self, drafts: list[Draft]) -> list[Outcome]:
        now = utcnow()
        out: list[Outcome | None] = [None] * len(drafts)
        digests = [content_hash(f"{d.title}\n{d.text}") for d in drafts]
        articles = self.store.articles
        known = articles.known_urls(d.url for d in drafts if d.url)
        known_unlinked = articles.known_unlinked(
            (d.source, h) for d, h in zip(drafts, digests, strict=True) if not d.url
        )
        fresh: list[_Fresh] = []
        first_of_key: dict[object, int] = {}  # key → index of the first draft with it here
        for i, (draft, digest) in enumerate(zip(drafts, digests, strict=True)):
            key: object = draft.url or (draft.source, digest)
            if not draft.title.strip() or not draft.text.strip():
                out[i] = Outcome(draft, Status.REJECTED, reason="missing title or text")
                continue
            stored_id = (
                known.get(draft.url) if draft.url else known_unlinked.get((draft.source, digest))
            )
            if stored_id is not None:
                out[i] = Outcome(draft, Status.DUPLICATE, article_id=stored_id)
                continue
            if key in first_of_key:
                continue  # a repeat within the batch: settled once the first is stored
            first_of_key[key] = i
            try:
                summary = summarise(
                    draft.text,
                    draft.title,
                    max_sentences=self.tuning.summary_max_sentences,
                    max_chars=self.tuning.summary_max_chars,
                )
            except Exception as exc:  # one bad text never loses its batch
                log.warning("cannot summarise %r: %r", draft.title[:80], exc)
                out[i] = Outcome(draft, Status.REJECTED, reason=f"cannot summarise: {exc}")
                continue
            summary = summary or draft.text[:FALLBACK_SUMMARY_CHARS]
            fresh.append(_Fresh(i, digest, summary, draft.published or now))

        fresh = self._embed(drafts, fresh, out)
        if fresh:
            self._link(fresh)
            ids = self._insert(drafts, fresh, now, out)
            self.searcher.sync()
            for item in fresh:
                if out[item.index] is None:
                    status = Status.STORED if item.story is None else Status.LINKED
                    out[item.index] = Outcome(
                        drafts[item.index], status, article_id=ids.get(item.index)
                    )
        for i, draft in enumerate(drafts):  # repeats within the batch point at the first
            if out[i] is None:
                key = draft.url or (draft.source, digests[i])
                first = out[first_of_key[key]]
                article_id = first.article_id if first else None
                out[i] = Outcome(draft, Status.DUPLICATE, article_id=article_id)
        return [o for o in out if o is not None]

    def _embed(
        self, drafts: list[Draft], fresh: list[_Fresh], out: list[Outcome | None]
    ) -> list[_Fresh]:
        """Embed title + summary; when the batch fails, each text alone, rejecting the bad."""
        texts = [f"{drafts[f.index].title}. {f.summary}" for f in fresh]
        try:
            vectors = self.embedder.encode(texts)
        except Exception as exc:  # find the one text that fails
            log.warning("batch embedding failed (%r); embedding one at a time", exc)
            kept: list[_Fresh] = []
            for item, text in zip(fresh, texts, strict=True):
                try:
                    item.blob = to_blob(self.embedder.encode([text])[0])
                    kept.append(item)
                except Exception as one:
                    reason = f"cannot embed: {one}"
                    out[item.index] = Outcome(drafts[item.index], Status.REJECTED, reason=reason)
            return kept
        for item, vector in zip(fresh, vectors, strict=True):
            item.blob = to_blob(vector)
        return fresh

    def _link(self, fresh: list[_Fresh]) -> None:
        """Find each fresh item's story: the same text stored, a near-duplicate within the
        window, or an earlier item of this batch."""
        vectors: Vectors = from_blobs([f.blob for f in fresh])  # decide on what is stored
        times = np.array([f.when.timestamp() for f in fresh], dtype=np.float64)
        window = self.tuning.duplicate_window_days * 86400.0
        threshold = self.tuning.duplicate_similarity
        self.searcher.sync()
        by_hash = self.store.articles.first_with_hash(f.digest for f in fresh)
        near = self.searcher.index.snapshot().nearest_stories(vectors, times, window, threshold)
        for i, item in enumerate(fresh):
            found: int | tuple[str, int] | None = by_hash.get(item.digest, near[i])
            if found is None:
                for j in range(i):
                    if fresh[j].story is not None:
                        continue
                    same_text = fresh[j].digest == item.digest
                    close = abs(times[j] - times[i]) <= window and (
                        float(vectors[j] @ vectors[i]) >= threshold
                    )
                    if same_text or close:
                        found = ("batch", j)
                        break
            item.story = found

    def _insert(
        self, drafts: list[Draft], fresh: list[_Fresh], now: datetime, out: list[Outcome | None]
    ) -> dict[int, int]:
        """Insert the stories' first articles, then the copies that join them; returns the
        article id of each stored batch index. Marks races and refusals in `out`."""
        ids: dict[int, int] = {}

        def article(item: _Fresh, story_id: int | None) -> NewArticle:
            d = drafts[item.index]
            return NewArticle(
                url=d.url,
                title=d.title,
                source=d.source,
                published=d.published,
                fetched=now,
                text=d.text,
                summary=item.summary,
                content_hash=item.digest,
                embedding=item.blob,
                story_id=story_id,
                source_id=d.source_id,
            )

        firsts = [(f, article(f, f.story)) for f in fresh if not isinstance(f.story, tuple)]
        self._store(firsts, drafts, ids, out)
        later: list[tuple[_Fresh, NewArticle]] = []
        for f in fresh:
            if isinstance(f.story, tuple):
                leader = fresh[f.story[1]]
                if leader.index not in ids:  # its story's first copy was not stored
                    f.story = None
                later.append((f, article(f, ids.get(leader.index))))
        self._store(later, drafts, ids, out)
        return ids

    def _store(
        self,
        pairs: list[tuple[_Fresh, NewArticle]],
        drafts: list[Draft],
        ids: dict[int, int],
        out: list[Outcome | None],
    ) -> None:
        if not pairs:
            return
        results: Sequence[int | Exception | None]
        try:
            results = self.store.articles.insert([a for _, a in pairs])
        except StoreReadOnlyError:
            raise  # not a bad item: nothing can be written
        except StoreError as exc:
            log.warning("batch insert failed (%s); inserting one at a time", exc)
            results = self.store.articles.insert_each([a for _, a in pairs])
        for (item, _), result in zip(pairs, results, strict=True):
            draft = drafts[item.index]
            if isinstance(result, Exception):
                out[item.index] = Outcome(draft, Status.REJECTED, reason=str(result))
            elif result is None:  # another writer stored it first
                out[item.index] = Outcome(draft, Status.DUPLICATE)
            else:
                ids[item.index] = result
