"""Sources as admins see them: add (fetch once first), list, remove, import and export OPML,
poll now or when due, and the pause notices owed to admins. BriefService delegates here.

Every method is synchronous and thread-safe; the async work (fetching) runs in an event loop of
the calling thread, so callers on an event loop use asyncio.to_thread as for every service call.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from knowledge.errors import SourceError
from knowledge.ids import in_range
from knowledge.models import AddedSource, PollReport, Source
from knowledge.settings import Settings
from knowledge.sources.addresses import check_url
from knowledge.sources.fetch import Fetcher
from knowledge.sources.opml import read_opml, write_opml
from knowledge.sources.poll import AnswerGate, IngestFn, KnownUrlsFn, Poller
from knowledge.sources.probe import Probe, probe
from knowledge.store.db import utcnow
from knowledge.store.protocols import SourceStore
from knowledge.urls import host_of, is_web_url

log = logging.getLogger(__name__)

FEED_KINDS = {
    "rss": "RSS feed",
    "atom": "Atom feed",
    "json": "JSON Feed",
    "rdf": "RSS 1.0 (RDF) feed",
}
MAX_TITLE_CHARS = 200


@dataclass(frozen=True, slots=True)
class OpmlImport:
    """What importing an OPML file did."""

    added: tuple[str, ...] = ()
    already: tuple[str, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()  # (url, reason)


def found_label(kind: str, feed_kind: str | None) -> str:
    """How an admin is told what a URL turned out to be."""
    if kind == "page":
        return "article page"
    return FEED_KINDS.get(feed_kind or "", "feed")


class SourceManager:
    """The sources side of the service."""

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
        self.clock = clock
        self.poller = Poller(settings, sources, ingest, known_urls, clock, gate)
        self._poll_lock = threading.Lock()  # one poll at a time per process

    # --- adding, listing, removing --------------------------------------------------------
    def add(self, url: str, name: str | None = None, added_by: int | None = None) -> AddedSource:
        """Fetch the URL once, decide what it is (a feed, a page advertising a feed, an
        article page), then store it. SourceError with the reason when it is refused."""
        url = url.strip()
        if not is_web_url(url):
            raise SourceError(f"“{url[:100]}” is not an http:// or https:// address.")
        check_url(url, self.settings.allow_private_addresses)
        existing = self.sources.by_url(url)
        if existing is not None:
            raise SourceError(f"That is already source #{existing.id} ({existing.name}).")
        found = asyncio.run(self._probe(url))
        final_url = found.url
        existing = self.sources.by_url(final_url)
        if existing is not None:
            raise SourceError(
                f"It leads to {final_url}, already source #{existing.id} ({existing.name})."
            )
        title = " ".join((name or found.title or host_of(final_url)).split())[:MAX_TITLE_CHARS]
        if not self.sources.add(final_url, found.kind, title, added_by):
            raise SourceError(f"{final_url} is already a source.")
        stored = self.sources.by_url(final_url)
        assert stored is not None
        label = found_label(found.kind, found.feed.kind if found.feed else None)
        log.info(
            "source %d added: %s (%s, %d items)", stored.id, final_url, label, len(found.items)
        )
        return AddedSource(source=stored, found=label, items=len(found.items))

    async def _probe(self, url: str) -> Probe:
        async with Fetcher(self.poller.limits()) as fetcher:
            # counting the items needs no article pages: the first poll fetches those
            return await probe(fetcher, url, full_text=False, max_full_text=0)

    def active(self) -> tuple[Source, ...]:
        """Active sources with their health, in the order they were added."""
        return tuple(self.sources.active())

    def remove(self, source_id: int) -> Source:
        """Stop polling a source (its articles stay); SourceError when there is no such id."""
        source = self.sources.get(source_id) if in_range(source_id) else None
        if source is None or not self.sources.remove(source_id):
            raise SourceError(f"There is no source #{source_id}.")
        log.info("source %d removed: %s", source_id, source.url)
        return source

    # --- OPML -----------------------------------------------------------------------------
    def import_opml(self, data: bytes, added_by: int | None = None) -> OpmlImport:
        """Add each outline's xmlUrl as a feed without fetching it (an unreachable one shows
        up at its first poll). SourceError when the data is not OPML."""
        added: list[str] = []
        already: list[str] = []
        refused: list[tuple[str, str]] = []
        for feed in read_opml(data):
            if not is_web_url(feed.url):
                refused.append((feed.url, "not an http:// or https:// address"))
                continue
            try:
                check_url(feed.url, self.settings.allow_private_addresses)
            except SourceError as exc:
                refused.append((feed.url, str(exc)))
                continue
            title = feed.title or host_of(feed.url)
            if self.sources.add(feed.url, "feed", title, added_by):
                added.append(feed.url)
            else:
                already.append(feed.url)
        return OpmlImport(tuple(added), tuple(already), tuple(refused))

    def export_opml(self) -> str:
        """Every active source as an OPML 2.0 document."""
        return write_opml(self.sources.active(), self.clock())

    # --- polling --------------------------------------------------------------------------
    def ingest(self, source_id: int | None = None) -> PollReport:
        """Poll now: one source (even a paused one: a success resumes it), or every active,
        unpaused source. Waits for a poll already running in this process."""
        if source_id is not None:
            source = self.sources.get(source_id) if in_range(source_id) else None
            if source is None:
                raise SourceError(f"There is no source #{source_id}.")
            targets = [source]
        else:
            targets = [s for s in self.sources.active() if not s.paused]
        with self._poll_lock:
            return PollReport(tuple(asyncio.run(self.poller.poll(targets))))

    def poll_due(self) -> PollReport:
        """Poll the sources that are due; nothing (an empty report) when a poll is already
        running in this process."""
        if not self._poll_lock.acquire(blocking=False):
            return PollReport()
        try:
            targets = self.sources.due(self.clock())
            return PollReport(tuple(asyncio.run(self.poller.poll(targets))))
        finally:
            self._poll_lock.release()

    def next_due(self) -> datetime | None:
        """When the next unpaused source is due."""
        return self.sources.next_due()

    # --- telling admins -------------------------------------------------------------------
    def pause_notices(self) -> tuple[Source, ...]:
        """Paused sources the admins have not been told about."""
        return tuple(self.sources.pause_notices())

    def mark_notified(self, source_ids: list[int]) -> None:
        """The admins were told about these paused sources."""
        self.sources.mark_notified(source_ids)
