"""Polling in a process of its own, at a lower CPU priority, for the bot and the terminal chat.

Why: in the answering process, ingestion slows every answer. Parsing feeds and pages, summaries
and tokenising hold the GIL that the event loop and the search threads need, and the embedding
takes every core through torch's thread pool (bench/bench_sources.py: p95 while ingesting more
than twice the idle p95 when polling ran in a thread of the bot). A process of its own has its
own GIL, and a lower CPU priority (BRIEF_INGEST_PRIORITY: by default Linux's SCHED_IDLE) lets
the kernel give the cores to the answers first and to ingestion what is left.

How: `IngestWorker` starts the process ('spawn': a clean interpreter) on first use; there it
builds only the ingestion side with the builder it was handed (knowledge/build.py's
build_ingestion: store, model, index, ingestor, sources; never the whole service), loads the
model once and polls, writing to the same store (SQLite in WAL mode: the bot's reads never wait
for it, and its Searcher picks up the new rows). One request at a time over a pipe, answered
with the PollReport.

Failures: a worker that dies (killed, out of memory) fails the request in flight with
IngestWorkerError and the next request starts a new one; a poll is crash-safe
(knowledge/sources/poll.py), so nothing is lost or stored twice. `close()` lets a request in
flight finish for up to `grace_s` seconds, asks the worker to stop and waits for it, and
terminates it when it does not (as safe as a crash). A worker whose parent dies finishes its
request and exits when it finds the pipe closed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from knowledge import logs
from knowledge.errors import BriefError, IngestWorkerError, SourceError
from knowledge.models import PollReport
from knowledge.settings import Settings
from knowledge.sources.poll import AnswerGate

log = logging.getLogger(__name__)

WORKER_THREADS = 1  # torch threads in the worker: two stall whenever one of them is preempted
LOW_NICE = 10  # BRIEF_INGEST_PRIORITY=low
WORKER_CHUNK = 16  # items per ingest call: nothing in the worker's process waits on them
SHUTDOWN_GRACE_S = 10.0  # how long close() lets a poll in flight finish before stopping it

Request = tuple[str, int | None]  # ("poll_due" | "ingest" | "ping", source id)


class Polling(Protocol):
    """What the worker's process polls through (knowledge/build.py's Ingestion)."""

    def warm_up(self) -> None:
        """Load the model and the index."""
        ...

    def poll_due(self) -> PollReport:
        """Poll the sources that are due."""
        ...

    def ingest_sources(self, source_id: int | None = None) -> PollReport:
        """Poll every active unpaused source now, or one."""
        ...

    def close(self) -> None:
        """Release everything it holds."""
        ...


class BuildPolling(Protocol):
    """Builds the worker's Polling from the settings (knowledge/build.py's build_ingestion,
    a module-level function: 'spawn' sends it to the new process by name)."""

    def __call__(self, settings: Settings, *, gate: AnswerGate, chunk: int) -> Polling: ...


class IngestWorker:
    """The polling process, seen from the answering one. Thread-safe; one request at a time."""

    def __init__(
        self,
        settings: Settings,
        *,
        build: BuildPolling,
        priority: str | None = None,
        threads: int = WORKER_THREADS,
        chunk: int = WORKER_CHUNK,
        grace_s: float = SHUTDOWN_GRACE_S,
        gate: AnswerGate | None = None,
    ) -> None:
        self.settings = settings
        self.build = build
        self.gate = gate or AnswerGate()  # the worker waits between batches while it is busy
        self.priority = priority or settings.ingest_priority
        self.threads = threads
        self.chunk = chunk
        self.grace_s = grace_s
        self._busy = threading.Lock()  # held for a whole request (and while starting)
        self._state = threading.Lock()  # guards _process, _conn, _closed
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs, else None."""
        with self._state:
            process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def start(self) -> None:
        """Start the worker now (when it is not running) and wait until it has loaded the
        model; IngestWorkerError when it cannot start."""
        with self._busy:
            self._ensure()

    def poll_due(self) -> PollReport:
        """Poll the sources that are due, in the worker; an empty report when it is already
        polling (the scheduled job's next tick catches up)."""
        if not self._busy.acquire(blocking=False):
            return PollReport()
        try:
            return self._call(("poll_due", None))
        finally:
            self._busy.release()

    def ingest(self, source_id: int | None = None) -> PollReport:
        """Poll now, in the worker: every active unpaused source, or one (a paused one too).
        Waits for a poll in flight. SourceError for an unknown source id."""
        with self._busy:
            return self._call(("ingest", source_id))

    def close(self) -> None:
        """Stop the worker: a request in flight gets `grace_s` seconds to finish, then the
        worker is asked to stop (or terminated). Later requests raise IngestWorkerError."""
        with self._state:
            self._closed = True
        idle = self._busy.acquire(timeout=self.grace_s)
        try:
            with self._state:
                process, conn = self._process, self._conn
                self._process = self._conn = None
            if process is None or conn is None:
                return
            if idle:
                with contextlib.suppress(OSError):
                    conn.send(None)  # stop after reading this
                process.join(self.grace_s)
            if process.is_alive():
                # still polling (or stuck): stopping it mid-poll is as safe as a crash; the
                # request in flight learns of it from its own wait
                log.warning("ingest worker (pid %s) did not stop; terminating it", process.pid)
                process.terminate()
                process.join(self.grace_s)
                if process.is_alive():
                    process.kill()
                    process.join()
            if idle:
                conn.close()
        finally:
            if idle:
                self._busy.release()

    # --- inside the answering process -----------------------------------------------------
    def _call(self, request: Request) -> PollReport:
        conn = self._ensure()
        try:
            conn.send(request)
        except OSError:  # it died since _ensure looked
            self._receive()  # raises IngestWorkerError with its exit code
        answer = self._receive()
        match answer:
            case ("ok", PollReport() as report):
                return report
            case ("source", str(message)):
                raise SourceError(message)
            case ("error", str(message)):
                raise IngestWorkerError(message)
        raise IngestWorkerError(f"the ingest worker answered {answer!r:.200}")

    def _ensure(self) -> Connection:
        """The pipe to a running worker, started first when there is none (or it died)."""
        with self._state:
            if self._closed:
                raise IngestWorkerError("the ingest worker is shut down")
            process, conn = self._process, self._conn
        if process is not None and conn is not None:
            if process.is_alive():
                return conn
            process.join()
            log.warning(
                "ingest worker (pid %s) stopped with exit code %s; starting a new one",
                process.pid,
                process.exitcode,
            )
            self._discard(process)
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=serve,
            args=(
                theirs,
                self.build,
                self.settings,
                self.priority,
                self.threads,
                self.chunk,
                self.gate.shared,
                _log_level(),
            ),
            name="brief-ingest",
            daemon=True,  # never outlives an interpreter that exits normally
        )
        process.start()
        theirs.close()  # ours alone: the worker sees EOF when we are gone
        with self._state:
            self._process, self._conn = process, ours
        ready = self._receive()
        if ready != ("ready", process.pid):
            self._discard(process, kill=True)
            raise IngestWorkerError(f"the ingest worker did not start: {ready!r:.200}")
        log.info("ingest worker started (pid %s, %s priority)", process.pid, self.priority)
        return ours

    def _receive(self) -> Any:
        """The worker's next message; IngestWorkerError when it dies (or is stopped) first."""
        with self._state:
            process, conn = self._process, self._conn
        if process is None or conn is None:
            raise IngestWorkerError("the ingest worker was stopped")
        wait([conn, process.sentinel])
        try:
            if conn.poll():
                return conn.recv()
        except (EOFError, OSError):
            pass
        process.join()
        self._discard(process)
        raise IngestWorkerError(
            f"the ingest worker (pid {process.pid}) stopped with exit code {process.exitcode}; "
            "the next poll starts a new one"
        )

    def _discard(self, process: BaseProcess, kill: bool = False) -> None:
        """Forget `process` (when it is still the current worker) and close its pipe."""
        with self._state:
            if self._process is not process:
                return
            conn = self._conn
            self._process = self._conn = None
        if conn is not None:
            conn.close()
        if kill and process.is_alive():
            process.kill()
        process.join()


