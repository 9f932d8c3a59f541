"""The main window: inbox and review pane, the other screens in tabs, status and shortcuts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSettings, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.ui import theme
from app.ui.progress import TaskProgress

if TYPE_CHECKING:
    from app.core.errors import KnownError
    from app.core.types import ImportReport
    from app.services.decisions import Decision
    from app.ui.context import AppContext
    from app.ui.inbox import InboxPanel
    from app.ui.review_pane import ReviewPane
    from app.ui.workers import Job

REVIEW_FILES = {".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".txt"}
IMPORT_FILTER = "Review files (*.csv *.tsv *.json *.jsonl *.ndjson);;All files (*)"
SHORTCUTS = (
    ("Draft or regenerate", "Ctrl+G"),
    ("Draft variants side by side", "Ctrl+Shift+G"),
    ("Stop writing", "Esc"),
    ("Accept / approve the reply", "Ctrl+Enter"),
    ("Edit the reply", "Ctrl+E"),
    ("Reject the draft", "Ctrl+Shift+X"),
    ("Skip the review", "Ctrl+Shift+S"),
    ("Copy the reply", "Ctrl+Shift+C"),
    ("Next / previous review", "Ctrl+J / Ctrl+K"),
    ("Use variant 1, 2, 3", "Alt+1 / Alt+2 / Alt+3"),
    ("Search reviews", "Ctrl+F"),
    ("Import reviews", "Ctrl+I"),
    ("Export feedback", "Ctrl+Shift+E"),
    ("Settings", "Ctrl+,"),
)


class LazyTab(QWidget):
    """A tab whose content is built the first time it is shown (QtCharts etc. load late)."""

    def __init__(self, factory: Callable[[], QWidget], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._factory = factory
        self.content: QWidget | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def build(self) -> QWidget:
        if self.content is None:
            self.content = self._factory()
            self._layout.addWidget(self.content)
        return self.content

    def showEvent(self, event: Any) -> None:
        self.build()
        super().showEvent(event)


class MainWindow(QMainWindow):
    """Painted as a light shell first; the inbox and review pane are built right after that first
    paint (while the database opens on its thread), so the window appears at once."""

    firstPainted = Signal()
    contentBuilt = Signal()
    inbox: InboxPanel
    pane: ReviewPane
    splitter: QSplitter

    def __init__(self, ctx: AppContext, ui_settings: QSettings,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.ui_settings = ui_settings
        self.wizard: QWidget | None = None
        self.model_state = "none"
        self.setWindowTitle("ReplyDesk")
        self.setWindowIcon(theme.app_icon())
        self.setAccessibleName("ReplyDesk main window")
        self.setAcceptDrops(True)
        self.resize(1360, 840)

        self.tabs = QTabWidget(documentMode=True)
        self.tabs.setAccessibleName("Screens")
        self.inbox_tab = QWidget()
        self._inbox_layout = QVBoxLayout(self.inbox_tab)
        self._inbox_layout.setContentsMargins(0, 0, 0, 0)
        self.tabs.addTab(self.inbox_tab, theme.icon("inbox"), "Inbox")
        self.knowledge_tab = LazyTab(self._make_knowledge)
        self.profile_tab = LazyTab(self._make_profile)
        self.analytics_tab = LazyTab(self._make_analytics)
        self.tabs.addTab(self.knowledge_tab, theme.icon("knowledge"), "Knowledge")
        self.tabs.addTab(self.profile_tab, theme.icon("profile"), "Business profile")
        self.tabs.addTab(self.analytics_tab, theme.icon("analytics"), "Analytics")
        self.setCentralWidget(self.tabs)

        self._build_toolbar()
        self._build_status()
        self.opening = QLabel("Opening your data…", objectName="muted")
        self.statusBar().addWidget(self.opening)
        self.loop_actions: list[QAction] = []
        self._set_ready(False)
        ctx.ready.connect(self._ready)
        ctx.modelState.connect(self._model_state)
        self._restore_geometry()
        self._built = False
        self._painted = False
        QTimer.singleShot(500, self.build_content)  # in case no paint comes (hidden window)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:  # once the whole first frame is drawn: report it, then build
            self._painted = True
            QTimer.singleShot(0, self.firstPainted.emit)
            QTimer.singleShot(0, self.build_content)

    def build_content(self) -> None:
        """The inbox, the review pane and the reply-loop shortcuts (idempotent)."""
        if self._built:
            return
        self._built = True
        from PySide6.QtCore import Qt  # not before the first paint: see app.ui.theme

        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.follow_system(app)
        from app.ui.inbox import InboxPanel
        from app.ui.review_pane import ReviewPane

        ctx = self.ctx
        self.inbox = InboxPanel(ctx)
        self.pane = ReviewPane(ctx)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.inbox)
        self.splitter.addWidget(self.pane)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([720, 560])
        self.inbox.reviewSelected.connect(self.pane.load)
        self.pane.decided.connect(self._decided)
        self.pane.draftFinished.connect(self._drafted)
        self.pane.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self._inbox_layout.addWidget(self.splitter)
        self._build_loop_actions()
        self._restore_splitters()
        self._set_ready(ctx.core is not None)
        self.contentBuilt.emit()

    # --- building -----------------------------------------------------------------------------

    def _action(self, icon: str | None, text: str, shortcut: str | list[str] | None,
                slot: Callable[[], Any], tip: str = "") -> QAction:
        action = QAction(theme.icon(icon) if icon else QIcon(), text, self)
        if shortcut:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])  # window-wide by default
        action.setToolTip(f"{tip or text} ({', '.join(keys)})" if shortcut else (tip or text))
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_toolbar(self) -> None:
        self.import_action = self._action("import", "Import reviews…", "Ctrl+I",
                                          self.choose_import, "Import a file of reviews")
        self.export_action = self._action("export", "Export feedback…", "Ctrl+Shift+E",
                                          self.open_export, "Export your decisions for training")
        self.settings_action = self._action("settings", "Settings", ["Ctrl+,", "Ctrl+;"],
                                            self.open_settings)
        self.wizard_action = self._action("draft", "Getting started…", None, self.open_wizard,
                                          "Set up your business and try a first draft")
        self.help_action = self._action(None, "Keyboard shortcuts", "F1", self.show_shortcuts)
        self._action(None, "Quit", "Ctrl+Q", self.close)
        bar = QToolBar("Main", self)
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)  # text beside the icons: see app.qss (no Qt enums before paint)
        for a in (self.import_action, self.export_action, self.settings_action,
                  self.wizard_action):
            bar.addAction(a)
        self.addToolBar(bar)

    def _build_loop_actions(self) -> None:
        pane = self.pane
        self.loop_actions = [
            self._action(None, "Draft", "Ctrl+G", lambda: pane.start_draft(1)),
            self._action(None, "Variants", "Ctrl+Shift+G", lambda: pane.start_draft(None)),
            self._action(None, "Stop", "Esc", pane.stop),
            self._action(None, "Accept", ["Ctrl+Return", "Ctrl+Enter"], pane.approve),
            self._action(None, "Edit", "Ctrl+E", pane.begin_edit),
            self._action(None, "Reject", "Ctrl+Shift+X", lambda: self._if_enabled(
                pane.reject_button, lambda: pane.decide("reject"))),
            self._action(None, "Skip", "Ctrl+Shift+S", lambda: self._if_enabled(
                pane.skip_button, lambda: pane.decide("skip"))),
            self._action(None, "Copy reply", "Ctrl+Shift+C", pane.copy_reply),
            self._action(None, "Next review", ["Ctrl+J", "Alt+Down"],
                         lambda: self._goto(self.inbox.select_next)),
            self._action(None, "Previous review", ["Ctrl+K", "Alt+Up"],
                         lambda: self._goto(self.inbox.select_previous)),
            self._action(None, "Search", "Ctrl+F", self._focus_search),
        ]

    def _build_status(self) -> None:
        self.progress = TaskProgress(compact=True)
        self.model_label = QLabel("Model: not loaded", accessibleName="Model status")
        self.model_label.setObjectName("muted")
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.model_label)

    @staticmethod
    def _if_enabled(button: QWidget, slot: Callable[[], Any]) -> None:
        if button.isEnabled():
            slot()

    def _goto(self, move: Callable[[], bool]) -> None:
        self.tabs.setCurrentIndex(0)
        move()

    def _focus_search(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.inbox.search.setFocus()
        self.inbox.search.selectAll()

    def _make_knowledge(self) -> QWidget:
        from app.ui.knowledge_panel import KnowledgePanel

        return KnowledgePanel(self.ctx)

    def _make_profile(self) -> QWidget:
        from app.ui.profile_editor import ProfileEditor

        return ProfileEditor(self.ctx)

    def _make_analytics(self) -> QWidget:
        from app.ui.analytics import AnalyticsView

        return AnalyticsView(self.ctx)

    # --- lifecycle ----------------------------------------------------------------------------

    def _set_ready(self, ready: bool) -> None:
        for a in (self.import_action, self.export_action, self.settings_action,
                  self.wizard_action, *self.loop_actions):
            a.setEnabled(ready)
        self.tabs.setEnabled(ready)

    def _ready(self) -> None:
        core = self.ctx.core
        assert core is not None
        self.build_content()
        self.opening.hide()
        self._set_ready(True)
        self.pane.connect_llm()
        self.pane._sync()
        self.inbox.reload()
        self.ctx.settingsChanged.connect(lambda _s: self.pane._sync())
        if not core.settings.first_run_done:
            QTimer.singleShot(0, self.open_wizard)

    def _model_state(self, state: str, text: str) -> None:
        self.model_state = state
        self.model_label.setText(text)
        self.model_label.setToolTip(text)

    def _restore_geometry(self) -> None:
        geometry = self.ui_settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = self.ui_settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def _restore_splitters(self) -> None:
        for key, splitter in (("window/splitter", self.splitter),
                              ("window/pane", self.pane.splitter)):
            value = self.ui_settings.value(key)
            if isinstance(value, QByteArray):
                splitter.restoreState(value)

    def save_state(self) -> None:
        s = self.ui_settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        if self._built:
            s.setValue("window/splitter", self.splitter.saveState())
            s.setValue("window/pane", self.pane.splitter.saveState())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self.ctx.presenter.close_all()
        if self.wizard is not None:
            self.wizard.close()
        self.ctx.shutdown()
        event.accept()

    # --- the reply loop -----------------------------------------------------------------------

    def _drafted(self, drafts: list[Any]) -> None:
        review_id = next((d.review_id for d in drafts if d.review_id is not None), None)
        if review_id is not None:
            self.inbox.refresh_review(review_id)  # new -> drafted

    def _decided(self, decision: Decision) -> None:
        self.inbox.refresh_review(decision.review_id)
        if decision.status not in ("approved", "skipped"):
            return
        if self.inbox.selected_id() == decision.review_id and self.inbox.select_next(
            unanswered=True
        ):
            if not self.pane.drafts and self.pane.review is not None:
                self.pane.start_draft(1)
        else:
            self.statusBar().showMessage("That was the last unanswered review here. Well done!",
                                         8000)

    # --- import -------------------------------------------------------------------------------

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import reviews", str(Path.home()),
                                              IMPORT_FILTER)
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> Job | None:
        core = self.ctx.core
        if core is None:
            return None
        from app.services.importing import import_reviews

        job = self.ctx.tasks.submit(
            lambda j: import_reviews(core, path, progress=j.progress, cancel=j.cancel),
            name="import",
            on_progress=self.progress.update_progress,
            on_done=lambda report: self._imported(report),
            on_error=self._import_failed,
            on_cancelled=self._import_cancelled,
        )
        self.progress.start(f"Importing {path.name}", job)
        return job

    def _imported(self, report: ImportReport) -> None:
        self.progress.finish()
        text = (f"Imported {report.imported:,} review{'s' if report.imported != 1 else ''}"
                f" from {Path(report.path).name}"
                + (f"; {report.duplicates:,} already there" if report.duplicates else ""))
        self.statusBar().showMessage(text, 8000)
        if report.errors:
            shown = report.errors[:200]
            details = "\n".join(f"line {e.line}: {e.reason}" for e in shown)
            if len(report.errors) > len(shown):
                details += f"\n… and {len(report.errors) - len(shown):,} more"
            self.ctx.presenter.info(
                "Import finished with problems",
                f"{text}. {len(report.errors):,} row{'s' if len(report.errors) != 1 else ''} "
                "could not be read and were left out.",
                details,
            )
        self.inbox.reload()

    def _import_failed(self, exc: KnownError) -> None:
        self.progress.finish()
        self.ctx.presenter.known(exc, "The file could not be imported")

    def _import_cancelled(self) -> None:
        self.progress.finish()
        self.statusBar().showMessage("Import cancelled; the reviews read so far were kept.", 8000)
        self.inbox.reload()

    # --- drag and drop ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        reviews = [p for p in paths if p.is_file() and p.suffix.lower() in REVIEW_FILES]
        others = [p for p in paths if p not in reviews]
        for p in reviews:
            self.import_file(p)
        if others:
            self.tabs.setCurrentWidget(self.knowledge_tab)
            panel = self.knowledge_tab.build()
            add = getattr(panel, "add_paths", None)
            if add is not None:
                add(others)
        event.acceptProposedAction()

    # --- dialogs ------------------------------------------------------------------------------

    def open_settings(self) -> None:
        from app.ui.settings_dialog import SettingsDialog

        SettingsDialog(self.ctx, self).open()

    def open_export(self) -> None:
        from app.ui.export_dialog import ExportDialog

        ExportDialog(self.ctx, self).open()

    def open_wizard(self) -> None:
        from app.ui.wizard import FirstRunWizard

        if self.wizard is not None and self.wizard.isVisible():
            self.wizard.raise_()
            return
        wizard = FirstRunWizard(self.ctx, self)
        wizard.finished.connect(self._wizard_finished)
        self.wizard = wizard
        wizard.open()

    def _wizard_finished(self, _result: int) -> None:
        self.inbox.reload()
        self.ctx.knowledgeChanged.emit()

    def show_shortcuts(self) -> None:
        from PySide6.QtCore import Qt

        rows = "".join(f"<tr><td>{what}</td><td><b>{keys}</b></td></tr>"
                       for what, keys in SHORTCUTS)
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts",
                          f"<table cellspacing=6>{rows}</table>", QMessageBox.StandardButton.Ok,
                          self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
