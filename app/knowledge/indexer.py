"""Embedding and storing chunks in large batches across documents, resumably.

Small files yield a chunk or two each; embedding them one file at a time would waste most of the
model's batch.  ``BatchIndexer`` queues chunks from many documents, embeds a full batch at once,
upserts it under deterministic ids, and only then reports a document complete (``on_done``), so
its caller marks a document indexed only once all its chunks are in the store.  A run killed at
any point leaves documents that are either complete or not marked: the next run re-embeds the
latter and the upserts overwrite whatever part of them had landed, without duplicates.

A batch of ``BATCH_CHUNKS`` is sorted by length and embedded in passes of ``EMBED_BATCH``, so
each pass pads its texts to nearly the same length (as ``SentenceTransformer.encode`` does for one
big call), and a cancel waits for one short pass at most.  Storing a batch (Chroma, then the
caller's bookkeeping) overlaps with embedding the next one on a second thread: torch releases the
GIL while it computes.  Use it as a context manager, so the storing thread is always joined.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np

from app.core.errors import Cancelled
from app.knowledge.chunking import Chunk, chunk_id
from app.knowledge.embedding import Embedder
from app.knowledge.store import ChromaStore

BATCH_CHUNKS = 256  # chunks sorted by length together, then stored together
EMBED_BATCH = 32  # texts per forward pass of the model


@dataclass
class _Doc:
    doc_id: str
    path: str
    ids: set[str] = field(default_factory=set)
    remaining: int = 0
    replaces: bool = True  # it may have chunks from an earlier version to drop


class BatchIndexer:
    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        business_id: int,
        *,
        on_done: Callable[[str, int], None],
        on_batch: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
        batch_chunks: int | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.business_id = business_id
        self.on_done = on_done
        self.on_batch = on_batch
        self.cancel = cancel
        self.batch_chunks = batch_chunks or BATCH_CHUNKS
        self._queue: deque[tuple[_Doc, Chunk]] = deque()
        self._open: deque[_Doc] = deque()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-store")
        self._storing: tuple[Future[None], list[tuple[_Doc, Chunk]]] | None = None

    def __enter__(self) -> BatchIndexer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Join the storing thread; a batch that failed or was abandoned stays unmarked."""
        self._pool.shutdown(wait=True)

    def add(self, doc_id: str, path: str, chunks: Sequence[Chunk], *, new: bool = False) -> None:
        """Queue a document's chunks (``new``: it has none stored yet); embeds full batches."""
        ids = {chunk_id(doc_id, c.number) for c in chunks}
        doc = _Doc(doc_id, path, ids, len(chunks), replaces=not new)
        self._open.append(doc)
        self._queue.extend((doc, c) for c in chunks)
        while len(self._queue) >= self.batch_chunks:
            self._flush(self.batch_chunks)
        if self._storing is None:
            self._complete()

    def finish(self) -> None:
        while self._queue:
            self._flush(self.batch_chunks)
        self._stored()

    def _flush(self, n: int) -> None:
        batch = [self._queue.popleft() for _ in range(min(n, len(self._queue)))]
        batch.sort(key=lambda item: len(item[1].text))
        texts = [c.text for _, c in batch]
        passes = []
        for start in range(0, len(texts), EMBED_BATCH):
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled
            passes.append(self.embedder.embed(texts[start:start + EMBED_BATCH]))
        vectors = np.concatenate(passes)
        self._stored()
        future = self._pool.submit(
            self.store.upsert,
            self.business_id,
            [chunk_id(d.doc_id, c.number) for d, c in batch],
            vectors,
            texts,
            [{"doc_id": d.doc_id, "n": c.number, "path": d.path, "section": c.section}
             for d, c in batch],
            self.embedder.name,
        )
        self._storing = (future, batch)

    def _stored(self) -> None:
        """Wait for the batch being stored, then report it and the documents it completed."""
        if self._storing is None:
            self._complete()
            return
        future, batch = self._storing
        self._storing = None
        future.result()
        for doc, _ in batch:
            doc.remaining -= 1
        if self.on_batch is not None:
            self.on_batch(len(batch))
        self._complete()

    def _complete(self) -> None:
        """Report, in order, the documents whose chunks are all stored; drop their stale ones."""
        while self._open and self._open[0].remaining == 0:
            doc = self._open.popleft()
            if doc.replaces:
                self.store.delete_doc(self.business_id, doc.doc_id, keep=doc.ids)
            self.on_done(doc.doc_id, len(doc.ids))
