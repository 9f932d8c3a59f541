"""Heavy libraries load only when a knowledge feature needs them (STYLE: lazy heavy imports)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("chromadb", "torch", "sentence_transformers", "transformers", "pypdf", "docx")
CHILD = r"""
import json, sys, tempfile
from pathlib import Path

import app.cli.kb, app.knowledge.chunking, app.knowledge.documents, app.knowledge.indexer
import app.knowledge.query, app.knowledge.retriever, app.knowledge.store
import app.services.core, app.services.knowledge
from app.services.core import ReplyDesk

loaded = {"after_import": [m for m in HEAVY if m in sys.modules]}
core = ReplyDesk(Path(tempfile.mkdtemp()) / "data")
# A business without documents: retrieval answers from SQLite alone.
loaded["chunks"] = len(core.retriever().retrieve(1, "Do you have parking?", 4, 0.3))
loaded["after_retrieve"] = [m for m in HEAVY if m in sys.modules]
core.close()
print(json.dumps(loaded))
"""


def test_importing_and_an_empty_knowledge_base_load_no_heavy_library(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{CHILD}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == {"after_import": [], "chunks": 0, "after_retrieve": []}
