from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services.core import ReplyDesk
from tests.fakes import FakeEngine
from tests.unit.feedback.helpers import FakeRetriever


@pytest.fixture
def core(data_dir: Path) -> Iterator[ReplyDesk]:
    """A core with the scripted engine and a knowledge base that always finds two snippets."""
    engine = FakeEngine()
    c = ReplyDesk(data_dir, engine_factory=lambda _c: engine,
                  retriever_factory=lambda _c: FakeRetriever())
    c.fake_engine = engine  # type: ignore[attr-defined]
    yield c
    c.close()
