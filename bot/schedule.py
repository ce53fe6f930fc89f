"""Daily digests on schedule: one PTB JobQueue (APScheduler) job per subscribed chat, named
`digest:<chat_id>`, rebuilt from the store at start and replaced on every change.

A job does not send: it puts (chat, local date) on a queue that a few workers drain, re-arming
each chat's job once it is served; so a run for 10,000 chats holds only a worker's worth of
composed digests at a time, and a run (sent, failed, skipped, uncertain) is counted from the
first chat queued until the queue is empty.

Exactly once per chat and local day, across restarts and crashes:
  claim (a unique row in the store) → compose → send → finish sent | uncertain | failed.
A claim that is never finished (the process died before or during the send) is treated as
uncertain at the next start and never re-sent; a chat that was never claimed is served by the
catch-up on start when its time passed less than BRIEF_DIGEST_CATCH_UP_HOURS ago.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from apscheduler.jobstores.base import JobLookupError
from telegram import InlineKeyboardMarkup
from telegram.ext import Application, ContextTypes, Job

from bot import delivery, render
from knowledge import digests
from knowledge.errors import BriefError
from knowledge.models import Digest, DigestRun, Subscription
from knowledge.service import BriefService
from knowledge.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

JOB_PREFIX = "digest:"
WORKERS = 8  # at 30 messages/s each has 266 ms per chat; more only composes further ahead
# A job may start late when the loop is busy (a fan-out): it still runs, within the catch-up
# window, rather than being dropped as an APScheduler "misfire" after its 1 s default.
MISFIRE_GRACE_S = 3600


def job_name(chat_id: int) -> str:
    """The deterministic name of a chat's digest job."""
    return f"{JOB_PREFIX}{chat_id}"


class Clock:
    """The bot's idea of now, handed to the DigestScheduler. In production it is the wall
    clock; tests set it (`set`, `reading`) to any moment and move it on, and APScheduler,
    which runs on the wall clock, gets `to_real()` of each time."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    @classmethod
    def reading(cls, when: datetime) -> Clock:
        """A clock that reads `when` now, and goes on from there."""
        return cls(when - datetime.now(UTC))

    def set(self, when: datetime) -> None:
        """Read `when` now, and go on from there (time jumps, forward or back)."""
        self.offset = when - datetime.now(UTC)

    def now(self) -> datetime:
        """Now, aware UTC, shifted by the offset."""
        return datetime.now(UTC) + self.offset

    def to_real(self, when: datetime) -> datetime:
        """The wall-clock moment at which the bot's clock reads `when`."""
        return when - self.offset

    def from_real(self, when: datetime) -> datetime:
        """The bot's clock reading at wall-clock moment `when`."""
        return when + self.offset


@dataclass(frozen=True, slots=True)
class Due:
    """What a digest job carries: the subscription, the local date its run is for, and when
    it runs (bot time)."""

    sub: Subscription
    day: date
    when: datetime


@dataclass
class _Run:
    started_at: datetime
    counts: dict[delivery.Outcome, int] = field(default_factory=dict)

    def add(self, outcome: delivery.Outcome) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def result(self, finished_at: datetime) -> DigestRun:
        c = self.counts
        return DigestRun(
            started_at=self.started_at,
            finished_at=finished_at,
            sent=c.get(delivery.Outcome.SENT, 0),
            failed=c.get(delivery.Outcome.FAILED, 0) + c.get(delivery.Outcome.GONE, 0),
            skipped=c.get(delivery.Outcome.SKIPPED, 0),
            uncertain=c.get(delivery.Outcome.UNCERTAIN, 0),
        )


