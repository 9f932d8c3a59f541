"""The knowledge panel: the documents drafts may draw from, indexing progress, and a search box."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui import theme
from app.ui.progress import TaskProgress

if TYPE_CHECKING:
    from app.core.errors import KnownError
    from app.core.types import RetrievedChunk
    from app.ui.context import AppContext

DOC_FILTER = ("Documents (*.txt *.md *.markdown *.pdf *.docx *.html *.htm *.csv);;"
              "All files (*)")
COLUMNS = ("Document", "Type", "Chunks", "Status", "Indexed")


class KnowledgePanel(QWidget):
    """Add files or folders (also by drag and drop), watch them index, try retrieval."""

    indexed = Signal(object)  # IndexReport
    searched = Signal(object)  # list[RetrievedChunk]

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setAcceptDrops(True)
        self.setAccessibleName("Knowledge")

        intro = QLabel("Menus, policies, opening hours, FAQs and product sheets. Drafts use "
                       "only facts found here and in the business profile, and show which "
                       "snippets they used.", wordWrap=True, objectName="muted")
        self.add_files = QPushButton(theme.icon("add-file"), "Add files…",
                                     accessibleName="Add files")
        self.add_folder = QPushButton(theme.icon("add-folder"), "Add folder…",
                                      accessibleName="Add folder")
        self.recheck = QPushButton(theme.icon("regenerate"), "Re-check",
                                   accessibleName="Re-check documents")
        self.recheck.setToolTip("Index changed files again and drop deleted ones")
        self.remove = QPushButton(theme.icon("reject"), "Remove", accessibleName="Remove")
        self.remove.setToolTip("Forget the selected documents (the files stay on disk)")
        self.add_files.clicked.connect(self._choose_files)
        self.add_folder.clicked.connect(self._choose_folder)
        self.recheck.clicked.connect(self.refresh_index)
        self.remove.clicked.connect(self._remove_selected)
        buttons = QHBoxLayout()
        for b in (self.add_files, self.add_folder, self.recheck, self.remove):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.drop_hint = QLabel("…or drop files and folders here (txt, md, pdf, docx, html, csv)",
                                objectName="muted")
        buttons.addWidget(self.drop_hint)

        self.progress = TaskProgress()
        self.summary = QLabel("", objectName="muted", accessibleName="Last indexing run")
        self.table = QTableWidget(0, len(COLUMNS), accessibleName="Documents")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._open_doc)
        self.empty = QLabel("No documents yet. Add your menu, policies or FAQ, or run the "
                            "getting-started guide to index the sample kit.", objectName="muted")
        self.empty.hide()

        self.query = QLineEdit(placeholderText="Try a question a reviewer might raise, e.g. "
                               "“Can I get a refund?”", accessibleName="Search the knowledge")
        self.query.addAction(theme.icon("search"),
                          QLineEdit.ActionPosition.LeadingPosition).setText("Search the knowledge")
        self.query.returnPressed.connect(self.search)
        self.search_button = QPushButton("Search", accessibleName="Search")
        self.search_button.clicked.connect(self.search)
        self.results = QListWidget(accessibleName="Search results")
        self.results.setWordWrap(True)
        search_row = QHBoxLayout()
        search_row.addWidget(self.query, 1)
        search_row.addWidget(self.search_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(intro)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.empty)
        layout.addWidget(QLabel("Try retrieval", objectName="heading"))
        layout.addLayout(search_row)
        layout.addWidget(self.results, 2)

        ctx.knowledgeChanged.connect(self.reload)
        self.reload()

    # --- the list -----------------------------------------------------------------------------

    def reload(self) -> None:
        core = self.ctx.core
        if core is None:
            return
        from app.services import knowledge

        self.ctx.db.submit(lambda _job: knowledge.list_docs(core), name="kb-list",
                           on_done=self._show_docs)

    def _show_docs(self, docs: list[Any]) -> None:
        self.table.setRowCount(len(docs))
        for row, d in enumerate(docs):
            name = Path(d.path).name + ("  (sample)" if d.sample else "")
            status = d.status if not d.error else f"{d.status}: {d.error}"
            indexed = d.indexed_at.strftime("%Y-%m-%d %H:%M") if d.indexed_at else ""
            for col, value in enumerate((name, d.type, str(d.chunk_count), status, indexed)):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, d.path)
                item.setToolTip(d.path if col == 0 else value)
                if col == 3 and d.status == "failed":
                    item.setForeground(Qt.GlobalColor.red)
                self.table.setItem(row, col, item)
        self.empty.setVisible(not docs)

    def _open_doc(self) -> None:
        item = self.table.item(self.table.currentRow(), 0)
        if item is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(item.data(Qt.ItemDataRole.UserRole)))

    # --- indexing -----------------------------------------------------------------------------

    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add documents", str(Path.home()),
                                                DOC_FILTER)
        if files:
            self.add_paths([Path(f) for f in files])

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of documents",
                                                  str(Path.home()))
        if folder:
            self.add_paths([Path(folder)])

    def add_paths(self, paths: Iterable[Path]) -> None:
        core = self.ctx.core
        paths = list(paths)
        if core is None or not paths:
            return
        from app.services import knowledge

        self._run_index(
            "Indexing " + (paths[0].name if len(paths) == 1 else f"{len(paths)} items"),
            lambda job: knowledge.add_paths(core, paths, progress=job.progress,
                                            cancel=job.cancel),
        )

    def refresh_index(self) -> None:
        core = self.ctx.core
        if core is None:
            return
        from app.services import knowledge

        self._run_index("Re-checking documents", lambda job: knowledge.refresh(
            core, progress=job.progress, cancel=job.cancel))

    def _run_index(self, title: str, fn: Any) -> None:
        job = self.ctx.tasks.submit(
            fn, name="index", on_progress=self.progress.update_progress,
            on_done=self._indexed, on_error=self._failed, on_cancelled=self._cancelled,
        )
        self.progress.start(title, job)
        self._busy(True)

    def _busy(self, busy: bool) -> None:
        for b in (self.add_files, self.add_folder, self.recheck, self.remove):
            b.setEnabled(not busy)

    def _indexed(self, report: Any) -> None:
        self.progress.finish()
        self._busy(False)
        failed = len(report.failed)
        text = (f"Indexed {report.added + report.updated} document(s), {report.chunks} "
                f"snippets in {report.seconds:.1f} s; {report.unchanged} unchanged")
        if report.removed:
            text += f", {report.removed} removed"
        if report.set_aside:
            self.ctx.presenter.info(
                "The knowledge index was rebuilt",
                "The knowledge index could not be opened, so it was set aside and rebuilt "
                "from your documents.",
                f"The damaged copy is kept in {report.set_aside}; you may delete it.")
        if failed:
            self.ctx.presenter.info(
                "Some documents could not be indexed", f"{text}; {failed} failed.",
                "\n".join(f"{p}: {reason}" for p, reason in report.failed))
        self.summary.setText(text)
        self.indexed.emit(report)
        self.ctx.knowledgeChanged.emit()

    def _failed(self, exc: KnownError) -> None:
        self.progress.finish()
        self._busy(False)
        self.ctx.presenter.known(exc, "Indexing failed")
        self.reload()

    def _cancelled(self) -> None:
        self.progress.finish()
        self._busy(False)
        self.reload()

    def _remove_selected(self) -> None:
        core = self.ctx.core
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        paths = [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]
        if core is None or not paths:
            return
        from app.services import knowledge

        self.ctx.tasks.submit(lambda _job: knowledge.remove(core, paths), name="kb-remove",
                              on_done=lambda _r: self.ctx.knowledgeChanged.emit())

    # --- search -------------------------------------------------------------------------------

    def search(self) -> None:
        core, text = self.ctx.core, self.query.text().strip()
        if core is None or not text:
            return
        from app.services import knowledge

        self.results.clear()
        self.results.addItem("Searching…" if not self.ctx.tasks.busy() else
                             "Searching when the current job is done…")
        self.ctx.tasks.submit(lambda _job: knowledge.search(core, text, k=5), name="kb-search",
                              on_done=self._show_results)

    def _show_results(self, chunks: list[RetrievedChunk]) -> None:
        self.results.clear()
        for c in chunks:
            snippet = " ".join(c.text.split())
            item = QListWidgetItem(theme.icon("source"), f"{Path(c.source).name} · relevance "
                                   f"{c.score:.2f}\n{snippet[:300]}")
            item.setToolTip(c.text)
            self.results.addItem(item)
        if not chunks:
            self.results.addItem("Nothing relevant found: a draft would say it has no "
                                 "information on this rather than invent it.")
        self.searched.emit(chunks)

    # --- drag and drop ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        self.add_paths(paths)
        event.acceptProposedAction()
