"""First run: from nothing to a first grounded draft in under a minute.

Welcome → business profile (or the sample restaurant) → knowledge (the sample kit and/or your own
documents, indexed with progress) → a first draft of a reply to a sample review, streamed, with
the snippets it used and its claim check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.ui import theme
from app.ui.draft_editor import DraftEditor
from app.ui.profile_editor import ProfileForm
from app.ui.progress import TaskProgress

if TYPE_CHECKING:
    from app.core.errors import KnownError
    from app.core.types import DraftDTO
    from app.ui.context import AppContext

SAMPLE_PROFILE = {
    "name": "Olive & Ember (sample)",
    "type": "restaurant",
    "voice": "Warm, personal and brief. Thank the guest, answer what they raised, never argue, "
             "never promise what is not in our policies.",
    "sign_off": "Maria and the Olive & Ember team",
    "languages": ["en"],
    "facts": [],
}
SAMPLE_REVIEW = (
    "Lovely lamb and friendly staff, but the tomato soup arrived cold and nobody could tell my "
    "friend whether the dessert had nuts in it. She has a nut allergy! Can we get a refund for "
    "the soup?"
)


class WelcomePage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Welcome to ReplyDesk")
        self.setSubTitle("Draft replies to your reviews with a model that runs on this "
                         "computer, grounded in your own facts. Nothing leaves your machine.")
        self.sample = QRadioButton("Try it with a sample restaurant (Olive & Ember) — its "
                                   "menu, hours and policies are included",
                                   accessibleName="Use the sample restaurant")
        self.own = QRadioButton("Set up my own business", accessibleName="Set up my business")
        self.sample.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.sample)
        group.addButton(self.own)
        layout = QVBoxLayout(self)
        layout.addWidget(self.sample)
        layout.addWidget(self.own)
        layout.addStretch(1)


class ProfilePage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Your business")
        self.setSubTitle("Every draft starts from this. You can change it any time under "
                         "Business profile.")
        self.form = ProfileForm()
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)

    def initializePage(self) -> None:
        w = self._wizard
        if w.use_sample():
            self.form.name.setText(str(SAMPLE_PROFILE["name"]))
            self.form.type.setCurrentText(str(SAMPLE_PROFILE["type"]))
            self.form.voice.setPlainText(str(SAMPLE_PROFILE["voice"]))
            self.form.sign_off.setText(str(SAMPLE_PROFILE["sign_off"]))
            self.form.languages.setText("en")
        elif w.ctx.core is not None:
            from app.services import profile

            core = w.ctx.core
            w.ctx.db.submit(lambda _job: profile.current(core), name="profile",
                            on_done=self.form.set_profile)

    def validatePage(self) -> bool:
        return bool(self.form.name.text().strip())


class KnowledgePage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("What drafts may say")
        self.setSubTitle("Drafts use facts from your documents (menu, policies, hours, FAQ) and "
                         "show which ones they used.")
        self.use_kit = QCheckBox("Index the sample kit (menu, opening hours, refund and "
                                 "allergen policies, FAQ)", accessibleName="Index the sample kit")
        self.add = QPushButton(theme.icon("add-file"), "Add my documents…",
                               accessibleName="Add my documents")
        self.add.clicked.connect(self._choose)
        self.paths: list[Path] = []
        self.list = QListWidget(accessibleName="Documents to index")
        self.index_button = QPushButton(theme.icon("knowledge"), "Index now",
                                        accessibleName="Index now")
        self.index_button.clicked.connect(self.start)
        self.progress = TaskProgress()
        self.result = QLabel("", wordWrap=True, accessibleName="Indexing result")
        self.done = False
        self.saved = False
        self.running = False
        self.use_kit.toggled.connect(lambda _on: self._changed())
        row = QHBoxLayout()
        row.addWidget(self.add)
        row.addWidget(self.index_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.use_kit)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.result)

    def initializePage(self) -> None:
        self.use_kit.setChecked(self._wizard.use_sample())
        self.saved = False
        self.index_button.setEnabled(False)
        self._wizard.save_profile(then=self._profile_saved)

    def _profile_saved(self) -> None:
        self.saved = True
        self.index_button.setEnabled(True)
        if self._wizard.use_sample():
            self.start()
        else:
            self.completeChanged.emit()

    def _changed(self) -> None:
        self.done = False
        self.completeChanged.emit()

    def _choose(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add documents", str(Path.home()))
        self.add_paths([Path(f) for f in files])

    def add_paths(self, paths: list[Path]) -> None:
        for p in paths:
            if p not in self.paths:
                self.paths.append(p)
                self.list.addItem(str(p))
        self._changed()

    def start(self) -> None:
        ctx = self._wizard.ctx
        core = ctx.core
        if core is None:
            return
        from app.services import knowledge

        kit, paths = self.use_kit.isChecked(), list(self.paths)
        if not kit and not paths:
            self.done = True
            self.result.setText("Nothing to index: drafts will rely on the profile alone.")
            self.completeChanged.emit()
            return

        def index(job: Any) -> Any:
            report = None
            if kit:
                report = knowledge.add_paths(core, [knowledge.sample_kit_dir()],
                                             progress=job.progress, cancel=job.cancel)
            if paths:
                report = knowledge.add_paths(core, paths, progress=job.progress,
                                             cancel=job.cancel)
            return report

        self.done = False
        self.running = True
        self.index_button.setEnabled(False)
        self.result.setText("")
        job = ctx.tasks.submit(index, name="wizard-index",
                               on_progress=self.progress.update_progress,
                               on_done=self._indexed, on_error=self._failed,
                               on_cancelled=self._cancelled)
        self.progress.start("Indexing", job)
        self.completeChanged.emit()

    def _indexed(self, report: Any) -> None:
        self.progress.finish()
        self.running = False
        self.index_button.setEnabled(True)
        self.done = True
        if report is not None:
            self.result.setText(f"Ready: {report.chunks} snippets from "
                                f"{report.added + report.updated + report.unchanged} "
                                f"document(s) in {report.seconds:.1f} s.")
        self.completeChanged.emit()
        self._wizard.ctx.knowledgeChanged.emit()

    def _failed(self, exc: KnownError) -> None:
        self.progress.finish()
        self.running = False
        self.index_button.setEnabled(True)
        self.done = True  # drafting still works without documents
        self.result.setText("Indexing failed; you can add documents later.")
        self._wizard.ctx.presenter.known(exc, "Indexing failed")
        self.completeChanged.emit()

    def _cancelled(self) -> None:
        self.progress.finish()
        self.running = False
        self.index_button.setEnabled(True)
        self.done = True
        self.result.setText("Cancelled. What was indexed stays; add more any time.")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        """Done indexing, or nothing chosen to index (the profile alone works too)."""
        nothing = not self.use_kit.isChecked() and not self.paths
        return bool(self.saved and not self.running and (self.done or nothing))


class DraftPage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Your first draft")
        self.setSubTitle("Here is a sample review. Press Draft and watch the reply being "
                         "written on this computer.")
        self.review = QPlainTextEdit(SAMPLE_REVIEW, accessibleName="Sample review")
        self.review.setMaximumHeight(90)
        self.rating = QSpinBox(minimum=1, maximum=5, value=3, accessibleName="Rating")
        self.rating.setSuffix(" ★")
        self.draft_button = QPushButton(theme.icon("draft"), "Draft a reply",
                                        accessibleName="Draft a reply")
        self.draft_button.setObjectName("primary")
        self.draft_button.clicked.connect(self.start)
        self.output = DraftEditor()
        self.output.setReadOnly(True)
        self.sources = QListWidget(accessibleName="Sources used")
        self.sources.setWordWrap(True)
        self.sources.setMaximumHeight(130)
        self.state = QLabel("", objectName="muted")
        self.job: int | None = None
        self.draft: DraftDTO | None = None
        row = QHBoxLayout()
        row.addWidget(QLabel("Rating"))
        row.addWidget(self.rating)
        row.addWidget(self.draft_button)
        row.addWidget(self.state, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.review)
        layout.addLayout(row)
        layout.addWidget(self.output, 1)
        layout.addWidget(QLabel("Snippets it used"))
        layout.addWidget(self.sources)

    def initializePage(self) -> None:
        llm = self._wizard.ctx.llm
        if llm is not None and not getattr(self, "_connected", False):
            w = llm.worker
            w.token.connect(self._token)
            w.draftReady.connect(self._ready)
            w.draftFailed.connect(self._failed)
            w.finished.connect(self._finished)
            self._connected = True

    def start(self) -> None:
        ctx = self._wizard.ctx
        if ctx.llm is None:
            return
        from app.services.drafting import DraftRequest

        self.output.set_text("")
        self.sources.clear()
        self.draft = None
        self.draft_button.setEnabled(False)
        self.state.setText("Writing…")
        self.job = ctx.llm.start_draft(DraftRequest(
            text=self.review.toPlainText(), rating=self.rating.value(), platform="google"))

    @Slot(int, int, str)
    def _token(self, job: int, _variant: int, piece: str) -> None:
        if job == self.job:
            self.output.append_stream(piece)

    @Slot(int, object)
    def _ready(self, job: int, draft: DraftDTO) -> None:
        if job != self.job:
            return
        self.draft = draft
        self.output.set_text(draft.text, draft.claims)
        for c in draft.sources:
            self.sources.addItem(f"{Path(c.source).name} · relevance {c.score:.2f}: "
                                 f"{' '.join(c.text.split())[:140]}…")
        if not draft.sources:
            self.sources.addItem("No snippets matched this review.")
        bad = sum(1 for c in draft.claims if not c.supported)
        self.state.setText(f"Done: {len(draft.sources)} snippet(s) used"
                           + (f", {bad} claim(s) to check (highlighted)" if bad else ""))

    @Slot(int, object)
    def _failed(self, job: int, exc: KnownError) -> None:
        if job == self.job:
            self.state.setText("The draft failed")
            self._wizard.ctx.presenter.known(exc)

    @Slot(int)
    def _finished(self, job: int) -> None:
        if job == self.job:
            self.job = None
            self.draft_button.setEnabled(True)
            self.draft_button.setText("Draft again")
            self._wizard.firstDraft.emit(self.draft)


class FirstRunWizard(QWizard):
    firstDraft = Signal(object)  # DraftDTO (None when it failed)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Getting started with ReplyDesk")
        self.setAccessibleName("Getting started")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setMinimumSize(720, 560)
        self.welcome = WelcomePage()
        self.profile = ProfilePage(self)
        self.knowledge = KnowledgePage(self)
        self.first_draft = DraftPage(self)
        for page in (self.welcome, self.profile, self.knowledge, self.first_draft):
            self.addPage(page)
        self.finished.connect(self._done)

    def use_sample(self) -> bool:
        return bool(self.welcome.sample.isChecked())

    def save_profile(self, then: Callable[[], None]) -> None:
        core = self.ctx.core
        if core is None:
            return
        from app.services import profile

        values = self.profile.form.values()

        self.ctx.db.submit(lambda _job: profile.update(core, **values), name="profile-save",
                           on_done=lambda _profile: then(), on_error=self._profile_failed)

    def _profile_failed(self, exc: KnownError) -> None:
        self.ctx.presenter.known(exc, "The profile could not be saved")
        self.back()

    def _done(self, _result: int) -> None:
        if self.first_draft.job is not None and self.ctx.llm is not None:
            self.ctx.llm.stop(self.first_draft.job)
        if self.ctx.llm is not None:
            self.ctx.llm.apply_settings(first_run_done=True)