class DigestScheduler:
    """The digest jobs of one Application, the queue they feed and its workers."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        settings: Settings,
        service: BriefService,
        *,
        clock: Clock | None = None,
        workers: int = WORKERS,
        send_timeout: float | None = None,
    ) -> None:
        self.application = application
        self.settings = settings
        self.service = service
        self.clock = clock or Clock()
        self.workers = workers
        self.send_timeout = send_timeout
        # (chat, local date, re-arm its job after serving it)
        self.queue: asyncio.Queue[tuple[int, date, bool]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._busy = 0
        self._run: _Run | None = None
        self.runs: list[DigestRun] = []  # finished runs of this process, newest last
        self.run_finished = asyncio.Event()
        # The store and composition run in threads of their own, so a fan-out never fills the
        # default executor that answers to questions use.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="digests")

    async def _blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the digest threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    # ---------------------------------------------------------------- jobs

    @property
    def catch_up(self) -> timedelta:
        """How long after a chat's time a missed digest is still sent."""
        return timedelta(hours=self.settings.digest_catch_up_hours)

    def _job_queue(self) -> Any:
        jq = self.application.job_queue
        if jq is None:
            raise RuntimeError("digests need python-telegram-bot[job-queue]")
        return jq

    def unschedule(self, chat_id: int) -> None:
        """Remove the chat's job, if any."""
        with contextlib.suppress(JobLookupError):
            self._job_queue().scheduler.remove_job(job_name(chat_id))

    def schedule(
        self, sub: Subscription, at: datetime | None = None, *, replace: bool = True
    ) -> Job:  # type: ignore[type-arg]
        """(Re)place the chat's job: at `at` (bot time) or at its next local time. The job
        carries the subscription, so firing it needs no database read to re-arm."""
        when = at or digests.next_run(sub, self.clock.now())
        if replace:
            self.unschedule(sub.chat_id)
        real = self.clock.to_real(when)
        return self._job_queue().run_once(  # type: ignore[no-any-return]
            job_digest,
            when=max(real, datetime.now(UTC)),
            data=Due(sub, digests.local_date(sub, when), when),
            name=job_name(sub.chat_id),
            job_kwargs={
                "id": job_name(sub.chat_id),
                "replace_existing": True,
                "misfire_grace_time": MISFIRE_GRACE_S,
            },
        )

    def job(self, chat_id: int) -> Job | None:  # type: ignore[type-arg]
        """The chat's digest job (a dictionary lookup, however many chats there are)."""
        aps_job = self._job_queue().scheduler.get_job(job_name(chat_id))
        return Job.from_aps_job(aps_job) if aps_job is not None else None

    def next_run(self, chat_id: int) -> datetime | None:
        """When the chat's next digest is due (bot time), or None without a job."""
        job = self.job(chat_id)
        return job.data.when if job is not None and isinstance(job.data, Due) else None

    def next_any(self) -> datetime | None:
        """The earliest next digest of any chat (bot time)."""
        times = [job.data.when for job in self._job_queue().jobs() if isinstance(job.data, Due)]
        return min(times) if times else None

    async def start(self) -> None:
        """At start (post_init): settle unfinished claims as uncertain, rebuild every job,
        queue the catch-ups, start the workers."""
        service = self.service
        for chat_id, day in await self._blocking(service.unsent_claims):
            log.warning(
                "digest for %s on %s was claimed but not finished: uncertain", chat_id, day
            )
            await self._blocking(service.finish_digest, chat_id, day, "uncertain")
        subs = await self._blocking(service.subscriptions)
        now = self.clock.now()
        caught_up = 0
        for sub in subs:
            last = digests.local_date(sub, sub.last_sent_at) if sub.last_sent_at else None
            due = digests.due_on_start(sub, now, self.catch_up, last)
            if due is not None:
                caught_up += 1
                self.queue_digest(sub.chat_id, due)
            self.schedule(sub, replace=False)  # a fresh JobQueue: nothing to replace
        self.start_workers()
        log.info("digests: %d subscriptions scheduled, %d caught up", len(subs), caught_up)

    def start_workers(self) -> None:
        """The workers that drain the queue (idempotent)."""
        if self._tasks:
            return
        for i in range(self.workers):
            task = asyncio.get_running_loop().create_task(self._work(), name=f"digest-worker-{i}")
            self._tasks.append(task)

    async def stop(self) -> None:
        """Stop the workers (a chat being served is cut off at its next await, unfinished)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._executor.shutdown(wait=False, cancel_futures=True)

    def fire(self, due: Due) -> None:
        """A job fired: queue the chat's digest for its day; the worker that serves it re-arms
        the job (10,000 jobs firing at 07:00 then cost the event loop a queue put each, not an
        APScheduler insert each: 3.5 s of a blocked loop measured that way)."""
        self.queue_digest(due.sub.chat_id, due.day, rearm=True)

    def queue_digest(self, chat_id: int, day: date, *, rearm: bool = False) -> None:
        """Serve the chat's digest for local date `day` (once: the claim decides)."""
        self.queue.put_nowait((chat_id, day, rearm))
        self.start_workers()

    # ---------------------------------------------------------------- the workers

    async def _work(self) -> None:
        while True:
            chat_id, day, rearm = await self.queue.get()
            if self._run is None:
                self._run = _Run(started_at=self.clock.now())
                self.run_finished.clear()
            run = self._run
            self._busy += 1  # the run cannot finish while this chat is being served
            try:
                try:
                    outcome = await self.serve(chat_id, day)
                except Exception:  # one chat's failure never stops the others
                    log.exception("digest for chat %s failed", chat_id)
                    outcome = delivery.Outcome.FAILED
                run.add(outcome)
                if rearm:
                    await self._rearm(chat_id)
            finally:
                self._busy -= 1
                self.queue.task_done()
            if self.queue.empty() and self._busy == 0:
                await self._finish_run()

    async def _rearm(self, chat_id: int) -> None:
        """The chat's job for its next day, from its subscription as it is now (unless a
        change already scheduled it, or it is gone)."""
        if self.job(chat_id) is not None:
            return
        try:
            sub = await self._blocking(self.service.subscription, chat_id)
        except Exception:  # the next start rebuilds it; the other chats go on
            log.exception("could not re-arm the digest of %s", chat_id)
            return
        if sub is not None and self.job(chat_id) is None:
            self.schedule(sub, replace=False)

    async def _finish_run(self) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        result = run.result(self.clock.now())
        self.runs.append(result)
        try:
            await self._blocking(self.service.record_digest_run, result)
        except BriefError as exc:
            log.warning("could not record the digest run: %s", exc)
        log.info(
            "digest run: sent %d, failed %d, skipped %d, uncertain %d",
            result.sent,
            result.failed,
            result.skipped,
            result.uncertain,
        )
        self.run_finished.set()

    async def serve(self, chat_id: int, day: date) -> delivery.Outcome:
        """One chat's digest for local date `day`: compose and render, then claim, send and
        finish (nothing that can fail for our own reasons sits between claim and send)."""
        service = self.service
        sub = await self._blocking(service.subscription, chat_id)
        if sub is None:
            return delivery.Outcome.SKIPPED
        digest = await self._blocking(service.compose_digest, chat_id, self.clock.now())
        if digest.empty and not sub.notify_empty:
            return delivery.Outcome.SKIPPED
        topics = await self._blocking(service.topics)
        parts = render.render_digest(digest, sub.timezone)
        keyboard = render.digest_keyboard(digest, topics)
        if not await self._blocking(service.claim_digest, chat_id, day):
            return delivery.Outcome.SKIPPED  # already sent (or uncertain) for this local day
        return await self._send_claimed(sub, digest, day, parts, keyboard)

    async def _send_claimed(
        self,
        sub: Subscription,
        digest: Digest,
        day: date,
        parts: list[str],
        keyboard: InlineKeyboardMarkup | None,
    ) -> delivery.Outcome:
        service = self.service
        result = await delivery.send_digest(
            self.application.bot,
            service,
            sub,
            parts,
            keyboard,
            paid=self.settings.allow_paid_broadcast,
            send_timeout=self.send_timeout,
        )
        chat_id = result.chat_id  # the new id when the group migrated on the way
        status = {
            delivery.Outcome.SENT: "sent",
            delivery.Outcome.UNCERTAIN: "uncertain",
        }.get(result.outcome, "failed")
        # the digest says what it covered: the next one starts where it ended
        await self._blocking(service.finish_digest, chat_id, day, status, digest)
        if chat_id != sub.chat_id:
            moved = await self._blocking(service.subscription, chat_id)
            if moved is not None:
                self.unschedule(sub.chat_id)
                self.schedule(moved)
        elif result.outcome is delivery.Outcome.GONE:
            self.unschedule(chat_id)
        return result.outcome

    async def send_now(self, chat_id: int, thread_id: int | None = None) -> delivery.Outcome:
        """/digest: the digest now, outside the daily claim (it does not count as the day's)."""
        sub = await self._blocking(self.service.subscription, chat_id)
        now = self.clock.now()
        if sub is None:
            sub = Subscription(
                chat_id=chat_id,
                thread_id=thread_id,
                at=now.time(),
                timezone="UTC",
                topics=(),
                silent=False,
                notify_empty=True,
                last_sent_at=None,
                created_at=now,
            )
        digest = await self._blocking(self.service.compose_digest, chat_id, now)
        topics = await self._blocking(self.service.topics)
        parts = render.render_digest(digest, sub.timezone)
        keyboard = render.digest_keyboard(digest, topics)
        result = await delivery.send_digest(
            self.application.bot,
            self.service,
            replace(sub, silent=False, thread_id=thread_id),
            parts,
            keyboard,
            broadcast=False,
        )
        return result.outcome


async def job_digest(context: ContextTypes.DEFAULT_TYPE) -> None:
    """A chat's time came: queue its digest."""
    job = context.job
    assert job is not None and isinstance(job.data, Due)
    scheduler_of(context.application).fire(job.data)


SCHEDULER_KEY = "digests"


def scheduler_of(application: Application) -> DigestScheduler:  # type: ignore[type-arg]
    """The DigestScheduler built for `application`."""
    value = application.bot_data[SCHEDULER_KEY]
    assert isinstance(value, DigestScheduler)
    return value


__all__ = ["Clock", "DigestScheduler", "Due", "job_digest", "job_name", "scheduler_of"]
