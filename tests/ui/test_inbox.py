"""The inbox model: lazy paging, ordering, filters, counts; rows updated in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from app.core.types import ImportedReview
from app.ui.inbox import PAGE
from tests.ui.helpers import import_into

N = 1000


def _fill(core: Any, n: int = N) -> None:
    from app.store import repo

    base = datetime(2025, 1, 1, tzinfo=UTC)
    with core.db.session() as s:
        writer = repo.ReviewWriter(s, repo.default_business(s).id)
        for i in range(n):
            writer.add(ImportedReview(
                line=i + 1, text=f"review number {i} " + ("cold pool" if i % 10 == 0 else "ok"),
                rating=i % 5 + 1, platform=("google", "yelp")[i % 2], external_id=f"x{i}",
                author=f"Guest {i}", created_at=base + timedelta(hours=i),
                location_name=("North", "South")[i % 2],
                owner_reply="Thanks!" if i % 4 == 0 else None))


def _wait_total(qtbot: Any, win: Any, n: int) -> None:
    qtbot.waitUntil(lambda: win.inbox.model.total() == n and win.inbox.summary.text()
                    .startswith(f"{n:,}"), timeout=10_000)


def test_lazy_paging_order_and_model_contract(qtbot: Any, window: Any, ui_core: Any) -> None:
    _fill(ui_core)
    inbox = window.inbox
    inbox.status.setCurrentIndex(0)  # all statuses
    _wait_total(qtbot, window, N)
    model = inbox.model
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    loaded = model.rowCount()
    assert PAGE <= loaded < N and loaded % PAGE == 0  # only the pages looked at are read
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert model.rowCount() == loaded + PAGE
    inbox.table.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() > loaded + PAGE)
    rows = [model.row_at(i) for i in range(model.rowCount())]
    # Unanswered first, then lowest rating, then newest.
    keys = [(not r.unanswered, r.rating, -r.created_at.timestamp()) for r in rows]
    assert keys == sorted(keys)
    assert rows[0].rating == 1 and rows[0].unanswered
    assert model.data(model.index(0, 1)) == "★☆☆☆☆"
    assert "flagged" in model.data(model.index(0, 0), Qt.ItemDataRole.AccessibleTextRole)


def test_filters_and_counts(qtbot: Any, window: Any, ui_core: Any) -> None:
    _fill(ui_core)
    inbox = window.inbox
    window.inbox.reload()
    _wait_total(qtbot, window, 750)  # the default filter: unanswered
    qtbot.waitUntil(lambda: inbox._count_buttons["posted"].text() == "Posted 250")
    assert inbox._count_buttons["new"].text() == "New 750"

    inbox.rating.setCurrentIndex(inbox.rating.findData("flagged"))
    _wait_total(qtbot, window, 300)
    assert all(inbox.model.row_at(i).rating <= 2 for i in range(inbox.model.rowCount()))
    inbox.rating.setCurrentIndex(inbox.rating.findData(5))
    _wait_total(qtbot, window, 150)
    inbox.rating.setCurrentIndex(0)

    inbox.platform.setCurrentIndex(inbox.platform.findData("yelp"))
    _wait_total(qtbot, window, 500)
    inbox.location.setCurrentIndex(inbox.location.findData("North"))
    _wait_total(qtbot, window, 0)  # yelp reviews are all in the South here
    inbox.location.setCurrentIndex(0)
    inbox.platform.setCurrentIndex(0)

    inbox.search.setText("cold pool")  # debounced; both words must match
    _wait_total(qtbot, window, 50)  # 100 match; the ones with i % 20 == 0 are answered
    inbox.status.setCurrentIndex(0)
    _wait_total(qtbot, window, 100)
    inbox.search.clear()

    inbox.use_dates.setChecked(True)
    inbox.date_from.setDate(datetime(2025, 1, 2).date())
    inbox.date_to.setDate(datetime(2025, 1, 2).date())
    _wait_total(qtbot, window, 24)

    qtbot.mouseClick(inbox._count_buttons["posted"], Qt.MouseButton.LeftButton)
    inbox.use_dates.setChecked(False)
    _wait_total(qtbot, window, 250)


def test_empty_inbox_says_how_to_start(qtbot: Any, window: Any, reviews_csv: Path) -> None:
    qtbot.waitUntil(lambda: window.inbox.empty.isVisibleTo(window.inbox), timeout=10_000)
    assert "Import" in window.inbox.empty.text()
    import_into(qtbot, window, reviews_csv, 4)
    assert not window.inbox.empty.isVisibleTo(window.inbox)


def test_decision_updates_row_in_place_and_counts(
    qtbot: Any, window: Any, ui_core: Any, reviews_csv: Path
) -> None:
    from tests.ui.helpers import wait_draft

    import_into(qtbot, window, reviews_csv, 4)
    inbox = window.inbox
    inbox.select_row(1)
    rid = inbox.selected_id()
    window.pane.start_draft(1)
    wait_draft(qtbot, window)
    with qtbot.waitSignal(window.pane.decided, timeout=10_000):
        window.pane.approve()
    model = inbox.model
    assert model.row_of(rid) == 1  # stays where it was
    assert model.row_at(1).status == "approved"
    qtbot.waitUntil(lambda: inbox._count_buttons["approved"].text() == "Approved 1")
