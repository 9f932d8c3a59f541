"""Desktop-app responsiveness and start-up, each against its anchor measured in the same run.

- launch → window shown (``app.ui.main.run``, what ``python -m app`` does) vs a bare PySide6
  ``QMainWindow`` started the same way (target <= 1.5x);
- the longest event-loop stall, from a 5 ms ``QTimer`` probe on the UI thread (target <= 50 ms):
  while the real default model drafts; while the sample kit is indexed with the real embedder
  (cold: the run that imports torch and loads the model; warm: a second folder afterwards);
  while a 100,000-review inbox is scrolled (lazy pages) and re-filtered; and, for information,
  while the data folder opens and the model loads at start-up.

    .venv/bin/python benchmarks/bench_ui.py [--launches 7] [--reviews 100000] [--drafts 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import ROOT, report

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Both children report their first paint; the app then also reports when the inbox and review
# pane are built (they are built right after the first paint).
BARE = r"""
import os, sys
from PySide6.QtWidgets import QApplication, QMainWindow

class Window(QMainWindow):
    def paintEvent(self, event):
        super().paintEvent(event)
        print("shown", flush=True)
        os._exit(0)

app = QApplication(sys.argv[:1])
w = Window()
w.resize(1360, 840)
w.show()
app.exec()
"""
APP = r"""
import os, sys
from app.ui import main

def shown(window):
    print("shown", flush=True)
    window.contentBuilt.connect(lambda: (print("content", flush=True), os._exit(0)))

main.run(["--data-dir", sys.argv[1]], on_shown=shown)
"""
TARGET_STALL_MS = 50.0


def _launch(code: str, *args: str) -> list[float]:
    """Seconds from process start to each line the child prints."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules load from cached bytecode
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    times = []
    for _line in proc.stdout:
        times.append(time.perf_counter() - started)
    proc.wait(timeout=60)
    if not times:
        raise RuntimeError("the child did not show a window")
    return times


def launch_ratio(n: int, data_dir: Path) -> list[dict[str, Any]]:
    _launch(BARE)  # warm the file cache and write the bytecode caches
    _launch(APP, str(data_dir))
    bare, app, content = [], [], []
    for _ in range(n):  # interleaved, so other load on the machine hits both alike
        bare.append(_launch(BARE)[0])
        shown, built = _launch(APP, str(data_dir))
        app.append(shown)
        content.append(built)
    b, a, c = statistics.median(bare), statistics.median(app), statistics.median(content)
    return [
        {"figure": "launch -> window shown (s, median)", "value": a, "anchor": b,
         "ratio": a / b, "target": "<= 1.5x bare PySide6 window"},
        {"figure": "launch -> inbox and review pane built (s)", "value": c, "anchor": b,
         "ratio": c / b, "target": "info"},
    ]


# --- in-process stall measurements ---------------------------------------------------------------


