"""Polling: fetch each due source (conditional GET), read its items, hand the new ones to the
ingestor, and keep each source's schedule and health.

Per source: a failure is recorded and the poll goes on with the others; the next try backs off
exponentially (a Retry-After that asks for longer wins), and after
BRIEF_POLL_FAILURES_BEFORE_PAUSE failures in a row the source is paused with the reason.

Crash safety: an item's key (guid, else link) is marked seen only after the ingestor stored it,
and the conditional-GET validators (ETag, Last-Modified) are saved only after every item of the
document was handled. A process killed mid-poll fetches the same document again on restart; the
items it had already stored come back as duplicates (canonical URL, content hash), nothing is
lost and nothing is stored twice.

Blocking work (parsing, extraction, summaries, embeddings, SQLite) runs in threads, never on the
event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from knowledge.errors import BriefError, SourceError
from knowledge.ingest import Draft, Outcome
from knowledge.models import Source, SourcePoll
from knowledge.settings import Settings
from knowledge.sources.feeds import FeedItem, parse_feed
from knowledge.sources.fetch import Fetched, Fetcher, FetchLimits
from knowledge.sources.pages import extract_article
from knowledge.sources.probe import fill_full_text
from knowledge.store.db import utcnow
from knowledge.store.protocols import SourceStore

log = logging.getLogger(__name__)

POLL_CONCURRENCY = 4  # sources fetched at once (the fetcher also caps requests per host)
INGEST_CHUNK = 4  # items per ingestor call: small enough that answers interleave with it
YIELD_LIMIT_S = 2.0  # the longest ingestion waits for answers in progress before each batch
SEEN_MEMORY = timedelta(days=30)  # an item key absent from its feed this long is forgotten
MAX_BACKOFF_DOUBLINGS = 16

_SPAWN = multiprocessing.get_context("spawn")  # the ingest worker's, whose memory it shares

IngestFn = Callable[[list[Draft]], list[Outcome]]
KnownUrlsFn = Callable[[Iterable[str]], Collection[str]]


class AnswerGate:
    """Counts answers in progress (the service's ask); ingestion waits between batches while
    one is being answered, so people are answered first and ingestion takes the idle time.

    The count lives in shared memory, so that the ingest worker process (worker.py) sees the
    answers of the process that started it: `AnswerGate(other.shared)` there."""

    def __init__(self, shared: Any = None) -> None:
        self.shared = shared if shared is not None else _SPAWN.RawValue("i", 0)
        self._lock = threading.Lock()

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Hold while answering a query."""
        with self._lock:
            self.shared.value += 1
        try:
            yield
        finally:
            with self._lock:
                self.shared.value -= 1

    @property
    def busy(self) -> bool:
        """True while an answer is in progress."""
        return bool(self.shared.value > 0)

    async def wait_idle(self, limit_s: float = YIELD_LIMIT_S) -> None:
        """Wait (at most `limit_s`) until no answer is in progress."""
        deadline = time.monotonic() + limit_s
        # answers run in other threads (and loops): an asyncio.Event cannot carry the signal
        while self.busy and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)


# --- the schedule (pure) ---------------------------------------------------------------------


def poll_interval(settings: Settings, source: Source, ttl_minutes: int | None = None) -> timedelta:
    """How long after a successful poll the source is due again: its own interval (or
    BRIEF_POLL_INTERVAL_MINUTES), or the feed's <ttl> when that is longer, at most
    BRIEF_POLL_MAX_BACKOFF_HOURS."""
    minutes = float(source.interval_minutes or settings.poll_interval_minutes)
    ttl = ttl_minutes if ttl_minutes is not None else source.ttl_minutes
    if ttl:
        minutes = max(minutes, float(ttl))
    return min(timedelta(minutes=minutes), timedelta(hours=settings.poll_max_backoff_hours))


def retry_delay(
    interval: timedelta, streak: int, retry_after_s: float | None, max_backoff: timedelta
) -> timedelta:
    """How long after the `streak`-th failure in a row to try again: the interval doubled
    for each failure after the first, or the server's Retry-After when that is longer, at most
    `max_backoff`."""
    doublings = min(max(streak, 1) - 1, MAX_BACKOFF_DOUBLINGS)
    delay = interval * (2**doublings)
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, timedelta(seconds=retry_after_s))
    return min(delay, max_backoff)


def should_pause(streak: int, failures_before_pause: int) -> bool:
    """True when this many failures in a row pause a source."""
    return streak >= failures_before_pause


def item_key(item: FeedItem) -> str:
    """What identifies a feed item within its source: its guid, else its link, else a hash of
    its title and text."""
    if item.guid:
        return item.guid[:1000]
    if item.url:
        return item.url[:1000]
    digest = hashlib.sha256(f"{item.title}\n{item.text}".encode()).hexdigest()[:32]
    return f"sha256:{digest}"


