from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.types import RetrievedChunk
from app.services.core import ReplyDesk
from tests.fakes import FakeEngine

CHUNKS = [
    RetrievedChunk("doc1:0", "doc1", "policies.md", "Rooms are cleaned daily by 2 pm.", 0.81),
    RetrievedChunk("doc2:3", "doc2", "faq.md", "Breakfast is served from 7 to 10.", 0.64),
]


class FakeRetriever:
    def retrieve(self, business_id: int, query: str, k: int, min_score: float
                 ) -> list[RetrievedChunk]:
        return list(CHUNKS)


@pytest.fixture
def core(data_dir: Path) -> Iterator[ReplyDesk]:
    """A core with the scripted engine and a knowledge base that always finds two snippets."""
    engine = FakeEngine()
    c = ReplyDesk(data_dir, engine_factory=lambda _c: engine,
                  retriever_factory=lambda _c: FakeRetriever())
    c.fake_engine = engine  # type: ignore[attr-defined]
    yield c
    c.close()
