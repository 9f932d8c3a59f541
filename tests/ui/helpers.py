"""Helpers shared by the UI tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QMessageBox


def import_into(qtbot: Any, win: Any, path: Path, expect: int) -> None:
    """Import a file through the window and wait until the inbox shows ``expect`` reviews."""
    win.inbox.status.setCurrentIndex(0)  # all statuses
    win.import_file(path)
    qtbot.waitUntil(lambda: win.progress.job is None and win.inbox.model.total() == expect,
                    timeout=10_000)


def open_dialogs(win: Any) -> list[QMessageBox]:
    return [b for b in win.ctx.presenter.dialogs if b.isVisible()]


def wait_draft(qtbot: Any, win: Any, timeout: int = 10_000) -> None:
    """Wait until the review pane has finished its current draft."""
    qtbot.waitUntil(lambda: not win.pane.is_streaming() and win.pane._job is None,
                    timeout=timeout)
