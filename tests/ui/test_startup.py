"""The window appears before any heavy library is imported (napari-style lazy imports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = r"""
import json, sys
from app.ui import main

HEAVY = ("sqlalchemy", "alembic", "llama_cpp", "torch", "chromadb", "sentence_transformers",
         "numpy", "PySide6.QtCharts")

def shown(window):
    report = {"visible": window.isVisible(),
              "heavy": [m for m in HEAVY if m in sys.modules]}
    def done():
        report["core_opened"] = window.ctx.core is not None
        print(json.dumps(report), flush=True)
        window.close()
    window.ctx.ready.connect(done)

sys.exit(main.run(["--data-dir", sys.argv[1]], on_shown=shown))
"""


def test_window_shows_before_heavy_imports_and_core_opens_after(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.json").write_text(json.dumps({"schema": 1, "first_run_done": True}))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(data)], capture_output=True,
                          text=True, timeout=120, env=env, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"visible": True, "heavy": [], "core_opened": True}
    assert (data / "replydesk.sqlite3").is_file()
