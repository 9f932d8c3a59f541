"""``ReplyDesk --smoke-test``: start the whole app offscreen, draft one reply, exit.

It checks an installed or packaged build end to end: Qt and its plugins, the database and its
migrations, the bundled model, llama.cpp and the drafting service, through the same window,
context and LLM thread a user gets.  Where the embedding model is installed it first indexes the
sample kit the way the app does (the embedder in its helper process, Chroma) and requires the
draft to cite it.  It runs in a throwaway data folder, so it never touches the user's data, and
prints one JSON line; the exit status is 0 only when a draft came back.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FLAG = "--smoke-test"
REVIEW = ("We booked a table for eight, waited forty minutes, and the pasta was cold. "
          "There was nowhere to park, and the waiter was friendly but clearly overwhelmed.")


def run(timeout_s: float = 300.0) -> int:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from app.core import settings
    from app.services.drafting import DraftRequest
    from app.ui import main as gui
    from app.ui.main_window import MainWindow

    started = time.perf_counter()
    report: dict[str, Any] = {"ok": False}

    class Probe(QObject):
        def __init__(self, window: MainWindow) -> None:
            super().__init__(window)
            self.ctx = window.ctx
            self.tokens = 0
            self.ctx.openFailed.connect(self.open_failed)
            self.ctx.modelState.connect(self.model_state)
            QTimer.singleShot(int(timeout_s * 1000), self.timed_out)
            if self.ctx.llm is not None:
                self.start()
            else:
                self.ctx.ready.connect(self.start)

        @Slot()
        def start(self) -> None:
            core = self.ctx.core
            assert core is not None
            embedder = next((m for m in core.registry.all() if m.kind == "embedding"), None)
            if embedder is None or not (embedder.path(core.registry.root) / "modules.json"
                                        ).is_file():
                report["knowledge"] = "not installed"
                self.draft()
                return

            def index(_job: Any) -> Any:
                from app.services import knowledge

                return knowledge.add_paths(core, [knowledge.sample_kit_dir()])

            self.ctx.tasks.submit(index, name="smoke-index", on_done=self.indexed,
                                  on_error=self.index_failed)

        def indexed(self, result: Any) -> None:
            report["knowledge"] = {"documents": result.added, "chunks": result.chunks}
            self.draft()

        def index_failed(self, exc: Any) -> None:
            report.update(ok=False, error=f"indexing the sample kit: {exc.message}")
            QApplication.exit(1)

        @Slot()
        def draft(self) -> None:
            llm = self.ctx.llm
            assert llm is not None
            llm.worker.token.connect(self.token)
            llm.worker.draftReady.connect(self.ready)
            llm.worker.draftFailed.connect(self.failed)
            llm.worker.crashed.connect(self.crashed)
            llm.worker.finished.connect(self.finished)
            llm.start_draft(DraftRequest(text=REVIEW, rating=2, seed=1))

        @Slot(int, int, str)
        def token(self, _job: int, _variant: int, _text: str) -> None:
            self.tokens += 1

        @Slot(int, object)
        def ready(self, _job: int, draft: Any) -> None:
            cited = [s.chunk_id for s in draft.sources]
            indexed = isinstance(report.get("knowledge"), dict)
            report.update(ok=bool(draft.text.strip()) and (bool(cited) or not indexed),
                          text=draft.text, model=draft.model_name, timings=draft.timings,
                          sources=cited)

        @Slot(int, object)
        def failed(self, _job: int, exc: Any) -> None:
            report.update(ok=False, error=exc.message, hint=exc.hint)

        @Slot(str)
        def crashed(self, bug: str) -> None:
            report.update(ok=False, error=bug)

        @Slot(object)
        def open_failed(self, exc: Any) -> None:
            report.update(ok=False, error=exc.message)
            QApplication.exit(1)

        @Slot(str, str)
        def model_state(self, state: str, text: str) -> None:
            report.setdefault("model_states", []).append(f"{state}: {text}")

        @Slot(int)
        def finished(self, _job: int) -> None:
            dialogs = [box.text() for box in self.ctx.presenter.dialogs if box.isVisible()]
            if dialogs:
                report.update(ok=False, dialogs=dialogs)
            report["tokens_streamed"] = self.tokens
            QApplication.exit(0 if report["ok"] else 1)

        @Slot()
        def timed_out(self) -> None:
            report.update(ok=False, error=f"no draft after {timeout_s:.0f} s")
            QApplication.exit(1)

    with tempfile.TemporaryDirectory(prefix="replydesk-smoke-") as tmp:
        data = Path(tmp)
        # No first-run wizard; a short reply is enough to prove the model runs.
        settings.save(data, settings.Settings(first_run_done=True, max_tokens=64))

        def on_shown(window: MainWindow) -> None:
            Probe(window)  # the window, its parent, keeps it

        code = gui.run(["--data-dir", str(data)], on_shown=on_shown)
    report["seconds"] = round(time.perf_counter() - started, 2)
    if getattr(sys, "frozen", False):
        report["bundle"] = str(Path(sys.executable).parent)
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return code if report["ok"] else max(code, 1)


if __name__ == "__main__":
    sys.exit(run())