# --- inside the worker process ----------------------------------------------------------------


def _log_level() -> int:
    """The level the worker logs at: the answering process's, when it logs at all (a bench or
    a library caller that configured no logging sees warnings only, as in its own process)."""
    root = logging.getLogger()
    return root.getEffectiveLevel() if root.handlers else logging.WARNING


def lower_priority(priority: str) -> None:
    """Lower this process's CPU priority: "idle" runs it only on CPU time nothing else wants
    (Linux SCHED_IDLE: a waking answer takes its CPU at once; nice 19 where that is missing),
    "low" gives it nice +10 (a share of a busy CPU, for machines where other services keep the
    CPUs busy)."""
    if priority == "idle":
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
        except (AttributeError, OSError):  # not Linux
            os.nice(19)
            return
    os.nice(LOW_NICE)


def serve(
    conn: Connection,
    build: BuildPolling,
    settings: Settings,
    priority: str,
    threads: int,
    chunk: int,
    answers: Any,
    log_level: int,
) -> None:
    """The worker's main: lower its priority, build the ingestion side, load the model once,
    then answer requests until told to stop or the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    lower_priority(priority)  # before torch starts its threads, so they inherit it
    logs.configure(log_level, settings.log_format)

    if threads > 0:  # the builder sets torch's threads from the settings
        settings = settings.model_copy(update={"model_threads": threads})
    # the answering process's count of answers in progress: polling yields to them
    polling = build(settings, gate=AnswerGate(answers), chunk=chunk)
    try:
        polling.warm_up()
        conn.send(("ready", os.getpid()))
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):  # the parent is gone
                return
            if request is None:
                return
            conn.send(_answer(polling, request))
    except (BrokenPipeError, ConnectionResetError):  # the parent is gone
        return
    finally:
        polling.close()


def _answer(polling: Polling, request: Request) -> tuple[str, object]:
    kind, source_id = request
    try:
        if kind == "poll_due":
            return ("ok", polling.poll_due())
        if kind == "ingest":
            return ("ok", polling.ingest_sources(source_id))
        return ("error", f"unknown request {kind!r}")
    except SourceError as exc:
        return ("source", str(exc))
    except BriefError as exc:
        return ("error", str(exc))
    except Exception as exc:  # a bug: keep the traceback here, tell the parent in one line
        log.exception("ingest worker: %s failed", kind)
        return ("error", f"internal error in the ingest worker: {type(exc).__name__}")
