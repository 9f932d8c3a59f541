"""Retrieval: the business facts nearest to a review, above a similarity threshold."""

from __future__ import annotations

from collections.abc import Callable

from app.core.errors import KnownError
from app.core.types import RetrievedChunk
from app.knowledge.embedding import Embedder
from app.knowledge.store import ChromaStore


class KnowledgeBase:
    """A business's indexed documents: the store, the embedder that filled it, and search.

    ``has_documents`` lets the caller answer "nothing indexed" from its own records, so a
    business without documents never loads the embedding model or opens Chroma.
    """

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        has_documents: Callable[[int], bool] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self._has_documents = has_documents

    def retrieve(
        self, business_id: int, query: str, k: int, min_score: float
    ) -> list[RetrievedChunk]:
        """Up to ``k`` chunks with cosine similarity >= ``min_score``, best first."""
        if not query.strip() or k <= 0:
            return []
        if self._has_documents is not None and not self._has_documents(business_id):
            return []
        built_by = self.store.embedder_of(business_id)
        if built_by is not None and built_by != self.embedder.name:
            raise KnownError(
                "The knowledge base was indexed with another embedding model.",
                "Run 'replydesk kb refresh' to index the documents again.",
            )
        vector = self.embedder.embed([query])[0]
        return [
            RetrievedChunk(
                chunk_id=hit.id,
                doc_id=str(hit.metadata.get("doc_id", "")),
                source=str(hit.metadata.get("path", "")),
                text=hit.text,
                score=round(hit.score, 4),
            )
            for hit in self.store.query(business_id, vector, k)
            if hit.score >= min_score
        ]

    def close(self) -> None:
        self.store.close()
