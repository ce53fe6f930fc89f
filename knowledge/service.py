"""The one facade that bot/ and the CLI call. Methods are synchronous and thread-safe;
async callers run them through asyncio.to_thread."""

from __future__ import annotations

import dataclasses
import threading
import tomllib
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path

from knowledge import chat_filter as filters
from knowledge import provenance
from knowledge.chat_filter import ChatFilter
from knowledge.composer import DigestComposer
from knowledge.digests import (
    MAX_TOPICS,
    check_timezone,
    clean_topic,
    other_outlets,
    parse_time,
    topic_key,
)
from knowledge.embedder import Embedder
from knowledge.errors import (
    BriefError,
    FilterError,
    ImportRecordError,
    QueryError,
    SourceError,
    SubscriptionError,
)
from knowledge.health import Check, Readiness, digest_check, poll_check, unknown
from knowledge.ingest import BATCH, Draft, Ingestor, Outcome, Status
from knowledge.models import (
    AddedSource,
    Article,
    Brief,
    Coverage,
    Digest,
    DigestClaim,
    DigestRun,
    Hit,
    ImportReport,
    PollReport,
    Rejection,
    Source,
    Stats,
    Subscription,
    Topic,
)
from knowledge.mutes import MuteMatcher, clean_mute, mute_key
from knowledge.provenance import OutletTable, parse_kind, source_kind
from knowledge.records import draft_from_record, read_jsonl
from knowledge.search import RankedStory, Searcher
from knowledge.settings import Settings, shipped
from knowledge.sources.manage import OpmlImport, SourceManager
from knowledge.sources.poll import AnswerGate
from knowledge.sources.worker import IngestWorker
from knowledge.store import utcnow
from knowledge.store.protocols import StoreBackend
from knowledge.topics import TopicMatcher

ProgressCallback = Callable[[int], None]  # called with the number of lines done so far
NOT_SUBSCRIBED = "This chat is not subscribed to the daily digest."
LATEST_SCAN = 2000  # /latest with filters reads at most this many stories past the page


