"""The in-memory dense index: every article's unit vector (float16), read through immutable
snapshots, with an approximate nearest-neighbour graph above a size threshold.

A query takes one snapshot and reads only it, so rows appended meanwhile (an import, a poll)
never mix into its answer. Rows live in fixed-size blocks of float16 vectors (768 bytes a row):
growing fills the last block or adds a new one, and never copies the rows held (only the
per-row ids, stories and times, 24 bytes a row, double their arrays when full).

Scores are as before: a scan of the float16 rows (torch's half-precision product, on the
model's threads) picks the candidates, then `refine` recomputes the exact cosine (float32
arithmetic over the stored float16 values) of every row kept.

Above `ann_threshold` rows (BRIEF_ANN_THRESHOLD) a query does not scan every row: IVF indexes
(knowledge/ann.py) each cover a fixed range of rows and give the candidates there, the rows
past the last graph are scanned exactly, and the union is refined as above. A background
thread builds the graphs: the whole index when it first crosses the threshold or when too much
of it was removed, else a graph over the newest rows once they are many. Removed and changed
articles are marked dead (a change to an article is its old row dead and a new row at the
end); a query skips dead rows, so a removal reaches the next answer without a rebuild. Marks
are written in place: a query in flight when an article is removed may already miss it.

Starts: the index is saved beside the store (`save`) and loaded at start with its vectors
memory-mapped; it is used only when it matches the store (row count, highest id and change
cursor, after applying what was stored since). A missing, corrupt or stale file is rebuilt in
the background from the store, and queries are answered by the exact scan meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from knowledge.ann import AnnGraph
from knowledge.embedder import DIM, Vectors, from_blobs
from knowledge.store import VectorRows

log = logging.getLogger(__name__)

DUPLICATE_CHUNK = 16_384  # rows per block in the near-duplicate check
BLOCK_ROWS = 65_536  # rows per vector block (48 MiB of float16)
READ_PAGE = 50_000  # rows read from the store at a time when loading
RESCORE = 4  # candidates taken from the coarse scan or the graphs per row wanted
DELTA_ROWS = 50_000  # rows past the last graph that make the builder add a graph over them
MAX_GRAPHS = 4  # more graphs than this (or DEAD_SHARE of the rows dead): one rebuild
DEAD_SHARE = 0.1
SAVE_VERSION = 1
ANN_THRESHOLD = 50_000  # the default of BRIEF_ANN_THRESHOLD


class VectorSource(Protocol):
    """What the index reads from a store's articles (either backend)."""

    def index_state(self) -> tuple[int, int, int]: ...
    def vectors_after(self, after_id: int, limit: int | None = None) -> VectorRows: ...
    def vectors_of(self, ids: Sequence[int]) -> VectorRows: ...
    def changes_after(self, seq: int) -> tuple[int, list[int]]: ...


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """How the index behaves: the row count from which graphs answer, and where it is saved
    (None: never saved, always read from the store)."""

    ann_threshold: int = ANN_THRESHOLD
    path: Path | None = None
    build_threads: int = 2


def _epoch_seconds(times: list[str]) -> npt.NDArray[np.float64]:
    stamps = np.array([t.rstrip("Z") for t in times], dtype="datetime64[s]")
    return stamps.astype(np.int64).astype(np.float64)


def half_rows(vectors: Vectors | npt.NDArray[np.float16]) -> npt.NDArray[np.float16]:
    """Unit float32 rows as the float16 the index holds."""
    return np.asarray(vectors, dtype=np.float16)


@dataclass(frozen=True, slots=True)
class Graphs:
    """The graphs of a snapshot: `graphs[i]` covers rows `spans[i]`; rows from `upto` on are
    covered by none."""

    graphs: tuple[AnnGraph, ...] = ()
    spans: tuple[tuple[int, int], ...] = ()

    @property
    def upto(self) -> int:
        return self.spans[-1][1] if self.spans else 0


