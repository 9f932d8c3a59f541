"""Peak memory (RSS) of ReplyDesk with the default chat model and the embedder both loaded.

One fresh process does what a user's first session does, through the services the GUI uses:
open a data folder, index the sample kit (loads the embedder), import reviews and draft replies
grounded in the kit (loads the chat model, retrieves per review), approve one. Its peak RSS is
compared with the 1 GB budget (target <= 1.0 of 1024 MB); the RSS after each stage is shown for
information, so a regression can be traced to the stage that added it.

The desktop app splits the same work over two processes: the window and the chat model in one,
the embedder and Chroma in a helper (``app.ui.embedder``).  A second fresh process does the same
session in that layout, with the real main window built offscreen, and the sum of the two
processes' peaks (an upper bound of what they held at once) is compared with the same budget.

Usage: .venv/bin/python benchmarks/bench_memory.py [--drafts 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import SHARED_RECORDS, peak_rss_mb, report

BUDGET_MB = 1024.0


def rss_mb() -> float:
    """Resident set size now (not the peak)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def session(args: argparse.Namespace, gui: bool) -> dict[str, Any]:
    """One first session (index the kit, import, draft, approve); the RSS after each stage and
    the peak, of this process and, in the GUI layout, of the knowledge helper."""
    from app.core import settings
    from app.services import knowledge
    from app.services.core import ReplyDesk
    from app.services.decisions import decide
    from app.services.drafting import DraftRequest, draft
    from app.services.importing import import_reviews
    from app.store import repo

    stages: list[tuple[str, float]] = [("interpreter and app imports", rss_mb())]
    helper_peak = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings.update(data, threads=args.threads, max_tokens=96)
        if gui:
            from PySide6.QtCore import QSettings
            from PySide6.QtWidgets import QApplication

            from app.ui.context import AppContext, knowledge_with_embedder_process
            from app.ui.errors import ErrorPresenter
            from app.ui.main_window import MainWindow

            app = QApplication.instance() or QApplication([sys.argv[0]])
            ctx = AppContext(lambda: core, ErrorPresenter())
            window = MainWindow(ctx, QSettings(str(data / "ui.ini"), QSettings.Format.IniFormat))
            window.show()
            app.processEvents()
            stages.append(("main window shown", rss_mb()))
            core = ReplyDesk(data, retriever_factory=knowledge_with_embedder_process)
        else:
            core = ReplyDesk(data)
        stages.append(("data folder open", rss_mb()))
        knowledge.ensure_sample_kit(core)
        stages.append(("sample kit indexed (embedder loaded)", rss_mb()))
        import_reviews(core, SHARED_RECORDS)
        stages.append(("5,614 reviews imported", rss_mb()))
        with core.db.session() as s:
            ids = [r.id for r in repo.list_reviews(s, limit=args.drafts)]
        for i, rid in enumerate(ids, 1):
            for _ in draft(core, DraftRequest(review_id=rid, seed=i)):
                pass
        stages.append((f"{len(ids)} grounded drafts (chat model loaded)", rss_mb()))
        decide(core, ids[0], "accept")
        if gui:
            helper = knowledge.knowledge_base(core).embedder
            helper_peak = peak_rss_mb(helper.pid)
            window.close()
            ctx.shutdown()
        core.close()
    return {"stages": stages, "peak": peak_rss_mb(), "helper_peak": helper_peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--drafts", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gui-layout", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.gui_layout:
        print("RESULT " + json.dumps(session(args, gui=True)), flush=True)
        return

    one = session(args, gui=False)
    proc = subprocess.run(
        [sys.executable, __file__, "--gui-layout", "--drafts", str(args.drafts),
         "--threads", str(args.threads)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")})
    two = json.loads(next(line[7:] for line in proc.stdout.splitlines()
                          if line.startswith("RESULT ")))
    print("one process (CLI):")
    for name, value in one["stages"]:
        print(f"  RSS {value:7.1f} MB after {name}")
    print("desktop app layout, main process:")
    for name, value in two["stages"]:
        print(f"  RSS {value:7.1f} MB after {name}")
    print(f"  knowledge helper peak {two['helper_peak']:.1f} MB")
    gui_total = two["peak"] + two["helper_peak"]
    rows = [{"figure": "peak RSS MB, chat model + embedder + drafting", "value": one["peak"],
             "anchor": BUDGET_MB, "ratio": one["peak"] / BUDGET_MB,
             "target": "<= 1.0 of 1 GB"},
            {"figure": "desktop app: main + knowledge helper peak RSS MB", "value": gui_total,
             "anchor": BUDGET_MB, "ratio": gui_total / BUDGET_MB, "target": "<= 1.0 of 1 GB"},
            {"figure": "desktop app: main process peak RSS MB", "value": two["peak"],
             "target": "info"},
            {"figure": "desktop app: knowledge helper peak RSS MB", "value": two["helper_peak"],
             "target": "info"}]
    rows += [{"figure": f"RSS MB after {name}", "value": value, "target": "info"}
             for name, value in one["stages"]]
    report("memory", rows, {"drafts": args.drafts, "threads": args.threads})


if __name__ == "__main__":
    main()
