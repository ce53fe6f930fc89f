"""The composition root: the one place that builds the object graph from the settings and hands
each part only what it uses. Nothing else builds its own collaborators.

build_service(settings)            what bot/ and the CLI call (the answering process)
 ├── build_ingestion(settings)     what the ingest worker builds (and nothing more)
 │    ├── open_store(settings)     SQLite (BRIEF_DB) or PostgreSQL (BRIEF_DATABASE_URL)
 │    ├── Embedder                 the shared model
 │    ├── Searcher                 the in-memory index over the store, search and relevance
 │    ├── Ingestor                 drafts -> stored, embedded, story-linked articles
 │    └── SourceManager            sources: add, list, remove, OPML, polls (its Poller)
 ├── OutletTable                   kinds of outlet (config/outlets.toml or BRIEF_OUTLETS_FILE)
 ├── TopicMatcher, DigestComposer  region topics and digests
 ├── IngestWorker                  polls in a process of its own (BRIEF_INGEST_WORKER), which
 │                                 runs build_ingestion there: the worker never builds a service
 └── BriefService                  the facade: receives all of the above, only answers
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from knowledge import provenance
from knowledge.composer import DigestComposer
from knowledge.cores import model_threads, single_threaded_blas
from knowledge.embedder import Embedder, shared_embedder
from knowledge.index import DenseIndex, IndexSettings
from knowledge.ingest import Ingestor, IngestTuning
from knowledge.models import Article, PollReport
from knowledge.provenance import OutletTable, shipped_table
from knowledge.search import Searcher, SearchTuning
from knowledge.service import BriefService
from knowledge.settings import Settings, shipped
from knowledge.sources.manage import SourceManager
from knowledge.sources.poll import AnswerGate
from knowledge.sources.worker import IngestWorker
from knowledge.store.backends import open_store
from knowledge.store.protocols import StoreBackend
from knowledge.topics import TopicMatcher


@dataclass(frozen=True, slots=True)
class Ingestion:
    """What importing and polling need, built by build_ingestion: the store, the model, the
    index (for duplicates), the ingestor and the sources. Closing it closes them."""

    settings: Settings
    store: StoreBackend
    embedder: Embedder
    searcher: Searcher
    ingestor: Ingestor
    source_manager: SourceManager
    answers: AnswerGate  # polling yields to answers in progress (the answering process's)

    def warm_up(self) -> None:
        """Load the model and the index now, rather than on the first poll."""
        self.embedder.load()
        self.searcher.sync()

    def poll_due(self) -> PollReport:
        """Poll the sources that are due; an empty report when a poll is already running."""
        return self.source_manager.poll_due()

    def ingest_sources(self, source_id: int | None = None) -> PollReport:
        """Poll now: every active unpaused source, or one (a paused one too)."""
        return self.source_manager.ingest(source_id)

    def close(self) -> None:
        """Stop the index's threads, release the model, close the store."""
        self.searcher.close()
        self.embedder.close()
        self.store.close()


def build_ingestion(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    store: StoreBackend | None = None,
    gate: AnswerGate | None = None,
    chunk: int | None = None,
) -> Ingestion:
    """The ingestion side alone (the ingest worker's process builds only this). `embedder`
    and `store` replace the ones the settings name (tests, benches); `gate` is the answering
    process's count of answers in progress; `chunk` the poller's items per ingest call."""
    single_threaded_blas()  # numpy's spinning threads would fight the model's
    model_threads(settings.model_threads)
    store = store if store is not None else open_store(settings)
    try:
        embedder = embedder or shared_embedder(settings.model_path, settings.embed_batch_size)
        searcher = Searcher(
            store,
            embedder,
            SearchTuning(
                candidates=settings.search_candidates, threshold=settings.relevance_threshold
            ),
            index=DenseIndex(IndexSettings(settings.ann_threshold, settings.index_path)),
        )
    except BaseException:
        store.close()
        raise
    ingestor = Ingestor(
        store,
        embedder,
        searcher,
        IngestTuning(
            summary_max_sentences=settings.summary_max_sentences,
            summary_max_chars=settings.summary_max_chars,
            duplicate_similarity=settings.duplicate_similarity,
            duplicate_window_days=settings.duplicate_window_days,
        ),
    )
    answers = gate or AnswerGate()
    source_manager = SourceManager(
        settings, store.sources, ingestor.ingest, store.articles.known_urls, gate=answers
    )
    if chunk is not None:
        source_manager.poller.chunk = chunk
    return Ingestion(settings, store, embedder, searcher, ingestor, source_manager, answers)


def build_service(
    settings: Settings,
    embedder: Embedder | None = None,
    *,
    store: StoreBackend | None = None,
    poll_in_worker: bool = False,
) -> BriefService:
    """The service bot/ and the CLI call, with everything it answers from. `poll_in_worker`:
    polls run in a process of their own at a lower CPU priority (knowledge/sources/worker.py),
    as the bot and the terminal chat do when BRIEF_INGEST_WORKER is on; else in the calling
    thread."""
    parts = build_ingestion(settings, embedder=embedder, store=store)
    outlets = shipped_table(Path(settings.outlets_file or shipped("config") / "outlets.toml"))
    matcher = TopicMatcher(parts.store, parts.searcher, settings.topics)
    composer = DigestComposer(
        parts.store,
        matcher,
        settings.digest_max_stories,
        kinds_filler(outlets, parts.store),
    )
    worker = (
        IngestWorker(settings, build=build_ingestion, gate=parts.answers)
        if poll_in_worker
        else None
    )
    return BriefService(
        settings,
        store=parts.store,
        embedder=parts.embedder,
        searcher=parts.searcher,
        ingestor=parts.ingestor,
        source_manager=parts.source_manager,
        answers=parts.answers,
        matcher=matcher,
        composer=composer,
        outlets=outlets,
        worker=worker,
    )


def kinds_filler(
    outlets: OutletTable, store: StoreBackend
) -> Callable[[Iterable[Article]], list[Article]]:
    """Fills in articles' kinds of outlet from the table and the sources' own kinds (what
    BriefService.with_kinds does, for the digest composer)."""

    def with_kinds(articles: Iterable[Article]) -> list[Article]:
        return provenance.with_kinds(articles, outlets, store.sources.outlets())

    return with_kinds