class BriefService:
    """Ask, import, seed, stats, chats and sources: everything the front doors need."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: StoreBackend,
        embedder: Embedder,
        searcher: Searcher,
        ingestor: Ingestor,
        source_manager: SourceManager,
        answers: AnswerGate,
        matcher: TopicMatcher,
        composer: DigestComposer,
        outlets: OutletTable,
        worker: IngestWorker | None = None,
    ) -> None:
        """Built by knowledge/build.py (build_service), which hands over every collaborator;
        the service closes them. `worker`: polls (ingest_sources, poll_due) run in that
        process of their own; without one, in the calling thread."""
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.searcher = searcher
        self.ingestor = ingestor
        self.answers = answers  # polling yields to answers in progress
        self.source_manager = source_manager
        self.matcher = matcher
        self.composer = composer
        self.worker = worker
        self._digest_lock = threading.Lock()
        self._composed: dict[int, Digest] = {}  # the last digest composed per chat
        self.outlets = outlets  # kinds of outlet (knowledge/provenance.py)
        self._recorded: dict[int, tuple[str, str]] = {}  # chats written this run: (kind, title)

    # --- life cycle -----------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the model and the search index, and bring the stories' region topics up to
        date, now rather than on the first query, /latest or digest."""
        self.embedder.load()
        self.searcher.sync()
        self.matcher.classify()

    def close(self) -> None:
        """Stop the ingest worker and the service's threads, and close the database."""
        if self.worker is not None:
            self.worker.close()
        self.searcher.close()
        self.embedder.close()
        self.store.close()

    # --- reading --------------------------------------------------------------------------
    def check_query(self, query: str) -> str:
        """The query, trimmed; QueryError when it is empty or too long."""
        cleaned = " ".join(query.split())
        if not cleaned:
            raise QueryError("Send a topic to brief you on, for example “Scarborough Shoal”.")
        limit = self.settings.max_query_chars
        if len(cleaned) > limit:
            raise QueryError(
                f"That topic is {len(cleaned):,} characters long; please keep it under "
                f"{limit:,} (a few words work best)."
            )
        return cleaned

    def ask(
        self, query: str, k: int | None = None, offset: int = 0, chat_id: int | None = None
    ) -> Brief:
        """A page of the stories nearest to `query`; Brief.hits is empty when nothing is
        relevant. With `chat_id`, the chat's mutes and hidden kinds leave stories out (counted
        in Brief.muted and Brief.kind_hidden). Raises QueryError for an empty or too-long
        query."""
        cleaned = self.check_query(query)
        size = k or self.settings.brief_size
        with self.answers.answering():
            ranked = self.searcher.search(cleaned)
        chosen = self.chat_filter(chat_id) if chat_id is not None else ChatFilter()
        muted = kind_hidden = 0
        if chosen and ranked:
            ids = [r.story_id for r in ranked]
            found = {a.id: a for a in self.with_kinds(self.store.articles.by_ids(ids).values())}
            result = filters.apply(chosen, [found.get(i) for i in ids])
            ranked = [ranked[p] for p in result.kept]
            muted, kind_hidden = result.muted, result.kind_hidden
        page = ranked[max(offset, 0) : max(offset, 0) + size]
        return Brief(
            query=cleaned,
            hits=self._hits(page),
            offset=max(offset, 0),
            total=len(ranked),
            muted=muted,
            kind_hidden=kind_hidden,
        )

    def relevant(self, query: str, story_ids: Collection[int] | None = None) -> dict[int, float]:
        """Story id -> probability of relevance to `query`, for the stories the relevance
        decision keeps (the one `ask` makes), best first: exactly `story_ids` when given (e.g.
        a digest's new stories), else what `ask` would answer, with no page limit."""
        return self.searcher.relevant(self.check_query(query), story_ids)

    def latest(self, k: int | None = None, offset: int = 0, chat_id: int | None = None) -> Brief:
        """The newest stories in the region's topics, newest first (Brief.query is ""); a
        story in none of them (football from a world feed) is left out, though search finds
        it. With no region topics configured, every story. With `chat_id`, the chat's mutes
        and hidden kinds leave stories out (counted up to the page shown)."""
        size, offset = k or self.settings.brief_size, max(offset, 0)
        if self.settings.topics:
            self.matcher.classify()
            newest, total = self.store.story_topics.newest, self.store.story_topics.count()
        else:
            newest, total = self.store.articles.newest_stories, self.store.articles.story_count()
        chosen = self.chat_filter(chat_id) if chat_id is not None else ChatFilter()
        muted = kind_hidden = 0
        if not chosen:
            articles = self.with_kinds(newest(size, offset))
        else:
            # read on until the page and one more story are found (the More button), or the
            # stories run out, or LATEST_SCAN more were read
            kept: list[Article] = []
            read, batch = 0, max(4 * size, 50)
            while len(kept) <= offset + size and read < offset + size + LATEST_SCAN:
                rows = self.with_kinds(newest(batch, read))
                if not rows:
                    break
                read += len(rows)
                result = filters.apply(chosen, rows)
                kept += [rows[p] for p in result.kept]
                muted += result.muted
                kind_hidden += result.kind_hidden
            articles = kept[offset : offset + size]
            total = max(total - muted - kind_hidden, len(kept))
        coverage = self.store.articles.coverage([a.id for a in articles])
        hits = tuple(
            Hit(article=a, score=0.0, similarity=0.0, also=_also(a, coverage[a.id]))
            for a in articles
        )
        return Brief(
            query="",
            hits=hits,
            offset=offset,
            total=total,
            muted=muted,
            kind_hidden=kind_hidden,
        )

    def _hits(self, ranked: list[RankedStory]) -> tuple[Hit, ...]:
        ids = [r.story_id for r in ranked]
        articles = {a.id: a for a in self.with_kinds(self.store.articles.by_ids(ids).values())}
        coverage = self.store.articles.coverage(ids)
        return tuple(
            Hit(
                article=articles[r.story_id],
                score=round(r.score, 6),
                similarity=round(r.similarity, 4),
                also=_also(articles[r.story_id], coverage[r.story_id]),
            )
            for r in ranked
            if r.story_id in articles
        )

    def topics(self) -> tuple[Topic, ...]:
        """The region's topics from the settings, in order."""
        return tuple(
            Topic(label=label, query=query) for label, query in self.settings.topics.items()
        )

    def stats(self) -> Stats:
        """Counts and health, and which store they come from."""
        return Stats(
            articles=self.store.articles.count(),
            stories=self.store.articles.story_count(),
            sources=self.store.sources.count(),
            chats=self.store.chats.active_count(),
            last_ingest=self.store.articles.last_fetched(),
            db_path="" if self.settings.database_url else str(self.settings.db),
            db_bytes=self.store.size_bytes(),
            schema_version=self.store.schema_version,
            store=self.store.describe(),
        )

    def readiness(self, now: datetime, started: datetime, polling: bool) -> Readiness:
        """The /readyz checks (knowledge/health.py): the store answers a fresh connection;
        when `polling` (this process polls), a poll succeeded recently enough; no digest is
        overdue. Never raises: a failed check says why."""
        try:
            version = self.store.ping()
        except BriefError as exc:
            reason = "the store is unreachable"
            return Readiness(
                {
                    "store": Check(False, str(exc)),
                    "polling": unknown(reason) if polling else Check(True, "not polling here"),
                    "digests": unknown(reason),
                }
            )
        checks = {"store": Check(True, "reachable", {"schema_version": version})}
        try:
            settings = self.settings
            if polling:
                checks["polling"] = poll_check(
                    self.store.sources.active(),
                    now,
                    started,
                    timedelta(minutes=settings.ready_poll_max_age_minutes),
                )
            else:
                checks["polling"] = Check(True, "not polling here")
            checks["digests"] = digest_check(
                self.store.subscriptions.active(),
                self.store.claims.last_dates(),
                now,
                timedelta(minutes=settings.ready_digest_max_lag_minutes),
            )
        except BriefError as exc:
            checks.setdefault("polling", unknown(str(exc)))
            checks.setdefault("digests", unknown(str(exc)))
        return Readiness(checks)

    # --- writing --------------------------------------------------------------------------
    def import_records(
        self, records: Iterable[tuple[int, object]], progress: ProgressCallback | None = None
    ) -> ImportReport:
        """Import (line number, decoded JSON object or an error) pairs, in batches."""
        imported = duplicates = linked = done = 0
        rejected: list[Rejection] = []
        iterator: Iterator[tuple[int, object]] = iter(records)
        while batch := list(islice(iterator, BATCH)):
            drafts: list[Draft] = []
            lines: list[int] = []
            for number, record in batch:
                try:
                    drafts.append(draft_from_record(record))
                    lines.append(number)
                except ImportRecordError as exc:
                    rejected.append(Rejection(number, str(exc)))
            for number, outcome in zip(lines, self.ingest(drafts), strict=True):
                if outcome.status is Status.REJECTED:
                    rejected.append(Rejection(number, outcome.reason))
                elif outcome.status is Status.DUPLICATE:
                    duplicates += 1
                else:
                    imported += 1
                    linked += outcome.status is Status.LINKED
            done += len(batch)
            if progress:
                progress(done)
        rejected.sort(key=lambda r: r.line)
        return ImportReport(imported, duplicates, linked, tuple(rejected))

    def ingest(self, drafts: list[Draft]) -> list[Outcome]:
        """Store new drafts from any source; one outcome per draft, in order."""
        return self.ingestor.ingest(drafts)

    def import_file(self, path: Path, progress: ProgressCallback | None = None) -> ImportReport:
        """Import a JSONL file (gzip read directly when the name ends in .gz)."""
        return self.import_records(read_jsonl(Path(path)), progress)

    def seed(self, seeds_dir: Path | None = None) -> ImportReport:
        """Load the seed articles and sources from seeds/; a second call adds nothing."""
        seeds_dir = seeds_dir or shipped("seeds")
        with (seeds_dir / "articles.toml").open("rb") as handle:
            entries = tomllib.load(handle).get("article", [])
        records: list[tuple[int, object]] = []
        for number, entry in enumerate(entries, start=1):
            text = (seeds_dir / entry["file"]).read_text(encoding="utf-8")
            first, _, body = text.partition("\n")
            records.append(
                (
                    number,
                    {
                        "title": entry.get("title") or first.strip(),
                        "text": body,
                        "url": entry.get("url"),
                        "source": entry.get("source"),
                        "published": entry.get("published"),
                    },
                )
            )
        report = self.import_records(records)
        sources_file = seeds_dir / "sources.toml"
        if sources_file.exists():
            with sources_file.open("rb") as handle:
                for entry in tomllib.load(handle).get("source", []):
                    self.store.sources.add(
                        entry["url"], entry.get("kind", "feed"), entry.get("title", ""), None
                    )
        return report

    # --- chats ----------------------------------------------------------------------------
    def record_chat(self, chat_id: int, kind: str, title: str = "") -> None:
        """Remember a chat the bot talks in (for stats and, later, digests). Called on every
        message, so it writes only when the chat is new, renamed or was deactivated."""
        if self._recorded.get(chat_id) == (kind, title):
            return
        self.store.chats.upsert(chat_id, kind, title)
        self._recorded[chat_id] = (kind, title)

    def deactivate_chat(self, chat_id: int, reason: str) -> None:
        """The bot was blocked or removed from the chat: stop sending to it."""
        self._recorded.pop(chat_id, None)
        self.store.chats.deactivate(chat_id, reason)

    def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: move everything to the new id (see move_chat)."""
        self.move_chat(old_chat_id, new_chat_id)

    def chat_is_active(self, chat_id: int) -> bool | None:
        """True or False for a known chat, None for one never seen."""
        return self.store.chats.is_active(chat_id)

    # --- digests --------------------------------------------------------------------------
    def subscribe(
        self,
        chat_id: int,
        thread_id: int | None = None,
        at: str | None = None,
        timezone: str | None = None,
    ) -> Subscription:
        """Subscribe a chat to the daily digest (or change its time and timezone). Defaults
        from the settings; SubscriptionError for a bad time or an unknown timezone."""
        when = parse_time(at if at is not None else self.settings.digest_default_time)
        zone = check_timezone(
            timezone if timezone is not None else self.settings.digest_default_timezone
        )
        return self.store.subscriptions.upsert(chat_id, thread_id, when, zone)

    def unsubscribe(self, chat_id: int) -> bool:
        """End a chat's subscription; False when it had none."""
        return self.store.subscriptions.end(chat_id, "unsubscribed")

    def end_subscription(self, chat_id: int, reason: str) -> bool:
        """End a subscription the bot can no longer deliver (blocked, kicked)."""
        return self.store.subscriptions.end(chat_id, reason)

    def subscription(self, chat_id: int) -> Subscription | None:
        """The chat's subscription, or None."""
        return self.store.subscriptions.get(chat_id)

    def subscriptions(self) -> list[Subscription]:
        """Every active subscription."""
        return self.store.subscriptions.active()

    def subscriber_count(self) -> int:
        """Chats subscribed to the digest."""
        return self.store.subscriptions.active_count()

    def update_subscription(
        self,
        chat_id: int,
        *,
        at: str | None = None,
        timezone: str | None = None,
        silent: bool | None = None,
        notify_empty: bool | None = None,
    ) -> Subscription:
        """Change a subscription; SubscriptionError when the chat has none or a value is bad."""
        found = self.store.subscriptions.update(
            chat_id,
            at=parse_time(at) if at is not None else None,
            timezone=check_timezone(timezone) if timezone is not None else None,
            silent=silent,
            notify_empty=notify_empty,
        )
        if found is None:
            raise SubscriptionError(NOT_SUBSCRIBED)
        return found

    def follow(self, chat_id: int, topic: str) -> Subscription:
        """Follow a topic in the chat's digest (subscribing with the defaults when the chat is
        not subscribed yet); SubscriptionError for an empty or too long topic."""
        cleaned = clean_topic(topic)
        sub = self.store.subscriptions.get(chat_id) or self.subscribe(chat_id)
        if len(sub.topics) >= MAX_TOPICS and topic_key(cleaned) not in map(topic_key, sub.topics):
            raise SubscriptionError(
                f"A chat follows at most {MAX_TOPICS} topics; unfollow one first."
            )
        self.store.subscriptions.follow(chat_id, topic_key(cleaned), cleaned)
        return self.store.subscriptions.get(chat_id) or sub

    def unfollow(self, chat_id: int, topic: str) -> Subscription:
        """Stop following a topic; SubscriptionError when the chat did not follow it."""
        sub = self.store.subscriptions.get(chat_id)
        if sub is None:
            raise SubscriptionError(NOT_SUBSCRIBED)
        if not self.store.subscriptions.unfollow(chat_id, topic_key(topic)):
            following = ", ".join(f"“{t}”" for t in sub.topics) or "no topics"
            raise SubscriptionError(
                f"This chat does not follow “{topic}” (it follows {following})."
            )
        return self.store.subscriptions.get(chat_id) or sub

    def compose_digest(
        self, chat_id: int, now: datetime | None = None, *, topics: tuple[str, ...] | None = None
    ) -> Digest:
        """What is new for the chat since its last digest; nothing is recorded. A chat that is
        not subscribed gets what a new subscription would (the defaults: the last day).
        `topics`, when given, replace the followed ones (a preview)."""
        sub = self.store.subscriptions.get(chat_id)
        if sub is None:
            sub = Subscription(
                chat_id=chat_id,
                thread_id=None,
                at=parse_time(self.settings.digest_default_time),
                timezone=check_timezone(self.settings.digest_default_timezone),
            )
        if topics is not None:
            sub = dataclasses.replace(sub, topics=tuple(clean_topic(t) for t in topics))
        digest = self.composer.compose(sub, now or utcnow(), self.chat_filter(chat_id))
        if topics is None:
            with self._digest_lock:
                self._composed[chat_id] = digest  # finish_digest's cutoff, when not given one
        return digest

    def claim_digest(self, chat_id: int, local_date: date) -> bool:
        """Claim the chat's digest for its local date: True means send it, False means
        someone else has (or had) it. Exactly once across threads and processes."""
        return self.store.claims.claim(chat_id, local_date)

    def finish_digest(
        self, chat_id: int, local_date: date, status: str, digest: Digest | None = None
    ) -> bool:
        """Record how a claimed digest ended: "sent", "uncertain" (never sent again) or
        "failed" (may be claimed again). "sent" and "uncertain" move the chat's cutoff of what
        is new to the end of `digest` (by default the one last composed for the chat here,
        else the claim's time); False when there was no open claim."""
        with self._digest_lock:
            remembered = self._composed.pop(chat_id, None)
        digest = digest or remembered
        return self.store.claims.finish(
            chat_id,
            local_date,
            status,
            cutoff=digest.until if digest else None,
            through_id=digest.until_id if digest else None,
            stories=digest.stories if digest else None,
        )

    def unsent_claims(self, claimed_before: datetime | None = None) -> list[tuple[int, date]]:
        """(chat id, local date) of claims never finished: a crash came before or during
        their send. Treat them as uncertain unless the request surely never left."""
        return [(c.chat_id, c.local_date) for c in self.store.claims.unsent(claimed_before)]

    def digest_claim(self, chat_id: int, local_date: date) -> DigestClaim | None:
        """The claim for a chat's local date, if any."""
        return self.store.claims.get(chat_id, local_date)

    def last_claim_date(self, chat_id: int) -> date | None:
        """The latest local date the chat's digest was claimed for (failed ones aside)."""
        return self.store.claims.last_date(chat_id)

    def last_claim_dates(self) -> dict[int, date]:
        """last_claim_date for every chat, for rebuilding the schedule at start."""
        return self.store.claims.last_dates()

    def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: its chat row, subscription, topics and claims move to
        the new id (updated in place, in one transaction)."""
        self._recorded.pop(old_chat_id, None)
        self._recorded.pop(new_chat_id, None)
        self.store.subscriptions.move_chat(old_chat_id, new_chat_id)
        self.store.filters.move_chat(old_chat_id, new_chat_id)

    def record_digest_run(self, run: DigestRun) -> None:
        """Remember a delivery round for /stats."""
        self.store.claims.record_run(run)

    def last_digest_run(self) -> DigestRun | None:
        """The latest delivery round."""
        return self.store.claims.last_run()

    def story_topics(self, story_ids: list[int]) -> dict[int, list[str]]:
        """Each story's region topics, most relevant first."""
        self.matcher.classify()
        return self.store.story_topics.topics_of(story_ids)

    # --- sources (knowledge/sources/manage.py does the work) ------------------------------
    def add_source(
        self, url: str, name: str | None = None, added_by: int | None = None
    ) -> AddedSource:
        """Fetch `url` once, decide what it is, store it; SourceError with the reason when
        it is refused."""
        return self.source_manager.add(url, name, added_by)

    def list_sources(self) -> tuple[Source, ...]:
        """Sources added for polling, with their health and kind of outlet."""
        return tuple(source_kind(s, self.outlets) for s in self.source_manager.active())

    def set_source_kind(self, source_id: int, kind: str) -> Source:
        """Set a source's kind of outlet ("auto": the shipped table's again); its articles
        show it from now on. FilterError for an unknown kind, SourceError for an unknown id."""
        automatic = kind.strip().casefold() in ("auto", "table", "default")
        wanted = None if automatic else parse_kind(kind)
        if not self.store.sources.set_provenance(source_id, wanted):
            raise SourceError(f"There is no source #{source_id}.")
        source = self.store.sources.get(source_id)
        assert source is not None  # it was just updated
        return source_kind(source, self.outlets)

    def remove_source(self, source_id: int) -> Source:
        """Stop polling a source (its articles stay); SourceError for an unknown id."""
        return self.source_manager.remove(source_id)

    def ingest_sources(self, source_id: int | None = None) -> PollReport:
        """Poll now: every active unpaused source, or one (a paused one too). In the ingest
        worker when there is one (IngestWorkerError when it dies meanwhile)."""
        if self.worker is not None:
            return self.worker.ingest(source_id)
        return self.source_manager.ingest(source_id)

    def poll_due(self) -> PollReport:
        """Poll the sources that are due (the scheduled job); an empty report when a poll is
        already running. In the ingest worker when there is one."""
        if self.worker is not None:
            return self.worker.poll_due()
        return self.source_manager.poll_due()

    def next_due_source(self) -> datetime | None:
        """When the next source is due."""
        return self.source_manager.next_due()

    def pause_notices(self) -> tuple[Source, ...]:
        """Paused sources the admins have not been told about yet."""
        return self.source_manager.pause_notices()

    def mark_notified(self, source_ids: list[int]) -> None:
        """The admins were told about these paused sources."""
        self.source_manager.mark_notified(source_ids)

    def import_opml(self, data: bytes) -> OpmlImport:
        """Add the feeds an OPML document lists, without fetching them."""
        return self.source_manager.import_opml(data)

    def export_opml(self) -> str:
        """The sources as an OPML document."""
        return self.source_manager.export_opml()

    # --- what readers choose: mutes and hidden kinds ---------------------------------------
    def with_kinds(self, articles: Iterable[Article]) -> list[Article]:
        """`articles` with their outlet's kind (knowledge/provenance.py)."""
        return provenance.with_kinds(articles, self.outlets, self.store.sources.outlets())

    def chat_filter(self, chat_id: int) -> ChatFilter:
        """The chat's mutes and hidden kinds, ready to apply."""
        return ChatFilter(
            MuteMatcher.of(self.store.filters.mutes(chat_id)),
            frozenset(self.store.filters.hidden_kinds(chat_id)),
        )

    def mutes(self, chat_id: int) -> tuple[str, ...]:
        """The chat's mute words and phrases, in the order they were added."""
        return tuple(self.store.filters.mutes(chat_id))

    def mute(self, chat_id: int, text: str) -> tuple[str, bool]:
        """Mute a word or phrase in the chat: (the mute as stored, False when it was muted
        already). FilterError for an empty, too long or pattern-like mute, or one too many."""
        cleaned = clean_mute(text, self.settings.mute_max_chars)
        limit = self.settings.mute_max_count
        added = self.store.filters.add_mute(chat_id, mute_key(cleaned), cleaned, limit)
        if added is None:
            raise FilterError(
                f"This chat has {limit} mutes already, the most it can have; /mutes lists "
                "them with buttons to remove one."
            )
        return cleaned, added

    def unmute(self, chat_id: int, text: str) -> str:
        """Stop muting a word or phrase; the mute removed. FilterError when the chat did not
        mute it (naming what it mutes)."""
        removed = self.store.filters.remove_mute(chat_id, mute_key(text))
        if removed is None:
            mutes = ", ".join(f"“{m}”" for m in self.mutes(chat_id)) or "nothing"
            shown = " ".join((text or "").split())[:80]
            raise FilterError(f"This chat does not mute “{shown}” (it mutes {mutes}).")
        return removed

    def hidden_kinds(self, chat_id: int) -> tuple[str, ...]:
        """The kinds of outlet the chat hides."""
        return tuple(self.store.filters.hidden_kinds(chat_id))

    def hide_kind(self, chat_id: int, kind: str, hidden: bool = True) -> tuple[str, bool]:
        """Hide (or show again) a kind of outlet in the chat: (the kind, False when nothing
        changed). FilterError for an unknown kind."""
        parsed = parse_kind(kind)
        return parsed, self.store.filters.set_kind_hidden(chat_id, parsed, hidden)


def _also(article: Article, copies: list[Coverage]) -> tuple[Coverage, ...]:
    """Other outlets' copies, one per outlet, not the article's own outlet."""
    return other_outlets(article, copies)
