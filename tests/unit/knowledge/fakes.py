"""A fast, deterministic stand-in for the sentence-transformers embedder (unit tests only).

Words are hashed into a 384-dimensional bag of words and normalised, so texts that share words
are similar: enough to test chunking, indexing and thresholds without loading torch.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

DIMENSIONS = 384


def _slot(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")


class HashEmbedder:
    def __init__(self, name: str = "hash-embedder", fail_on_call: int | None = None) -> None:
        self._name = name
        self.calls: list[int] = []  # batch sizes, in order
        self.fail_on_call = fail_on_call

    @property
    def name(self) -> str:
        return self._name

    @property
    def texts_embedded(self) -> int:
        return sum(self.calls)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls.append(len(texts))
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise RuntimeError("simulated crash while embedding")
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[row, _slot(word) % DIMENSIONS] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else 1.0 / np.sqrt(DIMENSIONS)
        return out
