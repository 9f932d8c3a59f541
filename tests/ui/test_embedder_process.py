"""The GUI's knowledge base embeds in a helper process (torch never loads in the GUI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.core.errors import ModelError
from app.ui import embedder
from app.ui.embedder import ProcessEmbedder, ProcessStore


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
        assert isinstance(kb.store, ProcessStore)  # Chroma runs in the helper too
        assert kb.embedder._process is not None and kb.embedder._process.is_alive()
        hits = knowledge.search(core, "Can I get my money back for a cold dish?", k=3)
        assert hits and Path(hits[0].source).name == "refund_policy.pdf"

        # Re-check on a damaged index: the helper sets it aside and the panel's run rebuilds it.
        kb.store.close()
        (data_dir / knowledge.CHROMA_FOLDER / "chroma.sqlite3").write_bytes(bytes(range(256)) * 400)
        rebuilt = knowledge.refresh(core)
        assert rebuilt.set_aside and Path(rebuilt.set_aside).name.startswith("chroma.damaged-")
        assert rebuilt.updated == report.added and rebuilt.chunks == report.chunks
        again = knowledge.search(core, "Can I get my money back for a cold dish?", k=3)
        assert [h.text for h in again] == [h.text for h in hits]
    finally:
        core.close()
        embedder.close_all()
    assert embedder._live == []


CHILD = """
import sys
from pathlib import Path
from app.services import knowledge
from app.services.core import ReplyDesk
from app.ui import embedder
from app.ui.context import knowledge_with_embedder_process

core = ReplyDesk(Path(sys.argv[1]), retriever_factory=knowledge_with_embedder_process)
report = knowledge.add_paths(core, [knowledge.sample_kit_dir()])
docs = knowledge.list_docs(core)
knowledge.remove(core, [docs[0].path])
hits = knowledge.search(core, "Can I get my money back for a cold dish?", k=3)
core.update_settings(chroma_url="http://127.0.0.1:9")
try:
    knowledge.search(core, "refund", k=1)
    unreachable = "no error"
except Exception as exc:
    unreachable = type(exc).__name__ + ": " + str(exc).splitlines()[0]
core.update_settings(chroma_url="")
again = knowledge.search(core, "Can I get my money back for a cold dish?", k=3)
core.close()
embedder.close_all()
print(report.chunks, len(docs), len(hits), len(again), unreachable, sep="|")
print("heavy modules in the GUI process:",
      sorted(m for m in ("chromadb", "torch", "sentence_transformers") if m in sys.modules))
"""


@pytest.mark.slow
@pytest.mark.embedder
def test_chroma_and_torch_stay_out_of_the_gui_process(data_dir: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", CHILD, str(data_dir)], capture_output=True,
                          text=True, timeout=300, cwd=root, check=False,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts, heavy = proc.stdout.strip().splitlines()[-2:]
    chunks, docs, hits, again, unreachable = counts.split("|")
    assert int(chunks) > 0 and int(docs) >= 5 and int(hits) > 0 and hits == again
    assert unreachable.startswith("KnownError: Cannot reach the Chroma server at http://127.0.0.1:9")
    assert heavy == "heavy modules in the GUI process: []"
