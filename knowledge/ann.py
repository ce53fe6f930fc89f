"""The approximate nearest-neighbour index over a block of rows: an inverted file (IVF, faiss).

Chosen by measurement in bench/bench_ann.py among usearch, hnswlib and faiss-cpu on the
corpus's embeddings replicated to 200k and 1M rows (each base article with ~137 noisy copies
at 1M): the HNSW graphs of all three lose recall among so many near-twins (recall@10 0.58-0.83
at 1M), faiss's IVF keeps it (0.988 at nprobe 16, 0.993 at 32) and builds in 131 s against
287-778 s. The lists hold 8-bit codes (384 bytes a row); the exact cosines of the rows kept come
from the dense index's own float16 rows (knowledge/index.py). An index is built once over a
fixed set of rows and never changed afterwards: rows added later are scanned exactly until a
background build takes them in, and removed rows are filtered out of its answers. Its ids are
row numbers of the dense index.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.embedder import DIM

LIST_FACTOR = 4  # lists = 4·√rows
NPROBE = 32  # lists searched per query
TRAIN_PER_LIST = 40  # training rows per list (a sample of the rows)
ADD_CHUNK = 65_536
SEED = 13


def _faiss() -> Any:
    """faiss, with the BLAS it brings kept to one thread like numpy's (knowledge/cores.py)."""
    import faiss
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    return faiss


class AnnGraph:
    """One immutable IVF index over some rows; `search` is safe from several threads."""

    def __init__(self, index: object, rows: int) -> None:
        self._index = index
        self.rows = rows  # vectors held

    @classmethod
    def build(
        cls,
        keys: npt.NDArray[np.int64],
        vectors: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]],
        threads: int = 1,
    ) -> AnnGraph:
        """An index over the unit rows `vectors(positions)` gives for positions into `keys`,
        answering with `keys`; read a chunk at a time, so no second copy of every row."""
        faiss = _faiss()
        faiss.omp_set_num_threads(threads)
        dim = DIM
        lists = max(1, min(int(LIST_FACTOR * math.sqrt(len(keys))), len(keys) // TRAIN_PER_LIST))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        rng = np.random.default_rng(SEED)
        sample = rng.choice(len(keys), min(len(keys), TRAIN_PER_LIST * lists), replace=False)
        index.train(vectors(np.sort(sample).astype(np.int64)))
        for start in range(0, len(keys), ADD_CHUNK):
            chunk = vectors(np.arange(start, min(start + ADD_CHUNK, len(keys)), dtype=np.int64))
            index.add_with_ids(chunk, keys[start : start + ADD_CHUNK].astype(np.int64))
        index.nprobe = min(NPROBE, lists)
        faiss.omp_set_num_threads(1)  # queries come one at a time, from several threads
        return cls(index, len(keys))

    @classmethod
    def load(cls, path: Path) -> AnnGraph:
        """A saved index, its lists memory-mapped."""
        faiss = _faiss()
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        return cls(index, int(index.ntotal))

    def save(self, path: Path) -> None:
        """Write the index to `path`."""
        faiss = _faiss()
        faiss.write_index(self._index, str(path))  # type: ignore[call-overload]

    def search(self, query: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.int64]:
        """The ids of about `count` nearest rows, nearest first."""
        if not self.rows:
            return np.zeros(0, dtype=np.int64)
        vector = np.asarray(query, dtype=np.float32).reshape(1, -1)
        _, ids = self._index.search(vector, min(count, self.rows))  # type: ignore[attr-defined]
        found = ids[0]
        return found[found >= 0].astype(np.int64)
