"""Progress of a background job: a bar, done/total, an ETA and a Cancel button."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.ui import theme
from app.ui.workers import Job


def eta_text(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    minutes = seconds / 60
    if minutes < 60:
        return f"about {round(minutes)} min left"
    return f"about {minutes / 60:.1f} h left"


def counts_of(payload: Any) -> tuple[int, int | None, float | None]:
    """(done, total, eta seconds) from a progress payload: an int, a tuple or an object."""
    if isinstance(payload, int):
        return payload, None, None
    if isinstance(payload, tuple):
        done, total = payload[0], payload[1] if len(payload) > 1 else None
        return int(done), total, None
    done = getattr(payload, "done", 0)
    total = getattr(payload, "total", None)
    eta = getattr(payload, "eta_s", None)
    if eta is None:
        eta = getattr(payload, "eta", None)
    return int(done or 0), total, eta


class TaskProgress(QWidget):
    """Shown while a job runs; Cancel sets the job's cancel event."""

    def __init__(self, parent: QWidget | None = None, *, compact: bool = False) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self.title = QLabel("")
        self.bar = QProgressBar(accessibleName="Progress")
        self.bar.setMaximumWidth(220 if compact else 16777215)
        self.bar.setTextVisible(True)
        self.eta = QLabel("", objectName="muted", accessibleName="Time left")
        self.cancel = QPushButton(theme.icon("cancel"), "Cancel", accessibleName="Cancel")
        self.cancel.clicked.connect(self._cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.eta)
        layout.addWidget(self.cancel)
        self._started = 0.0
        self.hide()

    def start(self, title: str, job: Job) -> None:
        self.job = job
        self._started = time.monotonic()
        self.title.setText(title)
        self.bar.setRange(0, 0)  # busy until the first count
        self.eta.setText("")
        self.cancel.setEnabled(True)
        self.show()

    def update_progress(self, payload: Any) -> None:
        done, total, eta = counts_of(payload)
        if total:
            self.bar.setRange(0, int(total))
            self.bar.setValue(min(done, int(total)))
            self.bar.setFormat(f"{done:,} / {int(total):,}")
            if eta is None and done > 0:
                elapsed = time.monotonic() - self._started
                eta = elapsed / done * (int(total) - done)
            self.eta.setText(eta_text(eta))
        else:
            self.bar.setRange(0, 0)
            self.eta.setText(f"{done:,} done")

    def finish(self) -> None:
        self.job = None
        self.hide()

    def _cancel(self) -> None:
        if self.job is not None:
            self.job.cancel.set()
            self.cancel.setEnabled(False)
            self.eta.setText("Cancelling…")
