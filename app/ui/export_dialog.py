"""Export the owner's decisions as training data (TRL DPO/KTO JSONL, a datasets folder, CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import theme
from app.ui.progress import TaskProgress

if TYPE_CHECKING:
    from app.core.errors import KnownError
    from app.ui.context import AppContext

FORMATS = (
    ("dpo", "Preference pairs (TRL DPO, JSONL)", "replydesk-dpo.jsonl",
     "chosen vs rejected replies, from edits and picked variants"),
    ("kto", "Good / bad examples (TRL KTO, JSONL)", "replydesk-kto.jsonl",
     "every accepted, edited or rejected draft with a label"),
    ("hf", "Hugging Face datasets folder", "replydesk-dataset",
     "both of the above, ready for datasets.load_from_disk"),
    ("csv", "Spreadsheet (CSV)", "replydesk-feedback.csv", "for reading and checking by hand"),
)


class ExportDialog(QDialog):
    exported = Signal(object)  # ExportReport

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Export feedback")
        self.setAccessibleName("Export feedback")
        self.setMinimumWidth(520)
        self.group = QButtonGroup(self)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Your decisions on drafts become training data for the local "
                                "model. Choose a format:", wordWrap=True))
        for i, (key, label, _default, note) in enumerate(FORMATS):
            button = QRadioButton(label, accessibleName=label)
            button.setProperty("format", key)
            button.setToolTip(note)
            self.group.addButton(button, i)
            layout.addWidget(button)
            hint = QLabel(note, objectName="muted")
            hint.setContentsMargins(24, 0, 0, 4)
            layout.addWidget(hint)
        self.group.button(0).setChecked(True)
        self.group.idToggled.connect(self._toggled)

        redact = ctx.core.settings.redact_exports if ctx.core else True
        self.redact = QCheckBox("Replace reviewer names, e-mail addresses and phone numbers "
                                "with placeholders", checked=redact,
                                accessibleName="Redact personal data")
        self.path = QLineEdit(accessibleName="Export to")
        browse = QPushButton("Browse…", accessibleName="Browse")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        layout.addWidget(self.redact)
        layout.addWidget(QLabel("Export to"))
        layout.addLayout(row)
        self.progress = TaskProgress()
        self.progress.cancel.hide()
        layout.addWidget(self.progress)
        self.outcome = QLabel("", wordWrap=True, accessibleName="Export result")
        layout.addWidget(self.outcome)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.setIcon(theme.icon("export"))
        self.export_button.setObjectName("primary")
        self.export_button.clicked.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._format_changed()

    def fmt(self) -> str:
        return str(FORMATS[self.group.checkedId()][0])

    def _default_path(self) -> Path:
        base = Path.home() / "Documents"
        return (base if base.is_dir() else Path.home()) / FORMATS[self.group.checkedId()][2]

    def _toggled(self, _id: int, on: bool) -> None:
        if on:
            self._format_changed()

    def _format_changed(self) -> None:
        current = Path(self.path.text()) if self.path.text() else None
        target = self._default_path()
        folder = current.parent if current else target.parent
        self.path.setText(str(folder / target.name))

    def _browse(self) -> None:
        if self.fmt() == "hf":
            chosen = QFileDialog.getExistingDirectory(self, "Export to folder",
                                                      str(Path(self.path.text()).parent))
            if chosen:
                self.path.setText(str(Path(chosen) / FORMATS[2][2]))
        else:
            chosen, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text())
            if chosen:
                self.path.setText(chosen)

    def export(self) -> None:
        core = self.ctx.core
        text = self.path.text().strip()
        if core is None or not text:
            return
        from app.services import feedback

        fmt, path, redact = self.fmt(), Path(text).expanduser(), self.redact.isChecked()
        self.export_button.setEnabled(False)
        self.outcome.setText("")
        job = self.ctx.tasks.submit(
            lambda _job: feedback.export(core, fmt, path, redact=redact),
            name="export", on_done=self._done, on_error=self._failed,
        )
        self.progress.start("Exporting", job)

    def _done(self, report: Any) -> None:
        self.progress.finish()
        self.export_button.setEnabled(True)
        what = []
        if report.pairs:
            what.append(f"{report.pairs:,} preference pair{'s' if report.pairs != 1 else ''}")
        if report.kto:
            what.append(f"{report.kto:,} labelled example{'s' if report.kto != 1 else ''}")
        redacted = " (redacted)" if report.redacted else ""
        self.outcome.setText(f"Exported {' and '.join(what) or 'nothing yet'}{redacted} to "
                            f"{report.path}")
        self.exported.emit(report)

    def _failed(self, exc: KnownError) -> None:
        self.progress.finish()
        self.export_button.setEnabled(True)
        self.ctx.presenter.known(exc, "The export failed")
