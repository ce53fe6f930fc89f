"""The in-memory dense index: every article's unit vector, read through immutable snapshots.

A query takes one snapshot and reads only it, so rows appended meanwhile (an import, a poll)
never mix into its answer: growing writes the new rows past the end of what any published
snapshot can see, or into a new buffer, and then publishes a new snapshot whole.

Measured in bench/ (bench_search_latency.py, 100k rows, 2 cores): numpy's float32 product over
pre-normalised rows beats torch's float16 one, kept before to halve the memory read (CPUs have
no fast half-precision product), and sklearn's NearestNeighbors(metric="cosine"), which
re-normalises the matrix per query. The rows are float32 in memory (150 MB at 100k articles),
float16 on disk. numpy's BLAS runs single-threaded (knowledge/cores.py), so a large index
computes the product with torch, on the threads the model uses (no second pool to fight it).

A query's scan over a large index reads a bfloat16 copy of the rows (half the bytes; this CPU
multiplies bfloat16 natively: 1.7 ms against 3.9 for float32 at 100k rows, cosine error below
1e-3), then `refine` recomputes the exact float32 cosine of the rows it keeps, so answers carry
the same cosines as the exact product.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge.embedder import DIM, Vectors, from_blobs
from knowledge.store import VectorRows

DUPLICATE_CHUNK = 16_384  # rows per block in the near-duplicate check
PARALLEL_ROWS = 20_000  # from this many rows a query's product runs on torch's threads


def bfloat16_bits(vectors: Vectors) -> npt.NDArray[np.int16]:
    """float32 rows rounded to bfloat16 (to nearest, ties to even), as the raw 16-bit words
    torch reads with `.view(torch.bfloat16)`."""
    bits = np.ascontiguousarray(vectors, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(
        16
    )
    return rounded.astype(np.uint16).view(np.int16)


def _epoch_seconds(times: list[str]) -> npt.NDArray[np.float64]:
    stamps = np.array([t.rstrip("Z") for t in times], dtype="datetime64[s]")
    return stamps.astype(np.int64).astype(np.float64)


@dataclass(frozen=True, slots=True)
class IndexSnapshot:
    """The index as it was at one moment: arrays of exactly `len(self)` rows, never changed."""

    matrix: npt.NDArray[np.float32]  # (rows, DIM) unit vectors
    coarse: npt.NDArray[np.int16]  # the same rows in bfloat16 (raw bits), for scans
    ids: npt.NDArray[np.int64]  # article ids, ascending
    stories: npt.NDArray[np.int64]  # each row's story id
    times: npt.NDArray[np.float64]  # each row's published (else fetched) time, epoch seconds

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def max_id(self) -> int:
        """The highest article id held (0 when empty)."""
        return int(self.ids[-1]) if len(self.ids) else 0

    @property
    def approximate(self) -> bool:
        """True when `similarities(exact=False)` scans the bfloat16 copy."""
        return len(self) >= PARALLEL_ROWS

    def similarities(self, query: Vectors, exact: bool = True) -> npt.NDArray[np.float32]:
        """Cosine similarity of a unit query vector to every row; with `exact=False` a large
        index scans its bfloat16 copy (`refine` then makes the rows kept exact)."""
        vector = np.asarray(query, dtype=np.float32)
        if not self.approximate:
            result: npt.NDArray[np.float32] = self.matrix @ vector
            return result
        import torch  # loaded with the model already

        if exact:
            product = torch.mv(torch.from_numpy(self.matrix), torch.from_numpy(vector))
        else:
            rows = torch.from_numpy(self.coarse).view(torch.bfloat16)
            product = torch.mv(rows, torch.from_numpy(vector).to(torch.bfloat16)).float()
        return product.numpy()

    def refine(
        self, sims: npt.NDArray[np.float32], rows: npt.NDArray[np.int64], query: Vectors
    ) -> None:
        """Overwrite `sims` at `rows` with their exact float32 cosines."""
        if len(rows):
            sims[rows] = self.matrix[rows] @ np.asarray(query, dtype=np.float32)

    def rows_of(self, article_ids: list[int]) -> npt.NDArray[np.int64]:
        """Row numbers of these article ids (-1 for ids not held)."""
        wanted = np.asarray(article_ids, dtype=np.int64)
        if not len(self.ids):
            return np.full(len(wanted), -1, dtype=np.int64)
        pos = np.searchsorted(self.ids, wanted)
        pos[pos >= len(self.ids)] = 0
        return np.where(self.ids[pos] == wanted, pos, -1).astype(np.int64)

    def story_of_rows(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The story id of each row."""
        return self.stories[rows]

    def time_of_rows(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The effective time (published, else fetched) of each row, in epoch seconds."""
        return self.times[rows]

    def nearest_stories(
        self, vectors: Vectors, times: npt.NDArray[np.float64], window_s: float, threshold: float
    ) -> list[int | None]:
        """For each vector, the story of the most similar row within the time window, when
        that similarity reaches the threshold."""
        out: list[int | None] = [None] * len(vectors)
        size = len(self)
        if not size or not len(vectors):
            return out
        # Over chunks of rows: the (rows, batch) product stays small.
        batch = np.ascontiguousarray(vectors.T, dtype=np.float32)
        best: dict[int, tuple[float, int]] = {}
        for start in range(0, size, DUPLICATE_CHUNK):
            stop = min(start + DUPLICATE_CHUNK, size)
            sims = self.matrix[start:stop] @ batch  # (rows, batch)
            # Few pairs reach the threshold: check the time window only for those.
            rows, cols = np.nonzero(sims >= threshold)
            inside = np.abs(self.times[start + rows] - times[cols]) <= window_s
            for row, col in zip(rows[inside].tolist(), cols[inside].tolist(), strict=True):
                similarity = float(sims[row, col])
                if col not in best or similarity > best[col][0]:
                    best[col] = (similarity, start + row)
        for col, (_, row) in best.items():
            out[col] = int(self.stories[row])
        return out


def _empty_snapshot() -> IndexSnapshot:
    return IndexSnapshot(
        np.zeros((0, DIM), dtype=np.float32),
        np.zeros((0, DIM), dtype=np.int16),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.float64),
    )


class DenseIndex:
    """Growable buffers behind immutable snapshots; `snapshot()` is what readers use."""

    def __init__(self) -> None:
        self._matrix: npt.NDArray[np.float32] = np.zeros((0, DIM), dtype=np.float32)
        self._coarse: npt.NDArray[np.int16] = np.zeros((0, DIM), dtype=np.int16)
        self._ids = np.zeros(0, dtype=np.int64)
        self._stories = np.zeros(0, dtype=np.int64)
        self._times = np.zeros(0, dtype=np.float64)
        self._snapshot = _empty_snapshot()
        self._lock = threading.Lock()  # one writer at a time; readers never take it

    def snapshot(self) -> IndexSnapshot:
        """The index as it is now; later additions never change it."""
        return self._snapshot

    def __len__(self) -> int:
        return len(self._snapshot)

    @property
    def max_id(self) -> int:
        """The highest article id held (0 when empty)."""
        return self._snapshot.max_id

    def add(self, rows: VectorRows) -> None:
        """Append stored rows; ids must be above max_id."""
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
        vectors: Vectors,
    ) -> None:
        """Append rows given as arrays (ids ascending, above max_id), then publish them."""
        with self._lock:
            size = len(self._snapshot)
            end = size + len(ids)
            if end > len(self._ids):
                # A new buffer: published snapshots keep the old one, untouched.
                capacity = max(end, 2 * len(self._ids), 1024)
                self._matrix = _grow(self._matrix, capacity)
                self._coarse = _grow(self._coarse, capacity)
                self._ids = _grow(self._ids, capacity)
                self._stories = _grow(self._stories, capacity)
                self._times = _grow(self._times, capacity)
            # Rows past `size` are invisible to every published snapshot until this one.
            self._matrix[size:end] = vectors
            self._coarse[size:end] = bfloat16_bits(self._matrix[size:end])
            self._ids[size:end] = ids
            self._stories[size:end] = stories
            self._times[size:end] = times
            self._snapshot = IndexSnapshot(
                self._matrix[:end],
                self._coarse[:end],
                self._ids[:end],
                self._stories[:end],
                self._times[:end],
            )


def _grow(array: npt.NDArray, capacity: int) -> npt.NDArray:  # type: ignore[type-arg]
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown
