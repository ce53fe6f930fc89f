"""Which approximate nearest-neighbour library: usearch, hnswlib and faiss-cpu on the corpus's
embeddings at 200k and 1M rows (quick: 50k).

The rows are the real embeddings of the cached corpus (Asia + distractors, ~7.3k articles),
replicated with Gaussian noise (σ=0.03 per dimension, re-normalised: common.NOISE_SIGMA, as the
scaled databases of the other benchmarks); the queries are 200 real questions and headlines
(common.query_set) through the real model. Exact top 10 by the float32 product. Each library
builds with its usual HNSW settings (M=16, efConstruction=128) on 2 threads and is queried one
question at a time on 1 thread; faiss also runs an IVF index (the other family). Memory is the
library's own count where it has one, else the process's RSS growth while building. Built
indexes are cached in bench/.cache (keyed by library, size and settings).

Run: .venv/bin/python bench/bench_ann.py [--quick]
"""

from __future__ import annotations

import gc
import importlib.util
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import common
import numpy as np
import numpy.typing as npt

SIZES = (200_000, 1_000_000)
QUICK_SIZES = (50_000,)
QUERIES = 200
K = 10
M = 16
EF_CONSTRUCTION = 128
EF_SEARCH = (64, 128, 256)
BUILD_THREADS = 2
SEED = 13


def base_vectors() -> npt.NDArray[np.float32]:
    """The corpus's stored embeddings (float16 rows), as float32."""
    _, full = common.corpus_dbs()
    conn = sqlite3.connect(f"file:{full}?mode=ro", uri=True)
    blobs = [r[0] for r in conn.execute("SELECT embedding FROM articles ORDER BY id")]
    conn.close()
    from knowledge.embedder import from_blobs

    return from_blobs(blobs)


def replicated(base: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.float32]:
    """`size` rows: the base rows, then noisy re-normalised copies of them (deterministic)."""
    rng = np.random.default_rng(SEED)
    out = np.empty((size, base.shape[1]), dtype=np.float32)
    for start in range(0, size, 65_536):
        stop = min(start + 65_536, size)
        idx = np.arange(start, stop) % len(base)
        block = base[idx].copy()
        copies = np.arange(start, stop) >= len(base)
        block[copies] += rng.normal(0.0, common.NOISE_SIGMA, (int(copies.sum()), base.shape[1]))
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out


def exact_top(vectors: npt.NDArray[np.float32], queries: npt.NDArray[np.float32]) -> np.ndarray:
    """The exact top K rows per query, by the float32 product."""
    sims = np.empty((len(queries), len(vectors)), dtype=np.float32)
    for start in range(0, len(vectors), 131_072):
        sims[:, start : start + 131_072] = queries @ vectors[start : start + 131_072].T
    top = np.argpartition(-sims, K, axis=1)[:, :K]
    return top


def recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    """Mean share of the exact top K among the first K found."""
    return float(
        np.mean(
            [
                len(set(f[:K].tolist()) & set(t.tolist())) / K
                for f, t in zip(found, truth, strict=True)
            ]
        )
    )


def rss_mb() -> float:
    return common.proc_status_mb("VmRSS")


# --- the libraries: build (or load from the cache), set ef, query one vector -------------
class Candidate:
    name = ""
    params = ""

    def build(self, vectors: npt.NDArray[np.float32], path: Path) -> None:
        raise NotImplementedError

    def load(self, path: Path) -> None:
        raise NotImplementedError

    def set_search(self, ef: int) -> None:
        raise NotImplementedError

    def query(self, vector: npt.NDArray[np.float32]) -> np.ndarray:
        raise NotImplementedError

    def memory_mb(self) -> float | None:
        return None


