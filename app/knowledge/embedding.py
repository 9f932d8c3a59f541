"""Text embeddings behind a small protocol: the packaged sentence-transformers model, or a fake.

The real embedder loads ``all-MiniLM-L6-v2`` from ``models/`` on first use, strictly offline, and
returns L2-normalised float32 rows, so cosine similarity is a dot product and Chroma's cosine
space needs no further work.

It uses half of the CPUs by default (torch's thread pool is per process).  The other half stays
with llama.cpp and the UI, and an oversubscribed OpenMP pool is far worse than a small one: on a
busy 2-core machine, 2 torch threads embedded a batch at half the speed of 1 thread and took
~10x longer (p50 ~250 ms vs ~20 ms) to embed one query.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from app.core.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


class Embedder(Protocol):
    """Turns texts into unit vectors; ``name`` identifies the vector space (model + version)."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


def default_threads() -> int:
    """Half of the CPUs this process may use, at least one."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus // 2)


class SentenceTransformerEmbedder:
    """A sentence-transformers model folder, loaded lazily and never from the network."""

    def __init__(self, path: Path, *, name: str | None = None, batch_size: int = 32,
                 device: str = "cpu", threads: int | None = None) -> None:
        self.path = Path(path)
        self._name = name or self.path.name
        self.batch_size = batch_size
        self.device = device
        self.threads = threads or default_threads()
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    def load(self) -> Any:
        """The model (seconds on first call: torch is imported here, not at start-up)."""
        with self._lock:
            if self._model is None:
                if not (self.path / "modules.json").is_file():
                    raise ModelError(
                        f"The embedding model is missing from {self.path}.",
                        "Run 'replydesk models install' (or './dev.sh setup').",
                        path=self.path,
                    )
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                import torch
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                torch.set_num_threads(self.threads)
                try:
                    self._model = SentenceTransformer(
                        str(self.path), device=self.device, local_files_only=True
                    )
                except (OSError, ValueError) as exc:
                    raise ModelError(f"Cannot load the embedding model in {self.path}: {exc}.",
                                     "Run 'replydesk models install' to restore it.",
                                     path=self.path) from exc
            return self._model

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        import numpy as np

        model = self.load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
