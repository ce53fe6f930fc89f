"""The approximate nearest-neighbour graph (HNSW, the usearch library) over a block of rows.

Chosen by measurement in bench/bench_ann.py among usearch, hnswlib and faiss-cpu (recall@10
against the exact product, p50, memory and build time at 200k and 1M rows of the corpus's
embeddings). A graph is built once over a fixed set of rows and never changed afterwards:
rows added later are scanned exactly until a background build takes them in (knowledge/index.py),
and removed rows are filtered out of its answers. Its keys are row numbers of the dense index.
Vectors are held as float16 inside the graph (the exact cosines come from the index's own
float16 rows, knowledge/index.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

CONNECTIVITY = 16  # HNSW links per node (M)
EXPANSION_ADD = 128  # candidate list while building (efConstruction)
EXPANSION_SEARCH = 96  # candidate list while searching (ef), at least the rows asked for


class AnnGraph:
    """One immutable HNSW graph over some rows; `search` is safe from several threads."""

    def __init__(self, index: object, rows: int) -> None:
        self._index = index
        self.rows = rows  # vectors held
        # usearch's searches share per-thread contexts; one at a time keeps them apart (a
        # search takes about a millisecond, far less than the rest of an answer)
        self._lock = threading.Lock()

    @classmethod
    def build(
        cls, keys: npt.NDArray[np.int64], vectors: npt.NDArray[np.float16], threads: int = 1
    ) -> AnnGraph:
        """A graph over `vectors` (unit rows), answering with `keys`."""
        from usearch.index import Index

        index = Index(
            ndim=vectors.shape[1],
            metric="cos",
            dtype="f16",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        if len(keys):
            index.add(keys.astype(np.uint64), vectors, threads=threads)
        return cls(index, len(keys))

    @classmethod
    def load(cls, path: Path, view: bool = True) -> AnnGraph:
        """A saved graph; with `view`, memory-mapped rather than read into memory."""
        from usearch.index import Index

        index = Index.restore(str(path), view=view)
        if index is None:
            raise ValueError(f"{path} is not a usearch index")
        return cls(index, len(index))

    def save(self, path: Path) -> None:
        """Write the graph to `path`."""
        self._index.save(str(path))  # type: ignore[attr-defined]

    @property
    def memory_bytes(self) -> int:
        """Bytes the graph and its vectors take (the library's own count)."""
        return int(self._index.memory_usage)  # type: ignore[attr-defined]

    def search(self, query: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.int64]:
        """The keys of about `count` nearest rows, nearest first."""
        if not self.rows:
            return np.zeros(0, dtype=np.int64)
        with self._lock:
            index = self._index
            if index.expansion_search < count:  # type: ignore[attr-defined]
                index.expansion_search = count  # type: ignore[attr-defined]
            found = index.search(query, min(count, self.rows), threads=1)  # type: ignore[attr-defined]
        return np.asarray(found.keys, dtype=np.int64)
