"""The reply loop through the GUI: import → select → draft streams → edit → approve → export."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from sqlalchemy import select

from app.services import feedback
from app.store.models import Draft, FeedbackEvent
from tests.fakes import DEFAULT_REPLY
from tests.ui.helpers import import_into, wait_draft

LEFT = Qt.MouseButton.LeftButton


def _events(core: Any) -> list[FeedbackEvent]:
    with core.db.session() as s:
        return list(s.scalars(select(FeedbackEvent).order_by(FeedbackEvent.id)))


def test_import_draft_edit_approve_records_a_pair_and_exports_it(
    qtbot: Any, window: Any, ui_core: Any, reviews_csv: Path, tmp_path: Path
) -> None:
    win = window
    import_into(qtbot, win, reviews_csv, 4)
    model = win.inbox.model
    # Unanswered first, lowest rating first; 1-2 star reviews are flagged.
    assert [model.row_at(i).rating for i in range(4)] == [1, 2, 4, 5]
    assert model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole) is not None
    assert model.data(model.index(2, 0), Qt.ItemDataRole.DecorationRole) is None

    win.inbox.select_row(0)
    assert win.pane.review is not None and win.pane.review.rating == 1
    assert "dirty" in win.pane.review_text.toPlainText()
    assert win.pane.flag.isVisibleTo(win.pane)

    tokens: list[str] = []
    win.ctx.llm.worker.token.connect(lambda _job, _v, piece: tokens.append(piece))
    qtbot.mouseClick(win.pane.draft_button, LEFT)
    assert win.pane.is_streaming()
    wait_draft(qtbot, win)
    assert len(tokens) == len(DEFAULT_REPLY.split(" ")) > 1  # streamed token by token
    assert "".join(tokens) == DEFAULT_REPLY
    assert win.pane.editor.toPlainText() == DEFAULT_REPLY
    assert win.pane.accept_button.isEnabled() and win.pane.accept_button.text() == "Accept"

    qtbot.mouseClick(win.pane.edit_button, LEFT)
    assert win.pane.editor.hasFocus() or QGuiApplication.focusWindow() is None
    QTest.keyClicks(win.pane.editor, " See you soon!")
    final = DEFAULT_REPLY + " See you soon!"
    assert win.pane.accept_button.text() == "Approve edit"
    win.pane.tabs.setCurrentWidget(win.pane.diff)
    assert "See you soon" in win.pane.diff.toHtml()

    review_id = win.pane.review.id
    with qtbot.waitSignal(win.pane.decided, timeout=10_000) as blocker:
        qtbot.mouseClick(win.pane.accept_button, LEFT)
    decision = blocker.args[0]
    assert decision.event == "edited" and decision.status == "approved"
    assert decision.final_text == final

    (event,) = _events(ui_core)
    assert event.kind == "edited" and event.final_text == final
    assert event.edit_distance == len(" See you soon!")
    assert event.decision_ms is not None and event.decision_ms >= 0
    derived = feedback.derive(ui_core)
    assert [(p.chosen, p.rejected) for p in derived.pairs] == [(final, DEFAULT_REPLY)]

    # The approved row is updated in place; the loop moves on to the next unanswered review
    # and starts drafting it.
    row = model.row_at(model.row_of(review_id))
    assert row is not None and row.status == "approved"
    assert win.pane.review is not None and win.pane.review.id != review_id
    assert win.pane.review.rating == 2
    wait_draft(qtbot, win)
    assert win.pane.editor.toPlainText() == DEFAULT_REPLY

    from app.ui.export_dialog import ExportDialog

    dialog = ExportDialog(win.ctx, win)
    qtbot.addWidget(dialog)
    assert dialog.redact.isChecked()  # redaction is on by default
    target = tmp_path / "out" / "pairs.jsonl"
    target.parent.mkdir()
    dialog.path.setText(str(target))
    with qtbot.waitSignal(dialog.exported, timeout=30_000) as exported:
        qtbot.mouseClick(dialog.export_button, LEFT)
    assert exported.args[0].pairs == 1
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 1
    assert rows[0]["chosen"] == [{"role": "assistant", "content": final}]
    assert rows[0]["rejected"] == [{"role": "assistant", "content": DEFAULT_REPLY}]
    assert "1 preference pair" in dialog.outcome.text()


def test_stop_aborts_mid_stream_at_once(
    qtbot: Any, window: Any, ui_core: Any, reviews_csv: Path
) -> None:
    win = window
    import_into(qtbot, win, reviews_csv, 4)
    gate = threading.Semaphore(0)
    ui_core.fake_engine.gate = gate
    win.inbox.select_row(0)
    win.pane.start_draft(1)
    first = DEFAULT_REPLY.split(" ")[0]
    qtbot.waitUntil(lambda: win.pane.editor.toPlainText() == first, timeout=10_000)
    assert win.pane.stop_button.isEnabled() and win.pane.editor.isReadOnly()

    qtbot.mouseClick(win.pane.stop_button, LEFT)
    # The UI is idle at once, before the worker has even seen the cancel flag.
    assert not win.pane.is_streaming()
    assert not win.pane.stop_button.isEnabled() and not win.pane.editor.isReadOnly()
    assert "Stopped" in win.pane.state.text()

    gate.release()
    wait_draft(qtbot, win)
    assert win.pane.editor.toPlainText() == first  # nothing more arrived after Stop
    with ui_core.db.session() as s:
        (stored,) = s.scalars(select(Draft)).all()
        assert stored.stopped and stored.text == first
    assert win.pane.draft is not None and win.pane.draft.stopped
    # A stopped draft can still be edited and approved.
    assert win.pane.accept_button.isEnabled()


def test_switching_review_stops_the_running_draft(
    qtbot: Any, window: Any, ui_core: Any, reviews_csv: Path
) -> None:
    win = window
    import_into(qtbot, win, reviews_csv, 4)
    gate = threading.Semaphore(0)
    ui_core.fake_engine.gate = gate
    win.inbox.select_row(0)
    win.pane.start_draft(1)
    qtbot.waitUntil(lambda: win.pane.editor.toPlainText() != "", timeout=10_000)
    win.inbox.select_row(1)
    assert not win.pane.is_streaming() and win.pane.editor.toPlainText() == ""
    gate.release()
    qtbot.waitUntil(lambda: not win.ctx.llm._cancels, timeout=10_000)  # the job ended
    assert win.pane.editor.toPlainText() == ""  # the old draft's tokens never show here


def test_variants_side_by_side_pick_one(
    qtbot: Any, window: Any, ui_core: Any, reviews_csv: Path
) -> None:
    win = window
    ui_core.fake_engine.replies = ["First option, thank you.", "Second option, sorry.",
                                   "Third option."]
    import_into(qtbot, win, reviews_csv, 4)
    win.inbox.select_row(0)
    qtbot.mouseClick(win.pane.variants_button, LEFT)
    wait_draft(qtbot, win)
    cards = win.pane.variants.cards
    assert len(cards) == 2 and win.pane.stack.currentWidget() is win.pane.variants
    assert [c.text.toPlainText() for c in cards] == ["First option, thank you.",
                                                      "Second option, sorry."]
    assert not win.pane.accept_button.isEnabled()  # pick a variant first
    assert all(c.use.isEnabled() for c in cards)

    qtbot.mouseClick(cards[1].use, LEFT)
    assert win.pane.stack.currentWidget() is win.pane.editor
    assert win.pane.editor.toPlainText() == "Second option, sorry."
    assert win.pane.accept_button.text() == "Approve variant"
    with qtbot.waitSignal(win.pane.decided, timeout=10_000) as blocker:
        qtbot.mouseClick(win.pane.accept_button, LEFT)
    assert blocker.args[0].event == "variant_chosen"
    (event,) = _events(ui_core)
    assert event.kind == "variant_chosen" and event.draft_id == cards[1].draft.id
    assert event.other_draft_ids == [cards[0].draft.id]
    derived = feedback.derive(ui_core)
    assert [(p.chosen, p.rejected) for p in derived.pairs] == [
        ("Second option, sorry.", "First option, thank you.")]


def test_keyboard_loop_draft_accept_next(
    qtbot: Any, window: Any, ui_core: Any, reviews_csv: Path
) -> None:
    win = window
    import_into(qtbot, win, reviews_csv, 4)
    win.inbox.select_row(0)
    win.activateWindow()
    first = win.pane.review.id
    QTest.keySequence(win, "Ctrl+G")
    wait_draft(qtbot, win)
    assert win.pane.editor.toPlainText() == DEFAULT_REPLY
    with qtbot.waitSignal(win.pane.decided, timeout=10_000) as blocker:
        QTest.keySequence(win, "Ctrl+Return")
    assert blocker.args[0].event == "accepted"
    assert win.pane.review.id != first  # moved on
    wait_draft(qtbot, win)
    second = win.pane.review.id
    with qtbot.waitSignal(win.pane.decided, timeout=10_000) as blocker:
        QTest.keySequence(win, "Ctrl+Shift+S")
    assert blocker.args[0].status == "skipped"
    assert win.pane.review.id not in (first, second)
    wait_draft(qtbot, win)
    QTest.keySequence(win, "Ctrl+K")
    assert win.pane.review.id == second
    QTest.keySequence(win, "Ctrl+J")
    assert win.pane.review.id != second


def test_reject_then_copy(qtbot: Any, window: Any, ui_core: Any, reviews_csv: Path) -> None:
    win = window
    import_into(qtbot, win, reviews_csv, 4)
    win.inbox.select_row(0)
    win.pane.start_draft(1)
    wait_draft(qtbot, win)
    qtbot.mouseClick(win.pane.copy_button, LEFT)
    assert QGuiApplication.clipboard().text() == DEFAULT_REPLY
    with qtbot.waitSignal(win.pane.decided, timeout=10_000) as blocker:
        qtbot.mouseClick(win.pane.reject_button, LEFT)
    assert blocker.args[0].event == "rejected"
    assert win.pane.editor.toPlainText() == "" and not win.pane.accept_button.isEnabled()
    assert [e.kind for e in _events(ui_core)] == ["rejected"]


def test_an_inbox_reload_does_not_interrupt_a_draft(
    qtbot: Any, window: Any, ui_core: Any, reviews_csv: Path
) -> None:
    win = window
    import_into(qtbot, win, reviews_csv, 4)
    gate = threading.Semaphore(0)
    ui_core.fake_engine.gate = gate
    win.inbox.select_row(0)
    win.pane.start_draft(1)
    qtbot.waitUntil(lambda: win.pane.editor.toPlainText() != "", timeout=10_000)
    win.inbox.reload()
    qtbot.waitUntil(lambda: win.inbox.summary.text() == "4 shown")
    assert win.pane.is_streaming() and win.inbox.selected_id() == win.pane.review.id
    for _ in DEFAULT_REPLY.split(" "):
        gate.release()
    wait_draft(qtbot, win)
    assert win.pane.editor.toPlainText() == DEFAULT_REPLY