def short(delay: timedelta) -> str:
    """A delay as '45 s', '30 min', '2.5 h'."""
    seconds = delay.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h".replace(".0 h", " h")


# --- the poller --------------------------------------------------------------------------------


@dataclass
class _Tally:
    stored: int = 0
    duplicates: int = 0
    linked: int = 0
    rejected: int = 0

    def add(self, status: str) -> None:
        if status == "stored":
            self.stored += 1
        elif status == "linked":
            self.stored += 1
            self.linked += 1
        elif status == "duplicate":
            self.duplicates += 1
        else:
            self.rejected += 1


class Poller:
    """Polls sources: one Fetcher per run, a few sources at once, ingestion one batch at a
    time. Safe to run in any thread's event loop (the service runs it under asyncio.run)."""

    def __init__(
        self,
        settings: Settings,
        sources: SourceStore,
        ingest: IngestFn,
        known_urls: KnownUrlsFn | None = None,
        clock: Callable[[], datetime] = utcnow,
        gate: AnswerGate | None = None,
    ) -> None:
        self.settings = settings
        self.sources = sources
        self.ingest = ingest
        self.known_urls = known_urls
        self.clock = clock
        self.gate = gate or AnswerGate()
        self.chunk = INGEST_CHUNK  # items per ingest call (the ingest worker's are larger)

    def limits(self) -> FetchLimits:
        """The fetch limits from the settings."""
        return FetchLimits.from_settings(self.settings)

    async def poll(self, targets: Sequence[Source]) -> list[SourcePoll]:
        """Poll these sources now; one SourcePoll each, in the same order."""
        if not targets:
            return []
        gate = asyncio.Semaphore(POLL_CONCURRENCY)
        ingest_lock = asyncio.Lock()
        async with Fetcher(self.limits()) as fetcher:
            return list(
                await asyncio.gather(
                    *(self._guarded(fetcher, s, gate, ingest_lock) for s in targets)
                )
            )

    async def _guarded(
        self, fetcher: Fetcher, source: Source, gate: asyncio.Semaphore, lock: asyncio.Lock
    ) -> SourcePoll:
        async with gate:
            try:
                return await self._poll_one(fetcher, source, lock)
            except SourceError as exc:  # fetching or reading: the message says why
                return await self._failed(source, str(exc), exc.retry_after_s)
            except BriefError as exc:  # e.g. the store
                return await self._failed(source, str(exc), None)
            except Exception as exc:  # a bug: keep the traceback, and poll the others
                log.exception("source %d (%s): unexpected error", source.id, source.name)
                return await self._failed(source, f"internal error: {type(exc).__name__}", None)

    async def _poll_one(self, fetcher: Fetcher, source: Source, lock: asyncio.Lock) -> SourcePoll:
        fetched = await fetcher.get(
            source.url, etag=source.etag, last_modified=source.last_modified
        )
        url = source.url
        moved = fetched.permanent_redirect
        if (
            moved
            and moved != source.url
            and await asyncio.to_thread(self.sources.move, source.id, moved)
        ):
            log.info("source %d (%s) moved permanently to %s", source.id, source.name, moved)
            url = moved
        now = self.clock()
        if fetched.not_modified:
            next_at = now + poll_interval(self.settings, source)
            await asyncio.to_thread(
                self.sources.record_not_modified, source.id, when=now, next_poll_at=next_at
            )
            log.info("source %d (%s): not modified", source.id, source.name)
            return SourcePoll(source.id, source.name, url, "not_modified", next_poll_at=next_at)

        await self.gate.wait_idle()  # parsing holds the GIL: answers first
        items, ttl, title = await asyncio.to_thread(_read, source, fetched)
        first: dict[str, FeedItem] = {}
        for item in items:
            first.setdefault(item_key(item), item)
        keyed = list(first.items())
        seen = await asyncio.to_thread(self.sources.seen, source.id, [k for k, _ in keyed])
        new = [(k, i) for k, i in keyed if k not in seen]
        tally = _Tally()
        handled: list[tuple[str, int | None]] = [(k, None) for k, _ in keyed if k in seen]

        if new and self.known_urls is not None:
            # Items whose link is already stored (a feed whose guids change on every fetch)
            # need neither their page fetched nor an embedding.
            urls = [i.url for _, i in new if i.url]
            known: Collection[str] = (
                await asyncio.to_thread(self.known_urls, urls) if urls else set()
            )
            for k, i in new:
                if i.url in known:
                    tally.add("duplicate")
                    handled.append((k, None))
            new = [(k, i) for k, i in new if i.url not in known]

        if new and self.settings.fetch_full_text:
            filled = await fill_full_text(
                fetcher, [i for _, i in new], self.settings.full_text_per_poll
            )
            if len(filled) == len(new):
                new = [(k, f) for (k, _), f in zip(new, filled, strict=True)]

        for start in range(0, len(new), self.chunk):
            chunk = new[start : start + self.chunk]
            outcomes = await self._ingest(source, [i for _, i in chunk], lock)
            done = [(k, article) for (k, _), (_, article) in zip(chunk, outcomes, strict=True)]
            await asyncio.to_thread(self.sources.mark_seen, source.id, done, now)
            for status, _ in outcomes:
                tally.add(status)

        await asyncio.to_thread(self.sources.mark_seen, source.id, handled, now)
        next_at = now + poll_interval(self.settings, source, ttl)
        await asyncio.to_thread(
            self.sources.record_success,
            source.id,
            when=now,
            next_poll_at=next_at,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            ttl_minutes=ttl,
            new_items=tally.stored > 0,
            title=title or None,
        )
        await asyncio.to_thread(self.sources.forget_seen_before, source.id, now - SEEN_MEMORY)
        log.info(
            "source %d (%s): %d items, %d new, stored %d (linked %d), duplicates %d, rejected %d",
            source.id,
            source.name,
            len(keyed),
            len(keyed) - len(seen),
            tally.stored,
            tally.linked,
            tally.duplicates,
            tally.rejected,
        )
        return SourcePoll(
            source.id,
            source.name,
            url,
            "ok",
            items=len(keyed),
            new=len(keyed) - len(seen),
            stored=tally.stored,
            duplicates=tally.duplicates,
            linked=tally.linked,
            rejected=tally.rejected,
            next_poll_at=next_at,
        )

    async def _ingest(
        self, source: Source, items: list[FeedItem], lock: asyncio.Lock
    ) -> list[tuple[str, int | None]]:
        """(status, article id) per item, through the ingestor (in a thread, one batch at a
        time); an item that cannot become a draft is rejected on its own."""
        drafts: list[Draft] = []
        slots: list[int | None] = []  # index into drafts, or None: rejected here
        for item in items:
            try:
                drafts.append(item.to_draft(source.name, source.id))
                slots.append(len(drafts) - 1)
            except BriefError as exc:
                log.info("source %d (%s): item refused: %s", source.id, source.name, exc)
                slots.append(None)
        async with lock:
            await self.gate.wait_idle()  # answers first
            outcomes = await asyncio.to_thread(self.ingest, drafts) if drafts else []
        return [
            ("rejected", None)
            if slot is None
            else (str(outcomes[slot].status), outcomes[slot].article_id)
            for slot in slots
        ]

    async def _failed(self, source: Source, error: str, retry_after_s: float | None) -> SourcePoll:
        now = self.clock()
        streak = source.error_streak + 1
        max_backoff = timedelta(hours=self.settings.poll_max_backoff_hours)
        delay = retry_delay(
            poll_interval(self.settings, source), streak, retry_after_s, max_backoff
        )
        pause = should_pause(streak, self.settings.poll_failures_before_pause)
        reason = f"{streak} failures in a row; the last: {error}" if pause else None
        try:
            await asyncio.to_thread(
                self.sources.record_failure,
                source.id,
                when=now,
                error=error,
                streak=streak,
                next_poll_at=now + delay,
                pause_reason=reason,
            )
        except BriefError as exc:
            log.error("source %d (%s): cannot record the failure: %s", source.id, source.name, exc)
        if pause and not source.paused:
            log.warning(
                "source %d (%s): %s; paused after %d failures in a row",
                source.id,
                source.name,
                error,
                streak,
            )
        else:
            log.warning(
                "source %d (%s): %s; next try in %s", source.id, source.name, error, short(delay)
            )
        return SourcePoll(
            source.id,
            source.name,
            source.url,
            "failed",
            error=error,
            paused=pause and not source.paused,
            next_poll_at=now + delay,
        )


def _read(source: Source, fetched: Fetched) -> tuple[list[FeedItem], int | None, str]:
    """The items of a fetched document (blocking: run it in a thread): a feed's entries, or a
    page's one article. Raises SourceError with the reason when there are none to read."""
    if source.kind == "page":
        article = extract_article(fetched.content, fetched.final_url or source.url)
        if article is None:
            raise SourceError("no article text found on the page")
        item = FeedItem(
            guid=None,  # a page is known by its link
            url=article.url or fetched.final_url,
            title=article.title,
            text=article.text,
            summary_only=False,
            published=article.published,
        )
        return [item], None, article.title
    parsed = parse_feed(
        fetched.content, fetched.final_url or source.url, fetched.content_type, fetched.charset
    )
    return list(parsed.items), parsed.ttl_minutes, parsed.title
