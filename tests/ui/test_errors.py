"""Error dialogs: a bad import file, a broken model file, and the crash dialog for bugs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QMessageBox

from tests.ui.helpers import open_dialogs


def _only_dialog(qtbot: Any, win: Any) -> QMessageBox:
    qtbot.waitUntil(lambda: len(open_dialogs(win)) == 1, timeout=10_000)
    (box,) = open_dialogs(win)
    return box


def test_bad_import_file_shows_message_and_hint(qtbot: Any, window: Any, tmp_path: Path) -> None:
    bad = tmp_path / "reviews.csv"
    bad.write_text("name,colour\nAnn,blue\n", encoding="utf-8")  # no rating or text column
    window.import_file(bad)
    box = _only_dialog(qtbot, window)
    assert box.objectName() == "knownErrorDialog"
    assert box.icon() == QMessageBox.Icon.Warning
    assert box.text() and box.informativeText()  # the message and what to do about it
    assert not window.progress.isVisible()
    assert window.isEnabled()  # the dialog does not block the app
    box.close()
    qtbot.waitUntil(lambda: open_dialogs(window) == [])


def test_rows_with_problems_are_reported_by_line(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    f = tmp_path / "mixed.csv"
    f.write_text("rating,text\n5,Great\nseven,Odd rating\n1,Bad\n", encoding="utf-8")
    window.import_file(f)
    box = _only_dialog(qtbot, window)
    assert box.objectName() == "infoDialog"
    assert "1 row could not be read" in box.text()
    assert "line 3" in box.detailedText()
    window.inbox.status.setCurrentIndex(0)
    qtbot.waitUntil(lambda: window.inbox.model.total() == 2)
    box.close()


def test_broken_model_file_shows_error_and_app_keeps_working(
    qtbot: Any, make_window: Any, data_dir: Path, tmp_path: Path
) -> None:
    from app.core.settings import Settings, save
    from app.services.core import ReplyDesk, local_engine

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)  # a truncated download
    data_dir.mkdir(parents=True)
    (data_dir / "models.json").write_text(json.dumps({"schema": 1, "models": [{
        "name": "Broken", "kind": "chat", "file": str(broken), "sha256": "0" * 64,
        "size": broken.stat().st_size}]}), encoding="utf-8")
    save(data_dir, Settings(model="Broken", first_run_done=True))
    core = ReplyDesk(data_dir, engine_factory=local_engine)
    try:
        win = make_window(core, wait_ready=False)
        qtbot.waitUntil(lambda: win.model_state == "failed", timeout=20_000)
        box = _only_dialog(qtbot, win)
        assert box.objectName() == "knownErrorDialog"
        assert "broken.gguf" in box.text() + box.informativeText() + box.detailedText()
        assert "model" in box.windowTitle().lower()
        assert "did not load" in win.model_label.text()
        assert win.import_action.isEnabled()  # everything else still works
        box.close()
    finally:
        win.close()
        core.close()


def test_adding_a_file_that_is_not_gguf_in_settings(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    from app.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.ctx, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.model.count() > 0, timeout=10_000)
    junk = tmp_path / "notes.gguf"
    junk.write_text("these are my notes, not a model", encoding="utf-8")
    dialog.add_gguf(junk)
    box = _only_dialog(qtbot, window)
    assert "notes.gguf" in box.text() + box.informativeText() + box.detailedText()
    assert dialog.add_model.isEnabled()
    box.close()
    dialog.reject()


def test_a_bug_in_a_worker_job_opens_the_crash_dialog(qtbot: Any, window: Any) -> None:
    def buggy(_job: Any) -> None:
        raise ZeroDivisionError("division by zero")

    window.ctx.tasks.submit(buggy)
    box = _only_dialog(qtbot, window)
    assert box.objectName() == "crashDialog"
    assert "ZeroDivisionError" in box.detailedText()
    assert "ZeroDivisionError" in box.informativeText()
    box.close()


def test_excepthook_routes_known_errors_and_bugs(qtbot: Any, monkeypatch: Any) -> None:
    import sys

    from app.core.errors import KnownError
    from app.ui.errors import ErrorPresenter, install_excepthook

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    presenter = ErrorPresenter()
    install_excepthook(presenter)
    try:
        raise KnownError("Disk full.", "Free some space.")
    except KnownError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    try:
        raise ValueError("a bug")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    names = [b.objectName() for b in presenter.dialogs]
    assert names == ["knownErrorDialog", "crashDialog"]
    assert presenter.dialogs[0].informativeText() == "Free some space."
    presenter.close_all()
