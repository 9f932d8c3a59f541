"""The business profile: the name, voice, sign-off and facts at the top of every prompt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import theme

if TYPE_CHECKING:
    from app.core.errors import KnownError
    from app.core.types import BusinessProfile
    from app.ui.context import AppContext

BUSINESS_TYPES = ("restaurant", "hotel", "cafe", "shop", "clinic", "salon", "business")


class ProfileForm(QWidget):
    """The profile fields (shared by the editor tab and the first-run wizard)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit(accessibleName="Business name")
        self.type = QComboBox(editable=True, accessibleName="Type of business")
        self.type.addItems(BUSINESS_TYPES)
        self.voice = QPlainTextEdit(accessibleName="Voice and tone")
        self.voice.setPlaceholderText("How replies should sound, e.g. “Warm and personal, first "
                                      "names, no corporate phrases.”")
        self.voice.setMaximumHeight(90)
        self.sign_off = QLineEdit(accessibleName="Sign-off")
        self.sign_off.setPlaceholderText("e.g. “Maria and the team at Olive & Ember”")
        self.languages = QLineEdit(accessibleName="Languages")
        self.languages.setPlaceholderText("en, de, …")
        self.facts = QPlainTextEdit(accessibleName="Facts")
        self.facts.setPlaceholderText("One fact per line: address, phone, parking, what you "
                                      "offer when something went wrong…")
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Type", self.type)
        form.addRow("Voice", self.voice)
        form.addRow("Sign-off", self.sign_off)
        form.addRow("Languages", self.languages)
        form.addRow("Facts", self.facts)

    def set_profile(self, p: BusinessProfile) -> None:
        self.name.setText(p.name)
        self.type.setCurrentText(p.type)
        self.voice.setPlainText(p.voice)
        self.sign_off.setText(p.sign_off)
        self.languages.setText(", ".join(p.languages))
        self.facts.setPlainText("\n".join(p.facts))

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name.text().strip(),
            "type": self.type.currentText().strip() or "business",
            "voice": self.voice.toPlainText().strip(),
            "sign_off": self.sign_off.text().strip(),
            "languages": [s.strip() for s in self.languages.text().split(",") if s.strip()],
            "facts": [s.strip() for s in self.facts.toPlainText().splitlines() if s.strip()],
        }


class ProfileEditor(QWidget):
    saved = Signal(object)  # BusinessProfile

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setAccessibleName("Business profile")
        self.form = ProfileForm()
        self.save_button = QPushButton(theme.icon("accept"), "Save profile",
                                       accessibleName="Save profile")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert", accessibleName="Revert")
        self.revert_button.clicked.connect(self.load)
        self.note = QLabel("", objectName="muted")
        intro = QLabel("Every draft starts from this profile: keep it short and true. Offers "
                       "(refunds, vouchers) a draft makes are flagged unless they are written "
                       "here or in your knowledge documents.", wordWrap=True, objectName="muted")
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.revert_button)
        row.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(intro)
        layout.addWidget(self.form, 1)
        layout.addLayout(row)
        self.load()

    def load(self) -> None:
        core = self.ctx.core
        if core is None:
            return
        from app.services import profile

        self.ctx.db.submit(lambda _job: profile.current(core), name="profile",
                           on_done=self.form.set_profile)

    def save(self) -> None:
        core = self.ctx.core
        if core is None:
            return
        from app.services import profile

        values = self.form.values()
        self.save_button.setEnabled(False)
        self.ctx.db.submit(lambda _job: profile.update(core, **values), name="profile-save",
                           on_done=self._saved, on_error=self._failed)

    def _saved(self, p: BusinessProfile) -> None:
        self.save_button.setEnabled(True)
        self.form.set_profile(p)
        self.note.setText("Saved. The next draft uses it.")
        self.saved.emit(p)

    def _failed(self, exc: KnownError) -> None:
        self.save_button.setEnabled(True)
        self.ctx.show_error(exc)