class Usearch(Candidate):
    name, params = "usearch", f"HNSW M={M} efC={EF_CONSTRUCTION}, f16 vectors"

    def _new(self, dim: int) -> Any:
        from usearch.index import Index

        return Index(
            ndim=dim, metric="cos", dtype="f16", connectivity=M, expansion_add=EF_CONSTRUCTION
        )

    def build(self, vectors, path):  # type: ignore[no-untyped-def]
        self.index = self._new(vectors.shape[1])
        self.index.add(np.arange(len(vectors), dtype=np.uint64), vectors, threads=BUILD_THREADS)
        self.index.save(str(path))

    def load(self, path):  # type: ignore[no-untyped-def]
        from usearch.index import Index

        self.index = Index.restore(str(path), view=False)

    def set_search(self, ef):  # type: ignore[no-untyped-def]
        self.index.expansion_search = ef

    def query(self, vector):  # type: ignore[no-untyped-def]
        return np.asarray(self.index.search(vector, K, threads=1).keys, dtype=np.int64)

    def memory_mb(self):  # type: ignore[no-untyped-def]
        return self.index.memory_usage / 2**20


class Hnswlib(Candidate):
    name, params = "hnswlib", f"HNSW M={M} efC={EF_CONSTRUCTION}, f32 vectors"

    def build(self, vectors, path):  # type: ignore[no-untyped-def]
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=vectors.shape[1])
        self.index.init_index(max_elements=len(vectors), M=M, ef_construction=EF_CONSTRUCTION)
        self.index.set_num_threads(BUILD_THREADS)
        self.index.add_items(vectors, np.arange(len(vectors)))
        self.index.save_index(str(path))
        self.index.set_num_threads(1)

    def load(self, path):  # type: ignore[no-untyped-def]
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=384)
        self.index.load_index(str(path))
        self.index.set_num_threads(1)

    def set_search(self, ef):  # type: ignore[no-untyped-def]
        self.index.set_ef(ef)

    def query(self, vector):  # type: ignore[no-untyped-def]
        return self.index.knn_query(vector, K)[0][0].astype(np.int64)

    def memory_mb(self):  # type: ignore[no-untyped-def]
        n = self.index.get_current_count()
        return n * (384 * 4 + M * 2 * 4 + 8 + 4) / 2**20  # its level-0 layout; upper levels ~1/M


class FaissHnsw(Candidate):
    name, params = "faiss HNSW", f"IndexHNSWSQ M={M} efC={EF_CONSTRUCTION}, fp16 codes"

    def build(self, vectors, path):  # type: ignore[no-untyped-def]
        import faiss

        faiss.omp_set_num_threads(BUILD_THREADS)
        self.index = faiss.IndexHNSWSQ(
            vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, M, faiss.METRIC_INNER_PRODUCT
        )
        self.index.hnsw.efConstruction = EF_CONSTRUCTION
        self.index.train(vectors[:65_536])
        self.index.add(vectors)
        faiss.write_index(self.index, str(path))
        faiss.omp_set_num_threads(1)

    def load(self, path):  # type: ignore[no-untyped-def]
        import faiss

        self.index = faiss.read_index(str(path))
        faiss.omp_set_num_threads(1)

    def set_search(self, ef):  # type: ignore[no-untyped-def]
        self.index.hnsw.efSearch = ef

    def query(self, vector):  # type: ignore[no-untyped-def]
        return self.index.search(vector[None, :], K)[1][0].astype(np.int64)


