from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.knowledge.fakes import HashEmbedder


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def kb_core(data_dir: Path, embedder: HashEmbedder) -> Iterator[object]:
    """A core whose knowledge base uses the hash embedder and a real Chroma store in tmp_path."""
    from app.services.core import ReplyDesk
    from app.services.knowledge import open_knowledge_base
    from tests.fakes import FakeEngine

    core = ReplyDesk(data_dir, engine_factory=lambda _c: FakeEngine(),
                     retriever_factory=lambda c: open_knowledge_base(c, embedder=embedder))
    yield core
    core.close()
