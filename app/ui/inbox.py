"""The inbox: a lazily paged table of reviews with filters and counts per status.

The ordered id list of a filter is read on the DB worker thread (one scan, hundreds of ms at
100k reviews); the table then pulls rows 200 at a time through ``fetchMore`` as the user
scrolls (a primary-key read of a few ms), so neither opening nor scrolling waits on a full load.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.types import REVIEW_STATUSES
from app.ui import theme

if TYPE_CHECKING:
    from app.services.core import ReplyDesk
    from app.services.inbox import InboxFilter, InboxRow
    from app.ui.context import AppContext
    from app.ui.workers import Job

PAGE = 200
ReviewIdRole = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("", "Rating", "Status", "Platform", "Date", "Author", "Review", "Location")
STATUS_LABELS = {"new": "New", "drafted": "Drafted", "approved": "Approved",
                 "posted": "Posted", "skipped": "Skipped"}  # fmt: skip
_AnyIndex = QModelIndex | QPersistentModelIndex


class InboxModel(QAbstractTableModel):
    """Rows of one filter; holds every matching id but only the rows scrolled into view."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core: ReplyDesk | None = None
        self._ids: list[int] = []
        self._rows: list[InboxRow] = []
        self._bold = QFont()
        self._bold.setBold(True)

    def set_core(self, core: ReplyDesk) -> None:
        self._core = core

    def set_ids(self, ids: list[int]) -> None:
        self.beginResetModel()
        self._ids = ids
        self._rows = []
        self.endResetModel()
        if ids:
            self.fetchMore(QModelIndex())

    def total(self) -> int:
        return len(self._ids)

    def rowCount(self, parent: _AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: _AnyIndex) -> bool:
        return not parent.isValid() and len(self._rows) < len(self._ids)

    def fetchMore(self, parent: _AnyIndex) -> None:
        if parent.isValid() or self._core is None:
            return
        from app.services import inbox

        start = len(self._rows)
        page = inbox.rows(self._core, self._ids[start : start + PAGE])
        if not page:
            return
        self.beginInsertRows(QModelIndex(), start, start + len(page) - 1)
        self._rows.extend(page)
        self.endInsertRows()

    def row_at(self, row: int) -> InboxRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, review_id: int) -> int:
        return next((i for i, r in enumerate(self._rows) if r.id == review_id), -1)

    def refresh_review(self, review_id: int) -> None:
        """Re-read one review's row in place (after a decision), without moving it."""
        row = self.row_of(review_id)
        if row < 0 or self._core is None:
            return
        from app.services import inbox

        fresh = inbox.rows(self._core, [review_id])
        if fresh:
            self._rows[row] = fresh[0]
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if (orientation == Qt.Orientation.Horizontal and section == 0
                and role == Qt.ItemDataRole.ToolTipRole):
            return "Flagged: 1 or 2 stars"
        return None

    def data(self, index: _AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(r, col)
        if role == ReviewIdRole:
            return r.id
        if role == Qt.ItemDataRole.DecorationRole and col == 0 and r.flagged:
            return theme.icon("flag", "danger")
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 0 and r.flagged:
                return f"{r.rating}-star review: reply first"
            if col == 6:
                return f"{r.title + chr(10) if r.title else ''}{r.excerpt}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self._accessible(r) if col in (0, 6) else self._display(r, col)
        if role == Qt.ItemDataRole.FontRole and r.unanswered and col in (2, 6):
            return self._bold
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == 1 and r.flagged:
                return theme.colors()["danger"]
            if col == 2 and not r.unanswered:
                return theme.colors()["muted"]
        return None

    @staticmethod
    def _display(r: InboxRow, col: int) -> str:
        if col == 1:
            return "★" * r.rating + "☆" * (5 - r.rating)
        if col == 2:
            return STATUS_LABELS.get(r.status, r.status)
        if col == 3:
            return r.platform
        if col == 4:
            return r.created_at.strftime("%Y-%m-%d") if r.created_at else ""
        if col == 5:
            return r.author or ""
        if col == 6:
            return f"{r.title} — {r.excerpt}" if r.title else r.excerpt
        if col == 7:
            return r.location or ""
        return ""

    @staticmethod
    def _accessible(r: InboxRow) -> str:
        flag = "flagged, " if r.flagged else ""
        return (f"{flag}{r.rating} stars, {STATUS_LABELS.get(r.status, r.status)}, "
                f"{r.platform}, by {r.author or 'anonymous'}: {r.title or r.excerpt[:80]}")


class InboxPanel(QWidget):
    """Filters, counts and the table; emits ``reviewSelected`` with the review id."""

    reviewSelected = Signal(int)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = InboxModel(self)
        self._generation = 0
        self._ids_job: Job | None = None
        self._shown_id: int | None = None  # the review last announced (a reload keeps it)
        self._pending_select: int | None = None

        self.search = QLineEdit(placeholderText="Search reviews (text, title, author)")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(theme.icon("search"),
                          QLineEdit.ActionPosition.LeadingPosition).setText("Search reviews")
        self.search.setAccessibleName("Search reviews")
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())

        self.status = QComboBox(accessibleName="Status filter")
        self.status.addItem("All statuses", None)
        self.status.addItem("Unanswered", "unanswered")
        for s in REVIEW_STATUSES:
            self.status.addItem(STATUS_LABELS[s], s)
        self.status.setCurrentIndex(1)
        self.rating = QComboBox(accessibleName="Rating filter")
        self.rating.addItem("Any rating", None)
        self.rating.addItem("Flagged (1–2★)", "flagged")
        for n in range(1, 6):
            self.rating.addItem(f"{n}★", n)
        self.platform = QComboBox(accessibleName="Platform filter")
        self.platform.addItem("All platforms", None)
        self.location = QComboBox(accessibleName="Location filter")
        self.location.addItem("All locations", None)
        self.use_dates = QCheckBox("From", accessibleName="Filter by date")
        self.date_from = QDateEdit(calendarPopup=True, displayFormat="yyyy-MM-dd",
                                   accessibleName="From date", enabled=False)
        self.date_to = QDateEdit(calendarPopup=True, displayFormat="yyyy-MM-dd",
                                 accessibleName="To date", enabled=False)
        today = QDate.currentDate()
        self.date_from.setDate(today.addMonths(-3))
        self.date_to.setDate(today)
        self.use_dates.toggled.connect(self.date_from.setEnabled)
        self.use_dates.toggled.connect(self.date_to.setEnabled)
        for w in (self.status, self.rating, self.platform, self.location):
            w.currentIndexChanged.connect(self.reload)
        self.use_dates.toggled.connect(self.reload)
        self.date_from.dateChanged.connect(self.reload)
        self.date_to.dateChanged.connect(self.reload)

        self.counts = QHBoxLayout()
        self.counts.setSpacing(6)
        self._count_buttons: dict[str, QPushButton] = {}
        for s in REVIEW_STATUSES:
            b = QPushButton(STATUS_LABELS[s], flat=True, accessibleName=f"{STATUS_LABELS[s]} count")
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            b.setToolTip(f"Show only {STATUS_LABELS[s].lower()} reviews")
            b.clicked.connect(lambda _c=False, st=s: self._show_status(st))
            self._count_buttons[s] = b
            self.counts.addWidget(b)
        self.counts.addStretch(1)
        self.summary = QLabel("", objectName="muted")
        self.counts.addWidget(self.summary)

        self.table = QTableView(accessibleName="Reviews")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().hide()
        vh = self.table.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row measuring
        vh.setDefaultSectionSize(26)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(False)
        for col, width in enumerate((26, 74, 70, 80, 80, 96, 300, 80)):
            self.table.setColumnWidth(col, width)
        hh.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)

        self.empty = QLabel("No reviews here yet. Import a file of reviews (Ctrl+I) or drop "
                            "it onto this window.", objectName="muted")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.hide()

        filters = QHBoxLayout()
        filters.addWidget(self.search, 3)
        filters.addWidget(self.status, 1)
        filters.addWidget(self.rating, 1)
        more = QHBoxLayout()
        more.addWidget(self.platform, 1)
        more.addWidget(self.location, 1)
        more.addWidget(self.use_dates)
        more.addWidget(self.date_from)
        more.addWidget(QLabel("to"))
        more.addWidget(self.date_to)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.addLayout(filters)
        layout.addLayout(more)
        layout.addLayout(self.counts)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)

    # --- loading ------------------------------------------------------------------------------

    def current_filter(self) -> InboxFilter:
        from app.services.inbox import InboxFilter

        rating = self.rating.currentData()
        dates: tuple[date | None, date | None] = (None, None)
        if self.use_dates.isChecked():
            dates = (self.date_from.date().toPython(), self.date_to.date().toPython())
        return InboxFilter(
            status=self.status.currentData(),
            rating=rating if isinstance(rating, int) else None,
            flagged_only=rating == "flagged",
            platform=self.platform.currentData(),
            location=self.location.currentData(),
            date_from=dates[0],
            date_to=dates[1],
            search=self.search.text().strip(),
        )

    def reload(self, select_id: int | None = None) -> None:
        """Read the filter's ids on the DB worker; the newest request wins."""
        core = self.ctx.core
        if core is None:
            return
        self.model.set_core(core)
        self._generation += 1
        generation = self._generation
        if isinstance(select_id, int):
            self._pending_select = select_id
        f = self.current_filter()
        from app.services import inbox

        self.summary.setText("Loading…")
        if self._ids_job is not None:
            self._ids_job.cancel.set()  # a newer filter: skip the older query if not started
        self._ids_job = self.ctx.db.submit(
            lambda _job: inbox.review_ids(core, f),
            name="inbox",
            on_done=lambda ids: self._ids_loaded(generation, ids),
        )
        self.refresh_counts()

    def refresh_counts(self) -> None:
        core = self.ctx.core
        if core is None:
            return
        from app.services import inbox

        self.ctx.db.submit(lambda _job: (inbox.status_counts(core), inbox.facets(core)),
                           name="counts", on_done=self._counts_loaded)

    def _ids_loaded(self, generation: int, ids: list[int]) -> None:
        if generation != self._generation:
            return
        previous = self.selected_id()
        self.model.set_ids(ids)
        self.empty.setVisible(not ids and self._is_unfiltered())
        self.summary.setText(f"{len(ids):,} shown")
        wanted = self._pending_select or previous
        self._pending_select = None
        if wanted is not None and self.model.row_of(wanted) >= 0:
            self.select_review(wanted)

    def _is_unfiltered(self) -> bool:
        f = self.current_filter()
        return not (f.rating or f.flagged_only or f.platform or f.location or f.date_from
                    or f.search) and f.status in (None, "unanswered")

    def _counts_loaded(self, result: tuple[dict[str, int], Any]) -> None:
        counts, facets = result
        for status, button in self._count_buttons.items():
            button.setText(f"{STATUS_LABELS[status]} {counts.get(status, 0):,}")
        self._fill(self.platform, facets.platforms)
        self._fill(self.location, facets.locations)

    @staticmethod
    def _fill(combo: QComboBox, values: list[str]) -> None:
        current = combo.currentData()
        existing = [combo.itemData(i) for i in range(1, combo.count())]
        if existing == values:
            return
        combo.blockSignals(True)
        while combo.count() > 1:
            combo.removeItem(1)
        for v in values:
            combo.addItem(v, v)
        combo.setCurrentIndex(max(0, combo.findData(current)) if current else 0)
        combo.blockSignals(False)

    def _show_status(self, status: str) -> None:
        self.status.setCurrentIndex(self.status.findData(status))

    # --- selection ----------------------------------------------------------------------------

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.model.row_at(current.row())
        if row is not None and row.id != self._shown_id:  # not again after a reload
            self._shown_id = row.id
            self.reviewSelected.emit(row.id)

    def selected_id(self) -> int | None:
        row = self.model.row_at(self.table.currentIndex().row())
        return row.id if row is not None else None

    def select_row(self, row: int) -> bool:
        while row >= self.model.rowCount() and self.model.canFetchMore(QModelIndex()):
            self.model.fetchMore(QModelIndex())
        if not 0 <= row < self.model.rowCount():
            return False
        index = self.model.index(row, 6)
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)
        return True

    def select_review(self, review_id: int) -> bool:
        row = self.model.row_of(review_id)
        return row >= 0 and self.select_row(row)

    def select_next(self, *, unanswered: bool = False) -> bool:
        """Move down to the next review (the next unanswered one, for the reply loop)."""
        row = self.table.currentIndex().row() + 1
        while True:
            if row >= self.model.rowCount():
                if not self.model.canFetchMore(QModelIndex()):
                    return False
                self.model.fetchMore(QModelIndex())
                continue
            r = self.model.row_at(row)
            if r is not None and (not unanswered or r.unanswered):
                return self.select_row(row)
            row += 1

    def select_previous(self) -> bool:
        return self.select_row(self.table.currentIndex().row() - 1)

    def refresh_review(self, review_id: int) -> None:
        self.model.refresh_review(review_id)
        self.refresh_counts()
