"""The one place in the UI that shows errors (qutebrowser style).

A ``KnownError`` (a missing file, a broken model, a bad import) gets its message and hint in a
warning; anything else is a bug and gets the crash dialog with the traceback to copy.  Dialogs are
opened without blocking (``open()``), so workers keep running and tests can inspect them.
"""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app import __version__
from app.core.errors import KnownError


class ErrorPresenter(QObject):
    """Shows messages over ``parent``; ``dialogs`` holds the open ones (tests inspect them)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._parent = parent
        self.dialogs: list[QMessageBox] = []

    def set_parent_widget(self, parent: QWidget) -> None:
        self._parent = parent

    def _open(self, box: QMessageBox) -> QMessageBox:
        from PySide6.QtCore import Qt  # not at import time: see app.ui.theme

        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda _result, b=box: self._closed(b))
        self.dialogs.append(box)
        box.open()
        return box

    def _closed(self, box: QMessageBox) -> None:
        if box in self.dialogs:
            self.dialogs.remove(box)

    def _duplicate(self, text: str) -> QMessageBox | None:
        return next((b for b in self.dialogs if b.text() == text and b.isVisible()), None)

    def known(self, exc: KnownError, title: str = "ReplyDesk") -> QMessageBox:
        existing = self._duplicate(exc.message)
        if existing is not None:
            return existing
        box = QMessageBox(QMessageBox.Icon.Warning, title, exc.message,
                          QMessageBox.StandardButton.Ok, self._parent)
        box.setObjectName("knownErrorDialog")
        if exc.hint:
            box.setInformativeText(exc.hint)
        if exc.path:
            box.setDetailedText(exc.path)
        box.setAccessibleName("Error")
        return self._open(box)

    def info(self, title: str, message: str, details: str = "") -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Information, title, message,
                          QMessageBox.StandardButton.Ok, self._parent)
        box.setObjectName("infoDialog")
        if details:
            box.setDetailedText(details)
        return self._open(box)

    def crash(self, report: str) -> QMessageBox:
        """A bug: say so plainly, keep the app running, offer the traceback."""
        last = report.strip().splitlines()[-1] if report.strip() else "unknown error"
        box = QMessageBox(QMessageBox.Icon.Critical, "ReplyDesk hit a bug",
                          "Something went wrong inside ReplyDesk. Your data is safe; the "
                          "action you took did not finish.",
                          QMessageBox.StandardButton.Close, self._parent)
        box.setObjectName("crashDialog")
        box.setInformativeText(f"{last}\n\nPlease report it with the details below "
                               f"(ReplyDesk {__version__}).")
        box.setDetailedText(report)
        copy = box.addButton("Copy details", QMessageBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QApplication.clipboard().setText(report))
        return self._open(box)

    def exception(self, exc: BaseException) -> QMessageBox:
        if isinstance(exc, KnownError):
            return self.known(exc)
        return self.crash("".join(traceback.format_exception(exc)))

    def close_all(self) -> None:
        for box in list(self.dialogs):
            box.close()


def install_excepthook(presenter: ErrorPresenter) -> None:
    """Uncaught exceptions on the UI thread (bugs in slots) open the crash dialog."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, exc, tb)
            return
        traceback.print_exception(kind, exc, tb)
        if isinstance(exc, KnownError):
            presenter.known(exc)
        else:
            presenter.crash("".join(traceback.format_exception(kind, exc, tb)))

    sys.excepthook = hook
