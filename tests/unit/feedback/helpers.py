"""Driving real decisions through the services, with the scripted engine."""

from __future__ import annotations

from app.core.types import DraftDTO, ImportedReview, RetrievedChunk
from app.services.core import ReplyDesk
from app.services.decisions import decide
from app.services.drafting import DraftRequest, draft
from app.store import repo

CHUNKS = [
    RetrievedChunk("doc1:0", "doc1", "policies.md", "Rooms are cleaned daily by 2 pm.", 0.81),
    RetrievedChunk("doc2:3", "doc2", "faq.md", "Breakfast is served from 7 to 10.", 0.64),
]


class FakeRetriever:
    """A knowledge base that always finds the same two snippets."""

    def retrieve(self, business_id: int, query: str, k: int, min_score: float
                 ) -> list[RetrievedChunk]:
        return list(CHUNKS)


def add_review(
    core: ReplyDesk, text: str, *, author: str | None = "Sarah Jones", rating: int = 2,
    platform: str = "google", language: str | None = "en",
) -> int:
    with core.db.session() as session:
        business = repo.default_business(session)
        business.sign_off = "Maria, General Manager"
        writer = repo.ReviewWriter(session, business.id)
        writer.add(ImportedReview(line=1, text=text, rating=rating, platform=platform,
                                  author=author, language=language))
        session.flush()
        return max(r.id for r in repo.list_reviews(session, limit=None))


def make_drafts(core: ReplyDesk, review_id: int, *replies: str) -> list[DraftDTO]:
    """Draft once (one variant per reply when several are given)."""
    core.fake_engine.replies = list(replies)  # type: ignore[attr-defined]
    core.fake_engine.calls.clear()  # type: ignore[attr-defined]
    request = DraftRequest(review_id=review_id, variants=len(replies), seed=7)
    return [e for e in draft(core, request) if isinstance(e, DraftDTO)]


__all__ = ["CHUNKS", "FakeRetriever", "add_review", "decide", "make_drafts"]
