"""First-run wizard and knowledge panel, on a real Chroma store with a fast hash embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWizard

from tests.unit.knowledge.fakes import HashEmbedder

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def kb_core(data_dir: Path) -> Iterator[Any]:
    """A fresh core (first run not done) whose knowledge base uses the hash embedder."""
    from app.services.core import ReplyDesk
    from app.services.knowledge import open_knowledge_base
    from tests.fakes import FakeEngine

    engine = FakeEngine("Thank you! Our refund policy covers cold dishes: ask us within 7 days.")
    core = ReplyDesk(data_dir, engine_factory=lambda _c: engine,
                     retriever_factory=lambda c: open_knowledge_base(c, embedder=HashEmbedder()))
    yield core
    core.close()


def test_first_run_wizard_takes_a_new_user_to_a_grounded_draft(
    qtbot: Any, make_window: Any, kb_core: Any
) -> None:
    from app.services import knowledge, profile

    win = make_window(kb_core)
    qtbot.waitUntil(lambda: win.wizard is not None and win.wizard.isVisible(), timeout=10_000)
    wizard = win.wizard
    assert wizard.welcome.sample.isChecked()

    wizard.next()  # profile, filled with the sample restaurant
    assert wizard.currentPage() is wizard.profile
    assert wizard.profile.form.name.text() == "Olive & Ember (sample)"

    wizard.next()  # knowledge: the sample kit indexes right away
    assert wizard.currentPage() is wizard.knowledge
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    assert not next_button.isEnabled() or wizard.knowledge.done
    qtbot.waitUntil(lambda: wizard.knowledge.done, timeout=60_000)
    assert next_button.isEnabled()
    assert "snippets" in wizard.knowledge.result.text()
    docs = knowledge.list_docs(kb_core)
    assert len(docs) >= 5 and all(d.sample and d.status == "indexed" for d in docs)
    qtbot.waitUntil(lambda: profile.current(kb_core).name == "Olive & Ember (sample)",
                    timeout=10_000)

    wizard.next()  # the first draft
    page = wizard.first_draft
    with qtbot.waitSignal(wizard.firstDraft, timeout=30_000) as first:
        qtbot.mouseClick(page.draft_button, LEFT)
    draft = first.args[0]
    assert draft is not None and draft.text.startswith("Thank you!")
    assert draft.sources, "the sample review should retrieve snippets from the kit"
    assert any("refund" in s.source.lower() or "refund" in s.text.lower() for s in draft.sources)
    assert page.output.toPlainText() == draft.text
    assert page.sources.count() == len(draft.sources)

    with qtbot.waitSignal(win.ctx.settingsChanged, timeout=10_000):
        wizard.accept()
    assert kb_core.settings.first_run_done


def test_knowledge_panel_add_drop_progress_list_search(
    qtbot: Any, make_window: Any, kb_core: Any, tmp_path: Path
) -> None:
    from app.services.knowledge import sample_kit_dir

    kb_core.update_settings(first_run_done=True)
    win = make_window(kb_core)
    win.tabs.setCurrentWidget(win.knowledge_tab)
    panel = win.knowledge_tab.content
    assert panel is not None
    qtbot.waitUntil(lambda: panel.empty.isVisibleTo(panel), timeout=10_000)

    seen: list[Any] = []
    panel.progress.bar.valueChanged.connect(seen.append)
    with qtbot.waitSignal(panel.indexed, timeout=60_000) as indexed:
        panel.add_paths([sample_kit_dir()])
        assert panel.progress.isVisibleTo(panel)
        assert panel.progress.cancel.isEnabled()
    report = indexed.args[0]
    assert report.added >= 5 and report.chunks > 0
    assert not panel.progress.isVisibleTo(panel)
    qtbot.waitUntil(lambda: panel.table.rowCount() == report.added, timeout=10_000)
    assert "(sample)" in panel.table.item(0, 0).text()
    assert "Indexed" in panel.summary.text()

    # Drag and drop a file of your own onto the panel.
    own = tmp_path / "parking.md"
    own.write_text("# Parking\n\nGuests park free in the Harbour Road garage after 6 pm.\n",
                   encoding="utf-8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(own))])
    enter = QDragEnterEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, LEFT,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, LEFT,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(panel.indexed, timeout=60_000) as indexed:
        QApplication.sendEvent(panel, drop)
    assert indexed.args[0].added == 1
    qtbot.waitUntil(lambda: panel.table.rowCount() == report.added + 1, timeout=10_000)

    panel.query.setText("garage park free guests")
    with qtbot.waitSignal(panel.searched, timeout=30_000) as searched:
        qtbot.mouseClick(panel.search_button, LEFT)
    chunks = searched.args[0]
    assert chunks and chunks[0].source == str(own.resolve())
    assert panel.results.count() == len(chunks)


def test_cancel_indexing(qtbot: Any, make_window: Any, kb_core: Any, tmp_path: Path) -> None:
    kb_core.update_settings(first_run_done=True)
    win = make_window(kb_core)
    win.tabs.setCurrentWidget(win.knowledge_tab)
    panel = win.knowledge_tab.content
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        (folder / f"note{i}.md").write_text(f"# Note {i}\n\nFact number {i}.\n" * 20,
                                            encoding="utf-8")
    panel.add_paths([folder])
    panel.progress.cancel.click()  # cancel before (or while) it runs
    qtbot.waitUntil(lambda: not panel.progress.isVisibleTo(panel), timeout=60_000)
    assert panel.add_files.isEnabled()


def test_recheck_rebuilds_a_damaged_index_and_says_where_the_old_one_went(
    qtbot: Any, make_window: Any, kb_core: Any, tmp_path: Path
) -> None:
    from app.services import knowledge

    own = tmp_path / "parking.md"
    own.write_text("# Parking\n\nGuests park free in the Harbour Road garage after 6 pm.\n",
                   encoding="utf-8")
    knowledge.add_paths(kb_core, [own])
    knowledge.knowledge_base(kb_core).store.close()
    folder = kb_core.data_dir / knowledge.CHROMA_FOLDER
    (folder / "chroma.sqlite3").write_bytes(bytes(range(256)) * 400)
    kb_core.update_settings(first_run_done=True)
    win = make_window(kb_core)
    win.tabs.setCurrentWidget(win.knowledge_tab)
    panel = win.knowledge_tab.content
    assert panel is not None
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=10_000)

    with qtbot.waitSignal(panel.indexed, timeout=60_000) as indexed:
        qtbot.mouseClick(panel.recheck, LEFT)
    report = indexed.args[0]
    assert report.set_aside and Path(report.set_aside).name.startswith("chroma.damaged-")
    assert report.updated == 1 and report.chunks > 0
    box = win.ctx.presenter.dialogs[-1]
    assert box.objectName() == "infoDialog" and report.set_aside in box.detailedText()
    assert knowledge.search(kb_core, "garage park free", k=1)
