"""Killing an indexing run (SIGKILL, no clean-up at all) and running it again.

The child process kills itself from inside the indexer at a chosen point, so the test needs no
timing: right after a batch of chunks landed in Chroma and before their documents were marked
indexed, which is the worst moment.  The rerun must end with exactly the chunks of an
uninterrupted run.  Real Chroma and SQLite; the hash embedder keeps it fast (no torch).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHILD = r"""
import json, os, signal, sys
from pathlib import Path

import app.knowledge.indexer as indexer
from app.services import knowledge as kb
from app.services.core import ReplyDesk
from tests.unit.knowledge.fakes import HashEmbedder

data_dir, docs, kill_at = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
indexer.BATCH_CHUNKS = 8
core = ReplyDesk(data_dir, retriever_factory=lambda c: kb.open_knowledge_base(
    c, embedder=HashEmbedder()))

def progress(p):
    # Called after each batch is upserted, before its documents are marked indexed.
    if kill_at and p.chunks >= kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

report = kb.add_paths(core, [docs], progress=progress)
store = kb.knowledge_base(core).store
ids = store.collection(report.business_id).get(include=[])["ids"]
print(json.dumps({"ids": sorted(ids), "statuses": [d.status for d in kb.list_docs(core)],
                  "chunks": report.chunks, "added": report.added, "updated": report.updated,
                  "unchanged": report.unchanged}))
core.close()
"""


def _corpus(folder: Path) -> None:
    """30 documents of 1 to 12 chunks each, so batches of 8 split documents."""
    for i in range(30):
        sections = "\n\n".join(
            f"## Section {j}\n\n" + " ".join(f"Fact {i}.{j}.{w} about the business." for w in
                                            range(8))
            for j in range(1 + (i * 7) % 12)
        )
        sub = folder / f"part{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"doc{i:02}.md").write_text(f"# Document {i}\n\n{sections}\n", encoding="utf-8")


def _run(data_dir: Path, docs: Path, kill_at: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    env.pop("REPLYDESK_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(data_dir), str(docs), str(kill_at)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def _result(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_killed_index_run_is_finished_by_the_next_without_duplicates(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _corpus(docs)
    clean = _result(_run(tmp_path / "clean", docs))
    assert clean["added"] == 30 and len(clean["ids"]) == clean["chunks"] > 100
    assert set(clean["statuses"]) == {"indexed"}

    data = tmp_path / "killed"
    for kill_at in (20, 75):  # killed twice, at different points
        killed = _run(data, docs, kill_at)
        assert killed.returncode == -signal.SIGKILL, killed.stderr

    resumed = _result(_run(data, docs))
    assert resumed["ids"] == clean["ids"]  # same chunks, none twice, none missing
    assert set(resumed["statuses"]) == {"indexed"} and len(resumed["statuses"]) == 30
    assert resumed["unchanged"] > 0 and resumed["chunks"] < clean["chunks"]  # it resumed

    again = _result(_run(data, docs))
    assert (again["unchanged"], again["chunks"]) == (30, 0)
