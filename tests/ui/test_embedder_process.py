"""The GUI's knowledge base embeds in a helper process (torch never loads in the GUI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.core.errors import ModelError
from app.ui import embedder
from app.ui.embedder import ProcessEmbedder


def test_a_missing_model_is_a_model_error_from_the_helper(tmp_path: Path) -> None:
    proxy = ProcessEmbedder(tmp_path / "nothing-here", name="missing", threads=1)
    try:
        with pytest.raises(ModelError, match="embedding model is missing"):
            proxy.embed(["hello"])
    finally:
        proxy.close()
    assert proxy not in embedder._live


@pytest.mark.slow
@pytest.mark.embedder
def test_index_and_search_through_the_helper_process(data_dir: Path) -> None:
    from app.services import knowledge
    from app.services.core import ReplyDesk
    from app.ui.context import knowledge_with_embedder_process

    core: Any = ReplyDesk(data_dir, retriever_factory=knowledge_with_embedder_process)
    try:
        report = knowledge.add_paths(core, [knowledge.sample_kit_dir()])
        assert report.chunks > 0 and not report.failed
        kb = knowledge.knowledge_base(core)
        assert isinstance(kb.embedder, ProcessEmbedder)
        assert type(kb.store).__name__ == "_StoreInSlices"  # short GIL holds while indexing
        assert kb.embedder._process is not None and kb.embedder._process.is_alive()
        hits = knowledge.search(core, "Can I get my money back for a cold dish?", k=3)
        assert hits and Path(hits[0].source).name == "refund_policy.pdf"
    finally:
        core.close()
        embedder.close_all()
    assert embedder._live == []
