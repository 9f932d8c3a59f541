"""Claim highlights, the byte counter, sources, analytics, settings, profile, window state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from app.core.types import RetrievedChunk
from tests.ui.helpers import import_into, wait_draft

LEFT = Qt.MouseButton.LeftButton
INVENTED = "Sorry about the room. Please accept a $50 voucher for your next stay."


class StubRetriever:
    def retrieve(self, business_id: int, query: str, k: int,
                 min_score: float) -> list[RetrievedChunk]:
        return [RetrievedChunk("doc1-c0", "1", "/docs/housekeeping.md",
                               "Rooms are cleaned daily between 10:00 and 14:00.", 0.71)]


@pytest.fixture
def grounded_core(data_dir: Path) -> Iterator[Any]:
    from app.services.core import ReplyDesk
    from tests.fakes import FakeEngine

    engine = FakeEngine(INVENTED)
    core = ReplyDesk(data_dir, engine_factory=lambda _c: engine,
                     retriever_factory=lambda _c: StubRetriever())
    core.update_settings(first_run_done=True)
    core.fake_engine = engine
    yield core
    core.close()


def test_claims_are_highlighted_and_follow_edits(
    qtbot: Any, make_window: Any, grounded_core: Any, reviews_csv: Path
) -> None:
    win = make_window(grounded_core)
    import_into(qtbot, win, reviews_csv, 4)
    win.inbox.select_row(0)
    win.pane.start_draft(1)
    wait_draft(qtbot, win)
    pane = win.pane
    bad = [f for f in pane.draft.claims if not f.supported]
    assert {f.text for f in bad} >= {"$50"}
    assert len(pane.editor.extraSelections()) == len(pane.draft.claims)
    assert pane.tabs.tabText(0) == f"Checks ({len(bad)})"
    first_item = pane.checks.item(0)
    assert "$50" in first_item.text() or "voucher" in first_item.text()
    money = next(f for f in bad if f.text == "$50")
    assert pane.editor.finding_at(money.start) is money
    assert "not in the review" in money.reason

    # Typing before the claim moves its highlight along; editing the claim removes it.
    cursor = pane.editor.textCursor()
    cursor.setPosition(0)
    pane.editor.setTextCursor(cursor)
    QTest.keyClicks(pane.editor, "Hi. ")
    assert pane.editor.finding_at(money.start + 4) is money
    assert pane.editor.finding_at(money.start) is None
    cursor.setPosition(money.start + 5)
    pane.editor.setTextCursor(cursor)
    QTest.keyClick(pane.editor, Qt.Key.Key_Backspace)
    assert money not in pane.editor.findings()

    # Clicking a finding in the list selects it in the editor.
    other = next((f for f in pane.editor.findings()), None)
    if other is not None:
        item = next(pane.checks.item(i) for i in range(pane.checks.count())
                    if pane.checks.item(i).data(Qt.ItemDataRole.UserRole) is other)
        pane._check_activated(item)
        assert pane.editor.textCursor().selectedText() == other.text

    assert pane.sources.count() == 1
    assert "housekeeping.md" in pane.sources.item(0).text()
    assert pane.tabs.tabText(1) == "Sources (1)"


def test_counter_enforces_googles_byte_limit(
    qtbot: Any, window: Any, reviews_csv: Path
) -> None:
    import_into(qtbot, window, reviews_csv, 4)
    window.inbox.select_row(0)
    assert window.pane.review.platform == "google"
    window.pane.start_draft(1)
    wait_draft(qtbot, window)
    pane = window.pane
    pane.editor.setPlainText("é" * 2000)  # 2,000 characters, 4,000 bytes
    assert pane.counter.text() == "2,000 chars · 4,000/4,096 bytes"
    assert pane.accept_button.isEnabled()
    pane.editor.setPlainText("é" * 2100)
    assert pane.counter.objectName() == "counterOver"
    assert not pane.accept_button.isEnabled()


def test_analytics_tab_draws_charts(
    qtbot: Any, window: Any, ui_core: Any, reviews_csv: Path
) -> None:
    import_into(qtbot, window, reviews_csv, 4)
    window.inbox.select_row(0)
    window.pane.start_draft(1)
    wait_draft(qtbot, window)
    with qtbot.waitSignal(window.pane.decided, timeout=10_000):
        window.pane.approve()
    wait_draft(qtbot, window)
    window.tabs.setCurrentWidget(window.analytics_tab)
    view = window.analytics_tab.content
    qtbot.waitUntil(lambda: view.summary is not None, timeout=20_000)
    assert view.cards["reviews"].value.text() == "4"
    assert view.cards["reply_rate"].value.text() == "25%"
    assert view.cards["edited"].value.text() == "0%"
    (ratings,) = view.ratings_chart.series()
    values = [ratings.barSets()[0].at(i) for i in range(5)]
    assert values == [1, 1, 0, 1, 1]
    assert view.reply_chart.series() and view.response_chart.series()
    assert view.edits_chart.series()[0].barSets()[0].at(0) == 0.0


def test_settings_dialog_applies_on_the_llm_thread(qtbot: Any, window: Any, ui_core: Any) -> None:
    from app.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.ctx, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.model.count() > 0, timeout=10_000)
    assert "SmolLM2" in dialog.model.currentText()
    assert dialog.adapter.currentData() == ""
    assert dialog.changes() == {}
    dialog.temperature.setValue(0.3)
    dialog.variants.setValue(3)
    with qtbot.waitSignal(window.ctx.settingsChanged, timeout=10_000):
        dialog.accept()
    assert ui_core.settings.temperature == 0.3 and ui_core.settings.variants == 3
    assert not ui_core.fake_engine.closed  # same model: nothing reloaded


def test_settings_dialog_sets_the_knowledge_server_and_refuses_a_bad_address(
        qtbot: Any, window: Any, ui_core: Any, monkeypatch: Any) -> None:
    from app.ui.settings_dialog import SettingsDialog

    shown = []
    monkeypatch.setattr(window.ctx.presenter, "known", lambda exc, title="": shown.append(exc))
    dialog = SettingsDialog(window.ctx, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.model.count() > 0, timeout=10_000)
    assert dialog.chroma_url.text() == "" and dialog.chroma_url.accessibleName()
    dialog.chroma_url.setText("localhost:8000")  # no scheme
    dialog.accept()
    assert "http:// or https://" in shown[0].message and ui_core.settings.chroma_url == ""
    dialog.chroma_url.setText("http://127.0.0.1:8000/")
    with qtbot.waitSignal(window.ctx.settingsChanged, timeout=10_000):
        dialog.accept()
    assert ui_core.settings.chroma_url == "http://127.0.0.1:8000"


def test_profile_editor_saves(qtbot: Any, window: Any, ui_core: Any) -> None:
    from app.services import profile

    window.tabs.setCurrentWidget(window.profile_tab)
    editor = window.profile_tab.content
    qtbot.waitUntil(lambda: editor.form.name.text() == "My business", timeout=10_000)
    editor.form.name.setText("Hotel Sunrise")
    editor.form.facts.setPlainText("Check-in from 2 pm\n\nFree parking\n")
    with qtbot.waitSignal(editor.saved, timeout=10_000):
        qtbot.mouseClick(editor.save_button, LEFT)
    p = profile.current(ui_core)
    assert p.name == "Hotel Sunrise" and p.facts == ("Check-in from 2 pm", "Free parking")


def test_window_state_is_remembered_in_the_data_folder(
    qtbot: Any, make_window: Any, ui_core: Any, tmp_path: Path
) -> None:
    ini = tmp_path / "state" / "ui.ini"
    win = make_window(ui_core, ini=ini)
    win.resize(1300, 700)
    win.splitter.setSizes([500, 800])
    split = win.splitter.sizes()
    assert split[0] < split[1]  # not the default 5:4
    size = win.size()
    win.close()
    assert ini.is_file()
    assert QSettings(str(ini), QSettings.Format.IniFormat).value("window/geometry") is not None
    again = make_window(ui_core, ini=ini, wait_ready=False)
    qtbot.waitUntil(lambda: again._built, timeout=10_000)  # built right after the first paint
    assert again.size() == size
    qtbot.waitUntil(lambda: sum(again.splitter.sizes()) == sum(split), timeout=5_000)
    assert again.splitter.sizes() == split


@pytest.mark.model
def test_add_a_gguf_in_settings_and_switch_to_it(
    qtbot: Any, window: Any, ui_core: Any, default_model: Path, tmp_path: Path
) -> None:
    import shutil

    from app.ui.settings_dialog import SettingsDialog

    own = tmp_path / "my-model.gguf"
    shutil.copy(default_model, own)
    dialog = SettingsDialog(window.ctx, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.model.count() > 0, timeout=10_000)
    with qtbot.waitSignal(dialog.modelAdded, timeout=60_000) as added:
        dialog.add_gguf(own)
    entry = added.args[0]
    qtbot.waitUntil(lambda: dialog.model.currentData() == entry.name, timeout=10_000)
    assert "Added" in dialog.model_note.text()
    assert dialog.changes()["model"] == entry.name
    with qtbot.waitSignal(window.ctx.settingsChanged, timeout=10_000):
        dialog.accept()
    assert ui_core.settings.model == entry.name
    qtbot.waitUntil(lambda: window.model_state == "ready", timeout=10_000)


def test_controls_have_accessible_names(window: Any) -> None:
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit

    unnamed = [
        w for cls in (QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit)
        for w in window.findChildren(cls)
        if w.isVisibleTo(window)
        and not (w.accessibleName() or getattr(w, "text", str)() or w.toolTip())
    ]
    assert [(type(w).__name__, w.objectName(), type(w.parent()).__name__) for w in unnamed] == []