class Probe:
    """Counts how late a 5 ms timer fires: the longest gap is the longest UI freeze."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.late: list[float] = []
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last:
            self.late.append(max(0.0, (now - self.last) * 1000 - self.interval))
        self.last = now

    def reset(self) -> None:
        self.last = 0.0
        self.late = []

    def worst(self) -> float:
        return max(self.late, default=0.0)

    def p99(self) -> float:
        if not self.late:
            return 0.0
        ordered = sorted(self.late)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def wait(cond: Callable[[], bool], timeout: float = 600.0) -> None:
    from PySide6.QtTest import QTest

    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("benchmark step timed out")
        QTest.qWait(10)


def measure(probe: Probe, step: Callable[[], None], done: Callable[[], bool],
            timeout: float = 600.0) -> tuple[float, float, float]:
    """(worst stall ms, p99 stall ms, seconds) while ``step`` runs until ``done``."""
    wait(lambda: len(probe.late) > 20, 5)
    probe.reset()
    started = time.perf_counter()
    step()
    wait(done, timeout)
    return probe.worst(), probe.p99(), time.perf_counter() - started


def stall_row(figure: str, worst: float, p99: float, seconds: float) -> dict[str, Any]:
    return {"figure": figure, "value": worst, "anchor": TARGET_STALL_MS,
            "ratio": worst / TARGET_STALL_MS, "target": "<= 50 ms",
            "p99_ms": round(p99, 1), "seconds": round(seconds, 1)}


def fill_reviews(core: Any, n: int) -> None:
    from app.core.types import ImportedReview
    from app.store import repo

    base = datetime(2024, 1, 1, tzinfo=UTC)
    words = ["room", "breakfast", "staff", "clean", "noisy", "friendly", "pool", "view", "late",
             "rude", "great", "lovely", "cold", "soup", "refund", "table", "waiter", "dessert"]
    for start in range(0, n, 5000):
        with core.db.session() as s:
            writer = repo.ReviewWriter(s, repo.default_business(s).id)
            for i in range(start, min(n, start + 5000)):
                text = " ".join(words[(i * 7 + k * 3) % len(words)] for k in range(40))
                writer.add(ImportedReview(
                    line=i, text=text, rating=i % 5 + 1, platform=("google", "yelp")[i % 2],
                    external_id=f"bench{i}", author=f"Guest {i}",
                    created_at=base + timedelta(minutes=7 * i),
                    owner_reply="Thank you!" if i % 2 else None))


def _inbox_rows(args: argparse.Namespace, probe: Probe, win: Any, ctx: Any,
                rows: list[dict[str, Any]]) -> None:
    fill_reviews(ctx.core, args.reviews)
    inbox = win.inbox
    total = args.reviews + 4
    worst, p99, secs = measure(probe, inbox.reload, lambda: inbox.model.total() == total)
    rows.append(stall_row(f"stall: loading a {total:,}-review inbox", worst, p99, secs))
    bar = inbox.table.verticalScrollBar()
    target_rows = min(total - 1, args.scroll_rows)

    from PySide6.QtCore import QTimer

    scroller = QTimer()
    scroller.setInterval(16)  # a fast flick, one step per frame
    scroller.timeout.connect(lambda: bar.setValue(bar.value() + 40))

    def scrolled() -> bool:
        if inbox.table.rowAt(inbox.table.viewport().height() - 1) >= target_rows or \
                inbox.model.rowCount() > target_rows:
            scroller.stop()
            return True
        return False

    worst, p99, secs = measure(probe, scroller.start, scrolled)
    rows.append(stall_row(f"stall: scrolling to row {target_rows:,} (lazy pages)",
                          worst, p99, secs))
    worst, p99, secs = measure(
        probe, lambda: inbox.rating.setCurrentIndex(inbox.rating.findData("flagged")),
        lambda: inbox.summary.text().endswith("shown") and inbox.model.total() < total)
    rows.append(stall_row("stall: filtering the inbox (1-2 stars)", worst, p99, secs))


def in_process(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.core.settings import Settings, save
    from app.services import knowledge
    from app.services.core import ReplyDesk
    from app.services.importing import import_reviews
    from app.ui import theme
    from app.ui.context import AppContext, knowledge_with_embedder_process
    from app.ui.errors import ErrorPresenter
    from app.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    theme.apply(app)
    probe = Probe()
    rows: list[dict[str, Any]] = []

    data = work / "data"
    save(data, Settings(first_run_done=True, max_tokens=args.max_tokens, threads=args.threads))
    cores: list[Any] = []

    def open_core() -> Any:  # as the app opens it: the embedder runs in a helper process
        core = ReplyDesk(data, retriever_factory=knowledge_with_embedder_process)
        cores.append(core)
        return core

    presenter = ErrorPresenter()
    ctx = AppContext(open_core, presenter)
    win = MainWindow(ctx, QSettings(str(work / "ui.ini"), QSettings.Format.IniFormat))
    presenter.set_parent_widget(win)
    win.show()
    states: list[str] = []
    ctx.modelState.connect(lambda state, _text: states.append(state))
    worst, p99, secs = measure(probe, ctx.start, lambda: "ready" in states or "failed" in states)
    rows.append({**stall_row("stall: open data + load model (info)", worst, p99, secs),
                 "target": "info"})
    if "failed" in states:
        raise RuntimeError("the model did not load")

    reviews = work / "reviews.csv"
    reviews.write_text(
        "rating,title,text,platform\n"
        + "".join(f'{r},Visit {i},"{t}",google\n' for i, (r, t) in enumerate([
            (2, "The soup was cold and we waited forty minutes for mains. Can we get a refund?"),
            (1, "Our booking was lost and the host was rude about it."),
            (3, "Nice terrace, but the dessert had nuts and nobody warned my friend."),
            (2, "Parking was impossible and the music far too loud."),
        ])),
        encoding="utf-8",
    )
    assert ctx.core is not None
    import_reviews(ctx.core, reviews)
    win.inbox.status.setCurrentIndex(0)
    wait(lambda: win.inbox.model.total() == 4)

    drafting: list[tuple[float, float, float]] = []
    tokens = 0
    for i in range(args.drafts):
        win.inbox.select_row(i % 4)
        drafting.append(measure(probe, lambda: win.pane.start_draft(1),
                                lambda: not win.pane.is_streaming() and win.pane._job is None))
        if win.pane.draft is not None:
            tokens += int(win.pane.draft.timings.get("tokens", 0))
    if drafting:
        rows.append(stall_row(f"stall: drafting ({args.drafts} drafts, {tokens} tokens)",
                              max(d[0] for d in drafting), max(d[1] for d in drafting),
                              sum(d[2] for d in drafting)))
    if args.skip_index:
        if args.reviews:
            _inbox_rows(args, probe, win, ctx, rows)
        win.close()
        for core in cores:
            core.close()
        return rows

    win.tabs.setCurrentWidget(win.knowledge_tab)
    panel = win.knowledge_tab.build()
    reports: list[Any] = []
    panel.indexed.connect(reports.append)

    def index(paths: list[Path]) -> tuple[float, float, float]:
        reports.clear()
        return measure(probe, lambda: panel.add_paths(paths),
                       lambda: panel.add_files.isEnabled())  # disabled while a run is going

    worst, p99, secs = index([knowledge.sample_kit_dir()])
    chunks = reports[0].chunks if reports else 0
    rows.append(stall_row(f"stall: indexing the sample kit ({chunks} chunks), cold: "
                          "helper process starts, loads torch", worst, p99, secs))
    more = work / "more_docs"
    more.mkdir()
    for f in knowledge.sample_kit_dir().iterdir():
        if f.suffix in (".md", ".csv", ".pdf"):
            for k in range(args.copies):
                shutil.copy(f, more / f"{f.stem}_{k}{f.suffix}")
    worst, p99, secs = index([more])
    chunks = reports[0].chunks if reports else 0
    rows.append(stall_row(f"stall: indexing {chunks} chunks, warm", worst, p99, secs))
    win.tabs.setCurrentIndex(0)

    if args.reviews:
        _inbox_rows(args, probe, win, ctx, rows)
    win.close()
    for core in cores:
        core.close()
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--launches", type=int, default=7)
    p.add_argument("--drafts", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=160)
    p.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: automatic)")
    p.add_argument("--reviews", type=int, default=100_000)
    p.add_argument("--scroll-rows", type=int, default=20_000)
    p.add_argument("--copies", type=int, default=20, help="copies of the kit for warm indexing")
    p.add_argument("--skip-launch", action="store_true")
    p.add_argument("--skip-stalls", action="store_true")
    p.add_argument("--skip-index", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="replydesk-bench-ui-") as tmp:
        work = Path(tmp)
        rows: list[dict[str, Any]] = []
        if not args.skip_launch:
            launch_dir = work / "launch"
            launch_dir.mkdir()
            (launch_dir / "settings.json").write_text(json.dumps(
                {"schema": 1, "first_run_done": True}))
            from app.services.core import ReplyDesk

            ReplyDesk(launch_dir).close()  # the database exists, as on every launch but the first
            rows += launch_ratio(args.launches, launch_dir)
        if not args.skip_stalls:
            rows += in_process(args, work)
    report("ui", rows)


if __name__ == "__main__":
    main()
