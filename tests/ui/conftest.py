"""pytest-qt fixtures: a main window on a fake (or real) core, offscreen, nothing left running."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.ui.workers import running_threads

CSV = (
    "id,rating,title,text,author,date,platform\n"
    "r1,1,Dirty room,The room was dirty and the staff ignored us at check-in.,Ann,2025-01-02,"
    "google\n"
    "r2,5,Lovely,Wonderful breakfast and a friendly team.,Bob,2025-01-03,google\n"
    "r3,2,Noisy,Noisy street at night; the earplugs helped a bit.,Cem,2025-01-04,tripadvisor\n"
    "r4,4,Good value,Good value for money; the pool was cold.,Dee,2025-01-05,tripadvisor\n"
)


@pytest.fixture(autouse=True)
def no_thread_left_running() -> Iterator[None]:
    """A test that leaves a worker QThread running fails."""
    assert running_threads() == [], f"threads running before the test: {running_threads()}"
    yield
    left = running_threads()
    assert left == [], f"worker threads still running after the test: {left}"


@pytest.fixture(autouse=True)
def ui_theme(qapp: QApplication) -> None:
    from app.ui import theme

    theme.apply(qapp)


@pytest.fixture
def reviews_csv(tmp_path: Path) -> Path:
    f = tmp_path / "reviews.csv"
    f.write_text(CSV, encoding="utf-8")
    return f


@pytest.fixture
def ui_core(fake_core: Any) -> Any:
    """The fake-engine core, past the first-run wizard."""
    fake_core.update_settings(first_run_done=True)
    return fake_core


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Build a main window on a core; the window is closed (threads stopped) afterwards."""
    from app.ui.context import AppContext
    from app.ui.errors import ErrorPresenter
    from app.ui.main_window import MainWindow

    windows: list[Any] = []

    def make(core: Any, *, wait_ready: bool = True, ini: Path | None = None) -> Any:
        presenter = ErrorPresenter()
        ctx = AppContext(lambda: core, presenter)
        settings = QSettings(str(ini or tmp_path / "ui.ini"), QSettings.Format.IniFormat)
        win = MainWindow(ctx, settings)
        presenter.set_parent_widget(win)
        qtbot.addWidget(win)
        win.show()
        windows.append(win)
        if wait_ready:
            with qtbot.waitSignal(ctx.ready, timeout=10_000):
                ctx.start()
            qtbot.waitUntil(lambda: win.model_state == "ready", timeout=10_000)
        else:
            ctx.start()
        return win

    yield make
    for win in windows:
        win.close()


@pytest.fixture
def window(make_window: Callable[..., Any], ui_core: Any) -> Any:
    return make_window(ui_core)