class FaissIvf(Candidate):
    name, params = "faiss IVF", "IndexIVFScalarQuantizer fp16, nlist=4·√n, nprobe = ef/4"

    def build(self, vectors, path):  # type: ignore[no-untyped-def]
        import faiss

        faiss.omp_set_num_threads(BUILD_THREADS)
        nlist = int(4 * np.sqrt(len(vectors)))
        quantizer = faiss.IndexFlatIP(vectors.shape[1])
        self.index = faiss.IndexIVFScalarQuantizer(
            quantizer,
            vectors.shape[1],
            nlist,
            faiss.ScalarQuantizer.QT_fp16,
            faiss.METRIC_INNER_PRODUCT,
        )
        rng = np.random.default_rng(SEED)
        self.index.train(
            vectors[rng.choice(len(vectors), min(len(vectors), 40 * nlist), replace=False)]
        )
        self.index.add(vectors)
        faiss.write_index(self.index, str(path))
        faiss.omp_set_num_threads(1)

    def load(self, path):  # type: ignore[no-untyped-def]
        import faiss

        self.index = faiss.read_index(str(path))
        faiss.omp_set_num_threads(1)

    def set_search(self, ef):  # type: ignore[no-untyped-def]
        self.index.nprobe = max(1, ef // 4)

    def query(self, vector):  # type: ignore[no-untyped-def]
        return self.index.search(vector[None, :], K)[1][0].astype(np.int64)


CANDIDATES: tuple[Callable[[], Candidate], ...] = (Usearch, Hnswlib, FaissHnsw, FaissIvf)


def run_size(
    size: int, base: npt.NDArray[np.float32], queries: npt.NDArray[np.float32]
) -> list[list[object]]:
    vectors = replicated(base, size)
    truth = exact_top(vectors, queries)
    # the exact product itself, for scale: float16 rows through torch, one thread
    import torch

    torch.set_num_threads(1)
    rows16 = torch.from_numpy(vectors.astype(np.float16))
    times = []
    for q in queries[:50]:
        started = time.perf_counter()
        torch.mv(rows16, torch.from_numpy(q).half())
        times.append(time.perf_counter() - started)
    del rows16
    out: list[list[object]] = [
        [
            f"{size:,}",
            "exact (torch float16 product)",
            "-",
            "1.000",
            f"{1000 * common.median(times):.2f}",
            f"{size * 768 / 2**20:.0f}",
            "-",
            common.load_average(),
        ]
    ]
    for make in CANDIDATES:
        cand = make()
        module = cand.name.split()[0]
        if importlib.util.find_spec(module) is None:  # usearch, hnswlib: bench-only, pip them
            out.append([f"{size:,}", f"{cand.name}: not installed", "", "", "", "", "", ""])
            continue
        tag = cand.name.replace(" ", "-")
        path = common.ensure_cache() / f"ann-{tag}-{size}-M{M}-efc{EF_CONSTRUCTION}.idx"
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        if path.exists():
            cand.load(path)
            build = "cached"
        else:
            common.log(f"building {cand.name} over {size:,} rows")
            cand.build(vectors, path)
            build = f"{time.perf_counter() - started:.0f}"
        memory = cand.memory_mb()
        memory_mb = memory if memory is not None else rss_mb() - before
        for ef in EF_SEARCH:
            cand.set_search(ef)
            found, lat = [], []
            for q in queries:
                started = time.perf_counter()
                found.append(cand.query(q))
                lat.append(time.perf_counter() - started)
            out.append(
                [
                    f"{size:,}",
                    f"{cand.name} ({cand.params}), ef={ef}",
                    build,
                    f"{recall(found, truth):.3f}",
                    f"{1000 * common.median(lat):.2f}",
                    f"{memory_mb:.0f}",
                    "",
                    common.load_average(),
                ]
            )
        del cand
        gc.collect()
    return out


def main(quick: bool = False) -> str:
    """The comparison table."""
    load_before, started = common.load_average(), time.perf_counter()
    base = base_vectors()
    queries = common.embedder().encode(common.query_set(QUERIES))
    rows: list[list[object]] = []
    for size in QUICK_SIZES if quick else SIZES:
        rows += run_size(size, base, queries)
    lines = [
        "## ANN libraries: recall@10 against exact, latency, memory, build time",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        common.table(
            [
                "rows",
                "index",
                "build s (2 threads)",
                "recall@10",
                "p50 ms (1 thread)",
                "memory MiB",
                "",
                "load (1, 5, 15 min)",
            ],
            rows,
        ),
    ]
    return "\n".join(lines + common.footer(load_before, started))


if __name__ == "__main__":
    common.cli(main)
