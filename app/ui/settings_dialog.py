"""Settings: the model (or a GGUF of your own), adapter, threads, context, sampling, variants,
and the servers a business may share (an OpenAI-compatible engine, a Chroma knowledge server)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.ui import theme

if TYPE_CHECKING:
    from app.core.errors import KnownError
    from app.llm.registry import ModelEntry
    from app.ui.context import AppContext


def _size(entry: ModelEntry) -> str:
    return f"{entry.size / 2**20:,.0f} MB" if entry.size else ""


class SettingsDialog(QDialog):
    modelAdded = Signal(object)  # ModelEntry

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self.setMinimumWidth(560)
        assert ctx.core is not None
        s = ctx.core.settings
        self._initial = s
        self._default_model = ""

        self.model = QComboBox(accessibleName="Chat model")
        self.add_model = QPushButton(theme.icon("add-file"), "Add GGUF…",
                                     accessibleName="Add a GGUF model")
        self.add_model.setToolTip("Register a GGUF chat model or LoRA adapter from disk")
        self.add_model.clicked.connect(self._choose_gguf)
        self.model_note = QLabel("", objectName="muted", wordWrap=True)
        self.adapter = QComboBox(accessibleName="Adapter")
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.add_model)

        self.threads = QSpinBox(minimum=0, maximum=256, value=s.threads,
                                accessibleName="Threads", specialValueText="automatic")
        self.context = QSpinBox(minimum=256, maximum=131072, singleStep=256,
                                value=s.context_size, accessibleName="Context size")
        self.context.setSuffix(" tokens")
        self.temperature = QDoubleSpinBox(minimum=0.0, maximum=2.0, singleStep=0.05,
                                          decimals=2, value=s.temperature,
                                          accessibleName="Temperature")
        self.variants = QSpinBox(minimum=1, maximum=3, value=s.variants,
                                 accessibleName="Number of variants")
        self.backend = QComboBox(accessibleName="Engine")
        self.backend.addItem("Built-in (llama.cpp on this computer)", "local")
        self.backend.addItem("OpenAI-compatible server", "openai")
        self.backend.setCurrentIndex(max(0, self.backend.findData(s.llm_backend)))
        self.server_url = QLineEdit(s.openai_base_url, accessibleName="Server URL",
                                    placeholderText="http://127.0.0.1:8080/v1")
        self.server_model = QLineEdit(s.openai_model, accessibleName="Server model name")
        self.backend.currentIndexChanged.connect(self._backend_changed)

        self.chroma_url = QLineEdit(s.chroma_url, accessibleName="Knowledge server URL",
                                    placeholderText="empty: on this computer, in the data folder")
        self.chroma_url.setToolTip("A shared Chroma server (started with 'chroma run --path DIR "
                                   "--port 8000'), for example http://127.0.0.1:8000")

        self.data_dir = QLineEdit(str(ctx.core.data_dir), readOnly=True,
                                  accessibleName="Data folder")
        open_data = QPushButton(theme.icon("open"), "Open", accessibleName="Open data folder")
        open_data.clicked.connect(lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(ctx.core.data_dir) if ctx.core else "")))
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_dir, 1)
        data_row.addWidget(open_data)

        model_box = QGroupBox("Model")
        mf = QFormLayout(model_box)
        mf.addRow("Engine", self.backend)
        mf.addRow("Chat model", model_row)
        mf.addRow("", self.model_note)
        mf.addRow("Adapter", self.adapter)
        mf.addRow("Server URL", self.server_url)
        mf.addRow("Server model", self.server_model)
        mf.addRow("Threads", self.threads)
        mf.addRow("Context size", self.context)
        drafting_box = QGroupBox("Drafting")
        df = QFormLayout(drafting_box)
        df.addRow("Temperature", self.temperature)
        df.addRow("Variants", self.variants)
        data_box = QGroupBox("Data")
        dl = QFormLayout(data_box)
        dl.addRow("Data folder", data_row)
        dl.addRow("Knowledge server", self.chroma_url)
        dl.addRow("", QLabel("Documents are indexed where the knowledge base lives: after "
                             "switching, add them again in the Knowledge tab.",
                             objectName="muted", wordWrap=True))
        dl.addRow("", QLabel("To use another folder, start ReplyDesk with --data-dir or "
                             "REPLYDESK_DATA_DIR.", objectName="muted", wordWrap=True))

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(model_box)
        layout.addWidget(drafting_box)
        layout.addWidget(data_box)
        layout.addWidget(self.buttons)
        self._backend_changed()
        self.load_models()

    def _backend_changed(self) -> None:
        local = self.backend.currentData() == "local"
        for w in (self.model, self.add_model, self.adapter, self.threads):
            w.setEnabled(local)
        self.server_url.setEnabled(not local)
        self.server_model.setEnabled(not local)

    def load_models(self, select: str | None = None) -> None:
        core = self.ctx.core
        assert core is not None
        self.ctx.db.submit(lambda _job: core.registry.all(), name="models",
                           on_done=lambda models: self._fill(models, select))

    def _fill(self, models: list[ModelEntry], select: str | None) -> None:
        s = self._initial
        self.model.clear()
        self.adapter.clear()
        self.adapter.addItem("None (base model)", "")
        for m in models:
            label = f"{m.name}  ·  {_size(m)}" + ("  ·  built in" if m.builtin else "")
            if m.kind == "chat":
                self.model.addItem(label, m.name)
                if m.default:
                    self._default_model = m.name
                    if not s.model:
                        self.model.setCurrentIndex(self.model.count() - 1)
            elif m.kind == "adapter":
                self.adapter.addItem(label, m.name)
        if s.model:
            self.model.setCurrentIndex(max(0, self.model.findData(s.model)))
        self.adapter.setCurrentIndex(max(0, self.adapter.findData(s.adapter)))
        if select:
            for combo in (self.model, self.adapter):
                i = combo.findData(select)
                if i >= 0:
                    combo.setCurrentIndex(i)

    def _choose_gguf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a GGUF model or adapter",
                                              str(Path.home()), "GGUF files (*.gguf)")
        if path:
            self.add_gguf(Path(path))

    def add_gguf(self, path: Path) -> None:
        """Read the header and checksum on the task thread (seconds for a big file)."""
        core = self.ctx.core
        assert core is not None
        self.add_model.setEnabled(False)
        self.model_note.setText(f"Checking {path.name}…")
        self.ctx.tasks.submit(lambda _job: core.registry.add(path), name="add-model",
                              on_done=self._added, on_error=self._add_failed)

    def _added(self, entry: ModelEntry) -> None:
        self.add_model.setEnabled(True)
        arch = f"{entry.architecture}, " if entry.architecture else ""
        self.model_note.setText(f"Added {entry.name} ({arch}{entry.quantization or 'GGUF'}, "
                                f"about {entry.ram_mb:,} MB of memory).")
        self.load_models(select=entry.name)
        self.modelAdded.emit(entry)

    def _add_failed(self, exc: KnownError) -> None:
        self.add_model.setEnabled(True)
        self.model_note.setText("")
        self.ctx.presenter.known(exc, "This file cannot be used as a model")

    def changes(self) -> dict[str, Any]:
        s = self._initial
        wanted = {
            "threads": self.threads.value(),
            "context_size": self.context.value(),
            "temperature": round(self.temperature.value(), 2),
            "variants": self.variants.value(),
            "llm_backend": self.backend.currentData(),
            "openai_base_url": self.server_url.text().strip(),
            "openai_model": self.server_model.text().strip(),
            "chroma_url": self.chroma_url.text().strip().rstrip("/"),
        }
        if self.model.count():
            model = self.model.currentData() or ""
            wanted["model"] = "" if model == self._default_model and not s.model else model
            wanted["adapter"] = self.adapter.currentData() or ""
        return {k: v for k, v in wanted.items() if getattr(s, k) != v}

    def accept(self) -> None:
        from dataclasses import replace

        from app.core.errors import KnownError

        changes = self.changes()
        try:
            replace(self._initial, **changes).validated()
        except KnownError as exc:  # a mistyped server address: say so and keep the dialog open
            self.ctx.presenter.known(exc, "Check the settings")
            return
        if changes and self.ctx.llm is not None:
            self.ctx.llm.apply_settings(**changes)
        super().accept()
