"""A deterministic stand-in for the model, for tests about something other than search
quality (import accounting over a whole corpus). Never used where ranking is what is tested."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from knowledge.embedder import DIM, Vectors
from knowledge.text import words


class HashingEmbedder:
    """Bag of words hashed into DIM buckets, L2-normalised: same text, same vector."""

    dim = DIM

    def load(self) -> None:
        """Nothing to load."""

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One unit vector per text."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest())
                out[row, bucket % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def encode_one(self, text: str) -> Vectors:
        """One text."""
        return self.encode([text])[0]

    def close(self) -> None:
        """Nothing to stop: it has no threads."""
