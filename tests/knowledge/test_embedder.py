"""The embedder: unit vectors, compact storage, and queries batched under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from knowledge.embedder import DIM, Embedder, from_blobs, to_blob

QUERIES = [f"{topic} news" for topic in ("Taiwan", "Spratly", "Quad", "Seoul", "Fiji", "ASEAN")]


def test_vectors_are_unit_length_and_stored_in_half_the_space(embedder: Embedder) -> None:
    vectors = embedder.encode(["Scarborough Shoal standoff", "AUKUS submarine deal"])
    assert vectors.shape == (2, DIM)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    blob = to_blob(vectors[0])
    assert len(blob) == DIM * 2
    restored = from_blobs([blob])[0]
    assert float(restored @ vectors[0]) > 0.9999


def test_concurrent_queries_get_their_own_vectors(embedder: Embedder) -> None:
    expected = embedder.encode(QUERIES)
    with ThreadPoolExecutor(max_workers=len(QUERIES) * 2) as pool:
        got = list(pool.map(embedder.encode_one, QUERIES * 2))
    for vector, want in zip(got, np.concatenate([expected, expected]), strict=True):
        assert float(vector @ want) > 0.9999


def test_a_failing_batch_fails_its_callers_and_the_worker_goes_on() -> None:
    class Broken(Embedder):
        def encode_queries(self, texts: list[str]) -> np.ndarray:  # type: ignore[override]
            if "boom" in texts:
                raise RuntimeError("model failed")
            return np.ones((len(texts), DIM), dtype=np.float32)

    broken = Broken()
    with pytest.raises(RuntimeError, match="model failed"):
        broken.encode_one("boom")
    assert broken.encode_one("fine").shape == (DIM,)
