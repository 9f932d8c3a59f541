"""The vector store: Chroma, one collection per business, cosine space, vectors always ours.

Embedded (``PersistentClient`` in the data folder) by default, or a Chroma server on a URL for a
business that outgrows one machine (DESIGN §8).  Chroma's default embedding function downloads a
model at run time, so every collection is opened with ``embedding_function=None`` and every
vector is passed in explicitly.  ``chromadb`` is imported on first use only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from app.core.errors import KnownError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

EMBEDDER_KEY = "replydesk_embedder"
_MAX_BATCH = 4096  # below Chroma's per-call limit (5,461 on SQLite)


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    metadata: Mapping[str, Any]
    score: float  # cosine similarity, 1 = same direction


def collection_name(business_id: int) -> str:
    return f"replydesk-business-{business_id}"


class DamagedIndexError(KnownError):
    """The index folder in the data folder exists but Chroma cannot open it."""


def _forget_failed_open(path: str) -> None:
    """Chroma keeps a client system it failed to start under its folder's name, and every later
    open of that folder in this process then fails (chromadb 1.5: "'RustBindingsAPI' object has
    no attribute 'bindings'") — even once the folder was fixed or moved away.  Forget it, unless a
    working client still holds it."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient as shared
    except ImportError:  # another chromadb layout: nothing we know how to forget
        return
    systems = getattr(shared, "_identifier_to_system", None)
    held = getattr(shared, "_identifier_to_refcount", {})
    if isinstance(systems, dict) and not held.get(path):
        systems.pop(path, None)


class ChromaStore:
    def __init__(self, path: Path | None = None, *, url: str = "") -> None:
        if path is None and not url:
            raise ValueError("ChromaStore needs a folder or a server URL")
        self.path = path
        self.url = url
        self._client: Any = None
        self._collections: dict[int, Any] = {}
        self._lock = threading.RLock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import chromadb
                from chromadb.config import Settings

                settings = Settings(anonymized_telemetry=False)
                if self.url:
                    u = urlparse(self.url)
                    try:
                        self._client = chromadb.HttpClient(
                            host=u.hostname or "localhost",
                            port=u.port or (443 if u.scheme == "https" else 8000),
                            ssl=u.scheme == "https",
                            settings=settings,
                        )
                    except Exception as exc:  # ValueError or an httpx error, by version
                        raise KnownError(
                            f"Cannot reach the Chroma server at {self.url}: {exc}",
                            "Start it ('chroma run --path DIR --port N'), or set chroma_url "
                            "to '' in Settings to use the knowledge base in the data folder.",
                        ) from exc
                else:
                    assert self.path is not None
                    try:
                        self.path.mkdir(parents=True, exist_ok=True)
                        self._client = chromadb.PersistentClient(path=str(self.path),
                                                                 settings=settings)
                    except Exception as exc:  # OSError, or chromadb's error for a damaged file
                        _forget_failed_open(str(self.path))
                        raise DamagedIndexError(
                            f"The knowledge index in {self.path} cannot be opened: {exc}",
                            "It may be damaged. Press Re-check in Knowledge (or run 'replydesk "
                            "kb refresh'): it sets that folder aside and rebuilds the index "
                            "from your documents (reviews and replies are not kept there).",
                            path=self.path,
                        ) from exc
            return self._client

    def set_aside_if_damaged(self) -> str | None:
        """Open the index; when its folder cannot be opened, rename it to
        ``<folder>.damaged-<time>`` (kept, never deleted) so that the next call starts an empty
        one, and return where it went.  Nothing happens to a server's index or to a healthy one."""
        with self._lock:
            try:
                self.client()
                return None
            except DamagedIndexError as exc:
                assert self.path is not None
                aside = self.path.with_name(
                    f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
                try:
                    if self.path.exists() or self.path.is_symlink():
                        self.path.rename(aside)
                except OSError as move:
                    raise KnownError(
                        f"The knowledge index in {self.path} is damaged and cannot be moved "
                        f"aside: {move.strerror or move}",
                        f"Move or delete it yourself, then Re-check. ({exc.message})",
                        path=self.path) from move
                return str(aside)

    def collection(self, business_id: int, embedder: str | None = None) -> Any:
        """The business's collection, created on first use and tagged with the embedder's name
        (vectors of another embedder live in another space: see ``embedder_of``)."""
        with self._lock:
            col = self._collections.get(business_id)
            if col is None:
                col = self.client().get_or_create_collection(
                    collection_name(business_id),
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={EMBEDDER_KEY: embedder or "unknown"},
                    embedding_function=None,
                )
                self._collections[business_id] = col
            if embedder and (col.metadata or {}).get(EMBEDDER_KEY) == "unknown":
                col.modify(metadata={EMBEDDER_KEY: embedder})
            return col

    def embedder_of(self, business_id: int) -> str | None:
        col = self.collection(business_id)
        name = (col.metadata or {}).get(EMBEDDER_KEY)
        return None if name in (None, "unknown") else str(name)

    def upsert(
        self,
        business_id: int,
        ids: Sequence[str],
        vectors: NDArray[np.float32],
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
        embedder: str,
    ) -> None:
        col = self.collection(business_id, embedder)
        for start in range(0, len(ids), _MAX_BATCH):
            end = start + _MAX_BATCH
            col.upsert(
                ids=list(ids[start:end]),
                embeddings=vectors[start:end],
                documents=list(texts[start:end]),
                metadatas=[dict(m) for m in metadatas[start:end]],
            )

    def chunk_ids(self, business_id: int, doc_id: str) -> list[str]:
        got = self.collection(business_id).get(where={"doc_id": doc_id}, include=[])
        return list(got["ids"])

    def delete_doc(self, business_id: int, doc_id: str, keep: Collection[str] = ()) -> int:
        """Delete a document's chunks except ``keep``; how many went."""
        stale = [i for i in self.chunk_ids(business_id, doc_id) if i not in keep]
        col = self.collection(business_id)
        for start in range(0, len(stale), _MAX_BATCH):
            col.delete(ids=stale[start:start + _MAX_BATCH])
        return len(stale)

    def query(self, business_id: int, vector: NDArray[np.float32], k: int) -> list[Hit]:
        col = self.collection(business_id)
        res = col.query(query_embeddings=vector.reshape(1, -1), n_results=max(1, k),
                        include=["documents", "metadatas", "distances"])
        ids, docs = res["ids"][0], (res["documents"] or [[]])[0]
        metas, dists = (res["metadatas"] or [[]])[0], (res["distances"] or [[]])[0]
        return [
            Hit(id=i, text=t or "", metadata=m or {}, score=1.0 - float(d))
            for i, t, m, d in zip(ids, docs, metas, dists, strict=True)
        ]

    def count(self, business_id: int) -> int:
        return int(self.collection(business_id).count())

    def drop(self, business_id: int) -> None:
        with self._lock:
            self._collections.pop(business_id, None)
            try:
                self.client().delete_collection(collection_name(business_id))
            except Exception as exc:  # chromadb raises NotFoundError or ValueError by version
                if "does not exist" not in str(exc).lower() and "not found" not in str(exc).lower():
                    raise KnownError(f"Could not clear the knowledge index: {exc}.") from exc

    def reconnect(self, url: str) -> None:
        """Use another server (or, with ``url=""``, the folder) from the next call on."""
        if not url and self.path is None:
            raise ValueError("ChromaStore needs a folder or a server URL")
        with self._lock:
            self.close()
            self.url = url

    def close(self) -> None:
        with self._lock:
            self._collections.clear()
            if self._client is not None:
                self._client.close()
                self._client = None