@dataclass(frozen=True, slots=True)
class IndexSnapshot:
    """The index as it was at one moment: `len(self)` rows, never changed (but for dead marks)."""

    blocks: tuple[npt.NDArray[np.float16], ...]  # row blocks, the last one sliced to its fill
    starts: npt.NDArray[np.int64]  # first row of each block
    ids: npt.NDArray[np.int64]  # article id of each row
    stories: npt.NDArray[np.int64]  # each row's story id
    times: npt.NDArray[np.float64]  # each row's published (else fetched) time, epoch seconds
    alive: npt.NDArray[np.bool_]  # False for rows removed or replaced (written in place)
    row_of_id: npt.NDArray[np.int64]  # article id -> its live row, -1 (written in place)
    graphs: Graphs = field(default_factory=Graphs)
    ann_threshold: int = ANN_THRESHOLD
    dead: int = 0  # dead rows among these

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def live(self) -> int:
        """Articles held (rows not dead)."""
        return len(self) - self.dead

    @property
    def max_id(self) -> int:
        """The highest article id held (0 when empty)."""
        return int(self.ids.max()) if len(self.ids) else 0

    @property
    def approximate(self) -> bool:
        """True: the scan is in float16, so kept rows are refined (always, now)."""
        return True

    @property
    def uses_graphs(self) -> bool:
        """True when queries take candidates from the graphs."""
        return bool(self.graphs.graphs) and len(self) >= self.ann_threshold

    @property
    def matrix(self) -> Vectors:
        """Every row as float32 (a copy: for benchmarks and small indexes only)."""
        return self.vectors(np.arange(len(self), dtype=np.int64))

    def vectors(self, rows: npt.NDArray[np.int64]) -> Vectors:
        """These rows as float32."""
        out = np.empty((len(rows), DIM), dtype=np.float32)
        if not len(rows):
            return out
        which = np.searchsorted(self.starts, rows, side="right") - 1
        for block in np.unique(which).tolist():
            mask = which == block
            out[mask] = self.blocks[block][rows[mask] - self.starts[block]]
        return out

    def _scan(self, query: Vectors, lo: int = 0) -> npt.NDArray[np.float32]:
        """float16 cosines of rows lo.. to the query (dead rows get -2)."""
        import torch  # loaded with the model already

        vector = torch.from_numpy(np.asarray(query, dtype=np.float32)).half()
        out = np.empty(len(self) - lo, dtype=np.float32)
        for start, block in zip(self.starts.tolist(), self.blocks, strict=True):
            stop = start + len(block)
            if stop <= lo:
                continue
            skip = max(lo - start, 0)
            part = torch.mv(torch.from_numpy(block[skip:]), vector).float().numpy()
            out[start + skip - lo : stop - lo] = part
        if self.dead:
            out[~self.alive[lo : len(self)]] = -2.0
        return out

    def similarities(self, query: Vectors, exact: bool = True) -> npt.NDArray[np.float32]:
        """Cosine similarity of a unit query vector to every row (-2 for dead rows): the
        float16 scan, and with `exact` every row refined (slower; `refine` the rows kept
        instead)."""
        sims = self._scan(query)
        if exact and len(self):
            vector = np.asarray(query, dtype=np.float32)
            for start in range(0, len(self), DUPLICATE_CHUNK):
                rows = np.arange(start, min(start + DUPLICATE_CHUNK, len(self)), dtype=np.int64)
                sims[rows] = self.vectors(rows) @ vector
            if self.dead:
                sims[~self.alive[: len(self)]] = -2.0
        return sims

    def refine(
        self, sims: npt.NDArray[np.float32], rows: npt.NDArray[np.int64], query: Vectors
    ) -> None:
        """Overwrite `sims` at `rows` with their exact cosines (dead rows stay at -2)."""
        if len(rows):
            exact = self.vectors(rows) @ np.asarray(query, dtype=np.float32)
            sims[rows] = np.where(self.alive[rows], exact, np.float32(-2.0))

    def nearest(
        self, query: Vectors, n: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """(cosines of every row, the `n` nearest live rows, best first). The cosines are exact
        at those rows; elsewhere a float16 estimate, or -2 where the graphs answered."""
        size = len(self)
        n = min(n, self.live)
        if not n:
            return np.full(size, -2.0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        wide = RESCORE * n
        if self.uses_graphs:
            upto = min(self.graphs.upto, size)
            sims = np.full(size, -2.0, dtype=np.float32)
            found = [g.search(query, 2 * wide if self.dead else wide) for g in self.graphs.graphs]
            rows = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
            rows = rows[rows < upto]
            if upto < size:  # the newest rows, in no graph yet: scanned
                tail = self._scan(query, upto)
                keep = min(wide, len(tail))
                rows = np.concatenate(
                    [rows, upto + np.argpartition(-tail, keep - 1)[:keep].astype(np.int64)]
                )
            rows = np.unique(rows)
        else:
            sims = self._scan(query)
            keep = min(wide, size)
            rows = np.argpartition(-sims, keep - 1)[:keep].astype(np.int64)
        rows = rows[self.alive[rows]]
        self.refine(sims, rows, query)
        n = min(n, len(rows))
        if not n:
            return sims, np.zeros(0, dtype=np.int64)
        top = rows[np.argpartition(-sims[rows], n - 1)[:n]]
        return sims, top[np.argsort(-sims[top], kind="stable")].astype(np.int64)

    def rows_of(self, article_ids: list[int]) -> npt.NDArray[np.int64]:
        """Row numbers of these article ids (-1 for ids not held)."""
        wanted = np.asarray(article_ids, dtype=np.int64)
        out = np.full(len(wanted), -1, dtype=np.int64)
        inside = (wanted >= 0) & (wanted < len(self.row_of_id))
        out[inside] = self.row_of_id[wanted[inside]]
        out[out >= len(self)] = -1  # stored after this snapshot
        return out

    def live_rows(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Those of `rows` that are not dead."""
        return rows[self.alive[rows]]

    def story_of_rows(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The story id of each row."""
        return self.stories[rows]

    def time_of_rows(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The effective time (published, else fetched) of each row, in epoch seconds."""
        return self.times[rows]

    def nearest_stories(
        self, vectors: Vectors, times: npt.NDArray[np.float64], window_s: float, threshold: float
    ) -> list[int | None]:
        """For each vector, the story of the most similar live row within the time window,
        when that similarity reaches the threshold."""
        out: list[int | None] = [None] * len(vectors)
        size = len(self)
        if not size or not len(vectors):
            return out
        import torch

        batch = np.ascontiguousarray(vectors.T, dtype=np.float32)
        batch16 = torch.from_numpy(batch).half()
        best: dict[int, tuple[float, int]] = {}
        # float16 products pick the pairs near the threshold; their exact cosines decide
        for start, block in zip(self.starts.tolist(), self.blocks, strict=True):
            for lo in range(0, len(block), DUPLICATE_CHUNK):
                part = block[lo : lo + DUPLICATE_CHUNK]
                sims = torch.mm(torch.from_numpy(part), batch16).float().numpy()
                rows, cols = np.nonzero(sims >= threshold - 0.01)
                rows = rows + start + lo
                keep = self.alive[rows] & (np.abs(self.times[rows] - times[cols]) <= window_s)
                rows, cols = rows[keep], cols[keep]
                if not len(rows):
                    continue
                exact = np.einsum("ij,ji->i", self.vectors(rows), batch[:, cols])
                for row, col, similarity in zip(
                    rows.tolist(), cols.tolist(), exact.tolist(), strict=True
                ):
                    if similarity >= threshold and (col not in best or similarity > best[col][0]):
                        best[col] = (similarity, row)
        for col, (_, row) in best.items():
            out[col] = int(self.stories[row])
        return out


def _empty(threshold: int) -> IndexSnapshot:
    return IndexSnapshot(
        (),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.float64),
        np.zeros(0, dtype=np.bool_),
        np.zeros(0, dtype=np.int64),
        ann_threshold=threshold,
    )


@dataclass(slots=True)
class _Followed:
    """What of the store the index holds: up to `max_id`, changes up to `change`."""

    max_id: int = 0
    change: int = 0


class DenseIndex:
    """Growable blocks behind immutable snapshots; `snapshot()` is what readers use."""

    def __init__(self, settings: IndexSettings | None = None) -> None:
        self.settings = settings or IndexSettings()
        self._blocks: list[npt.NDArray[np.float16]] = []  # full-capacity arrays
        self._starts: list[int] = []
        self._ids = np.zeros(0, dtype=np.int64)
        self._stories = np.zeros(0, dtype=np.int64)
        self._times = np.zeros(0, dtype=np.float64)
        self._alive = np.zeros(0, dtype=np.bool_)
        self._row_of_id = np.zeros(0, dtype=np.int64)
        self._size = 0
        self._dead = 0
        self._graphs = Graphs()
        self._followed = _Followed()
        self._snapshot = _empty(self.settings.ann_threshold)
        self._lock = threading.RLock()  # one writer at a time; readers never take it
        self._started = False
        self._builder: threading.Thread | None = None
        self._closed = threading.Event()
        self._dead_base = 0  # dead rows when the graphs were last rebuilt (not in them)
        self.status = "empty"  # how the index came to be: for logs, tests and benchmarks
        self.built = threading.Event()  # set whenever a background build has finished

    # --- reading --------------------------------------------------------------------------
    def snapshot(self) -> IndexSnapshot:
        """The index as it is now; later additions never change it."""
        return self._snapshot

    def __len__(self) -> int:
        return len(self._snapshot)

    @property
    def max_id(self) -> int:
        """The highest article id held (0 when empty)."""
        return self._followed.max_id

    # --- writing --------------------------------------------------------------------------
    def add(self, rows: VectorRows) -> None:
        """Append stored rows (new articles, or new versions of held ones)."""
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
        vectors: Vectors | npt.NDArray[np.float16],
    ) -> None:
        """Append rows given as arrays, then publish them; an id already held replaces its
        old row."""
        with self._lock:
            self._append(ids, stories, times, half_rows(vectors))
            self._followed.max_id = max(self._followed.max_id, int(ids.max()) if len(ids) else 0)
            self._publish()
        self._maybe_build()

    def remove(self, article_ids: list[int]) -> None:
        """Mark these articles' rows dead (ids not held are ignored), then publish."""
        with self._lock:
            self._kill(np.asarray(article_ids, dtype=np.int64))
            self._publish()
        self._maybe_build()

    def _kill(self, ids: npt.NDArray[np.int64]) -> None:
        ids = ids[(ids >= 0) & (ids < len(self._row_of_id))]
        rows = self._row_of_id[ids]
        rows = rows[rows >= 0]
        self._alive[rows] = False
        self._row_of_id[ids] = -1
        self._dead += len(rows)

    def _append(
        self,
        ids: npt.NDArray[np.int64],
        stories: npt.NDArray[np.int64],
        times: npt.NDArray[np.float64],
        vectors: npt.NDArray[np.float16],
    ) -> None:
        if not len(ids):
            return
        self._kill(ids)  # a new version of a held article replaces it
        size, end = self._size, self._size + len(ids)
        if end > len(self._ids):  # metadata only: the vectors are never copied
            capacity = max(end, 2 * len(self._ids), 1024)
            self._ids = _grow(self._ids, capacity)
            self._stories = _grow(self._stories, capacity)
            self._times = _grow(self._times, capacity)
            self._alive = _grow(self._alive, capacity)
        top = int(ids.max()) + 1
        if top > len(self._row_of_id):
            grown = np.full(max(top, 2 * len(self._row_of_id), 1024), -1, dtype=np.int64)
            grown[: len(self._row_of_id)] = self._row_of_id
            self._row_of_id = grown
        done = 0
        while done < len(ids):
            if not self._blocks or self._starts[-1] + len(self._blocks[-1]) <= size + done:
                self._starts.append(size + done)
                self._blocks.append(np.zeros((BLOCK_ROWS, DIM), dtype=np.float16))
            block, start = self._blocks[-1], self._starts[-1]
            at = size + done - start
            take = min(len(block) - at, len(ids) - done)
            block[at : at + take] = vectors[done : done + take]
            done += take
        # rows past `size` are invisible to every published snapshot until the next one
        self._ids[size:end] = ids
        self._stories[size:end] = stories
        self._times[size:end] = times
        self._alive[size:end] = True
        self._row_of_id[ids] = np.arange(size, end, dtype=np.int64)
        self._size = end

    def _publish(self) -> None:
        size = self._size
        blocks = tuple(
            block[: min(len(block), size - start)]
            for start, block in zip(self._starts, self._blocks, strict=True)
            if start < size
        )
        self._snapshot = IndexSnapshot(
            blocks,
            np.asarray(self._starts[: len(blocks)], dtype=np.int64),
            self._ids[:size],
            self._stories[:size],
            self._times[:size],
            self._alive,
            self._row_of_id,
            self._graphs,
            self.settings.ann_threshold,
            self._dead,
        )

    # --- following a store ----------------------------------------------------------------
    def sync(self, articles: VectorSource) -> None:
        """Bring the index up to the store: on first use load the saved index (or read the
        store), then the rows stored and the articles removed or changed since."""
        if not self._started:
            with self._lock:
                if not self._started:
                    self._start(articles)
                    self._started = True
                    return
        _, max_id, change = articles.index_state()
        if max_id <= self._followed.max_id and change <= self._followed.change:
            return
        with self._lock:
            self._follow(articles)
        self._maybe_build()

    def _follow(self, articles: VectorSource) -> None:
        """Apply the changes, then the new rows, since what is followed (under the lock)."""
        change, changed = articles.changes_after(self._followed.change)
        if changed:
            self._kill(np.asarray(changed, dtype=np.int64))
            self._append_rows(articles.vectors_of(changed))
            # SQLite may give a removed highest id to the next article: read from the
            # highest id still held
            held = self._ids[: self._size][self._alive[: self._size]]
            self._followed.max_id = int(held.max()) if len(held) else 0
        self._followed.change = change
        for page in _pages(articles, self._followed.max_id):
            self._append_rows(page)
            self._followed.max_id = page.ids[-1]
        self._publish()

    def _append_rows(self, rows: VectorRows) -> None:
        if rows.ids:
            self._append(
                np.asarray(rows.ids, dtype=np.int64),
                np.asarray(rows.story_ids, dtype=np.int64),
                _epoch_seconds(rows.times),
                half_rows(from_blobs(rows.blobs)),
            )

    def _start(self, articles: VectorSource) -> None:
        """Load the saved index when it is sound and matches the store, else read the
        store; a large index without graphs gets them from the background builder."""
        started = time.perf_counter()
        path = self.settings.path
        if path is not None and (path / "meta.json").exists():
            try:
                self._load(path)
                self._follow(articles)
                count, _max_id, change = articles.index_state()
                if change < self._followed.change:
                    raise ValueError("saved after changes the store does not have")
                if self._snapshot.live != count:
                    raise ValueError(
                        f"{self._snapshot.live:,} rows against {count:,} articles in the store"
                    )
                self.status = "loaded"
                log.info(
                    "search index loaded from %s in %.1f s (%s rows)",
                    path,
                    time.perf_counter() - started,
                    f"{len(self._snapshot):,}",
                )
                self._maybe_build()
                return
            except Exception as exc:  # a broken or stale file is rebuilt, never trusted
                log.warning("search index at %s not used (%s); rebuilding it", path, exc)
                self._reset()
                self.status = "rebuilding"
        self._follow(articles)
        if self.status != "rebuilding":
            self.status = "read"
        log.info(
            "search index read from the store in %.1f s (%s rows)",
            time.perf_counter() - started,
            f"{len(self._snapshot):,}",
        )
        if path is not None and self._work() is None:
            self.save()  # no graph to build: saved now, for the next start's checks
        self._maybe_build()

    def _reset(self) -> None:
        self._blocks, self._starts = [], []
        self._ids = np.zeros(0, dtype=np.int64)
        self._stories = np.zeros(0, dtype=np.int64)
        self._times = np.zeros(0, dtype=np.float64)
        self._alive = np.zeros(0, dtype=np.bool_)
        self._row_of_id = np.zeros(0, dtype=np.int64)
        self._size = self._dead = self._dead_base = 0
        self._graphs = Graphs()
        self._followed = _Followed()
        self._publish()

    # --- the background builder -----------------------------------------------------------
    def _work(self) -> tuple[int, int] | None:
        """The rows the next graph should cover (lo, hi), if a build is due."""
        snap = self._snapshot
        size = len(snap)
        if size < self.settings.ann_threshold:
            return None
        graphs = snap.graphs
        # rows that died after the last rebuild are still in its graphs (filtered out of
        # their answers): too many of them, or too many graphs, and one graph replaces all
        dead_in_graphs = snap.dead - self._dead_base
        if (
            not graphs.graphs
            or len(graphs.graphs) > MAX_GRAPHS
            or dead_in_graphs > DEAD_SHARE * size
        ):
            return (0, size)
        if size - graphs.upto >= DELTA_ROWS:
            return (graphs.upto, size)
        return None

    def _maybe_build(self) -> None:
        if self._closed.is_set() or self._work() is None:
            return
        with self._lock:
            if self._builder is not None and self._builder.is_alive():
                return
            self.built.clear()
            self._builder = threading.Thread(
                target=self._build_loop, name="index-build", daemon=True
            )
            self._builder.start()

    def _build_loop(self) -> None:
        try:
            while not self._closed.is_set():
                span = self._work()
                if span is None:
                    break
                self._build(*span)
        except Exception:
            log.exception("building the search index's graph failed; exact scans go on")
        finally:
            self.built.set()

    def _build(self, lo: int, hi: int) -> None:
        started = time.perf_counter()
        snap = self._snapshot
        rows = np.arange(lo, hi, dtype=np.int64)
        rows = rows[snap.alive[rows]]
        graph = _build_graph(snap, rows, self.settings.build_threads)
        with self._lock:
            if lo == 0:  # a rebuild replaces every graph
                self._graphs = Graphs((graph,), ((0, hi),))
                self._dead_base = int((~snap.alive[:hi]).sum())
            else:
                self._graphs = Graphs(
                    (*self._graphs.graphs, graph), (*self._graphs.spans, (lo, hi))
                )
            self._publish()
        log.info(
            "search index graph over rows %s-%s built in %.1f s",
            f"{lo:,}",
            f"{hi:,}",
            time.perf_counter() - started,
        )
        if self.settings.path is not None:
            self.save()

    def wait_built(self, timeout: float | None = None) -> bool:
        """Wait until no background build is running (True) or the timeout passes."""
        builder = self._builder
        if builder is None:
            return True
        builder.join(timeout)
        return not builder.is_alive()

    def close(self) -> None:
        """Stop the builder (the graph being built is dropped) and save a changed index."""
        self._closed.set()
        self.wait_built()

    # --- saving and loading ---------------------------------------------------------------
    def save(self, path: Path | None = None) -> Path | None:
        """Write the index (vectors, rows, graphs) to its folder, atomically: a reader sees
        the old files or the new ones."""
        target = path or self.settings.path
        if target is None:
            return None
        with self._lock:
            snap = self._snapshot
            followed = replace(self._followed)
        target.mkdir(parents=True, exist_ok=True)
        generation = f"{time.time_ns():x}-{os.getpid()}"
        files: dict[str, str] = {}

        def put(name: str, array: np.ndarray) -> None:  # type: ignore[type-arg]
            file = f"{name}-{generation}.npy"
            np.save(target / file, array)
            files[name] = file

        vectors = np.lib.format.open_memmap(
            target / f"vectors-{generation}.npy",
            mode="w+",
            dtype=np.float16,
            shape=(len(snap), DIM),
        )
        for start, block in zip(snap.starts.tolist(), snap.blocks, strict=True):
            vectors[start : start + len(block)] = block
        vectors.flush()
        del vectors
        files["vectors"] = f"vectors-{generation}.npy"
        put("ids", snap.ids)
        put("stories", snap.stories)
        put("times", snap.times)
        put("alive", snap.alive[: len(snap)].copy())
        graphs: list[dict[str, Any]] = []
        for i, (graph, span) in enumerate(zip(snap.graphs.graphs, snap.graphs.spans, strict=True)):
            file = f"graph{i}-{generation}.faiss"
            graph.save(target / file)
            graphs.append({"file": file, "lo": span[0], "hi": span[1]})
        meta = {
            "version": SAVE_VERSION,
            "dim": DIM,
            "rows": len(snap),
            "live": snap.live,
            "max_id": followed.max_id,
            "change": followed.change,
            "files": files,
            "graphs": graphs,
            "crc": {
                name: _crc(target / str(file))
                for name, file in [*files.items(), *((g["file"], g["file"]) for g in graphs)]
            },
        }
        tmp = target / f"meta-{generation}.json"
        tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        tmp.replace(target / "meta.json")
        keep = {*files.values(), *(g["file"] for g in graphs), "meta.json"}
        for old in target.iterdir():
            if old.name not in keep and not old.name.startswith("meta-"):
                with contextlib.suppress(OSError):
                    old.unlink()
        log.info("search index saved to %s (%s rows)", target, f"{len(snap):,}")
        return target

    def _load(self, path: Path) -> None:
        """Adopt a saved index (its vectors memory-mapped); ValueError when it is not sound."""
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        if meta.get("version") != SAVE_VERSION or meta.get("dim") != DIM:
            raise ValueError("saved by another version")
        files = meta["files"]
        for name, file in [*files.items(), *((g["file"], g["file"]) for g in meta["graphs"])]:
            if _crc(path / file) != meta["crc"][name]:
                raise ValueError(f"{file} is damaged (checksum)")
        rows = int(meta["rows"])
        vectors = np.load(path / files["vectors"], mmap_mode="c")
        ids = np.load(path / files["ids"])
        stories = np.load(path / files["stories"])
        times = np.load(path / files["times"])
        alive = np.load(path / files["alive"])
        if vectors.shape != (rows, DIM) or vectors.dtype != np.float16:
            raise ValueError(f"vectors of shape {vectors.shape}, expected ({rows}, {DIM})")
        if not (len(ids) == len(stories) == len(times) == len(alive) == rows):
            raise ValueError("row arrays of different lengths")
        graphs = []
        spans = []
        for g in meta["graphs"]:
            graph = AnnGraph.load(path / g["file"])
            graphs.append(graph)
            spans.append((int(g["lo"]), int(g["hi"])))
        self._reset()
        if rows:
            self._blocks, self._starts = [vectors], [0]
        self._ids, self._stories, self._times = ids.copy(), stories.copy(), times.copy()
        self._alive = alive.copy()
        top = int(ids.max()) + 1 if rows else 0
        self._row_of_id = np.full(max(top, 1024), -1, dtype=np.int64)
        live = np.nonzero(alive)[0]
        self._row_of_id[ids[live]] = live
        self._size, self._dead = rows, int(rows - len(live))
        self._dead_base = self._dead
        self._graphs = Graphs(tuple(graphs), tuple(spans))
        self._followed = _Followed(int(meta["max_id"]), int(meta["change"]))
        if int(meta["live"]) != len(live):
            raise ValueError("live row count does not match its rows")
        self._publish()


def _crc(path: Path) -> int:
    value = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            value = zlib.crc32(chunk, value)
    return value


def _build_graph(snap: IndexSnapshot, rows: npt.NDArray[np.int64], threads: int) -> AnnGraph:
    """An index over these rows of the snapshot (keys are the row numbers)."""
    return AnnGraph.build(rows, lambda positions: snap.vectors(rows[positions]), threads)


def _pages(articles: VectorSource, after_id: int) -> Iterator[VectorRows]:
    while True:
        page = articles.vectors_after(after_id, READ_PAGE)
        if not page.ids:
            return
        yield page
        after_id = page.ids[-1]


def remove_saved(path: Path) -> None:
    """Delete a saved index folder (it is rebuilt on the next start)."""
    shutil.rmtree(path, ignore_errors=True)


def _grow(array: npt.NDArray, capacity: int) -> npt.NDArray:  # type: ignore[type-arg]
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown
