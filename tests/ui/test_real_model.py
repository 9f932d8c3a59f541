"""The one UI test on the real default model (llama.cpp, SmolLM2 135M) through the default
engine factory: draft streams into the editor, Stop ends a real generation, approve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ui.helpers import import_into, wait_draft

pytestmark = [pytest.mark.slow, pytest.mark.model]


def test_real_model_drafts_streams_stops_and_approves(
    qtbot: Any, make_window: Any, data_dir: Path, default_model: Path, reviews_csv: Path
) -> None:
    from app.core.settings import Settings, save
    from app.services.core import ReplyDesk

    save(data_dir, Settings(first_run_done=True, max_tokens=96))
    core = ReplyDesk(data_dir)  # the default engine factory: the bundled GGUF on llama.cpp
    try:
        win = make_window(core, wait_ready=False)
        qtbot.waitUntil(lambda: win.model_state == "ready", timeout=120_000)
        assert "SmolLM2" in win.model_label.text()
        import_into(qtbot, win, reviews_csv, 4)
        win.inbox.select_row(0)

        tokens: list[str] = []
        win.ctx.llm.worker.token.connect(lambda _j, _v, piece: tokens.append(piece))
        win.pane.start_draft(1)
        wait_draft(qtbot, win, timeout=120_000)
        draft = win.pane.draft
        assert draft is not None and draft.text.strip()
        assert draft.model_name.startswith("SmolLM2") and not draft.stopped
        assert len(tokens) > 5
        assert win.pane.editor.toPlainText() == draft.text
        assert draft.timings["tokens"] >= len(tokens)

        # Stop a real generation after its first tokens.
        tokens.clear()
        win.pane.start_draft(1)
        qtbot.waitUntil(lambda: len(tokens) >= 3, timeout=120_000)
        win.pane.stop()
        assert not win.pane.is_streaming()
        shown = win.pane.editor.toPlainText()
        wait_draft(qtbot, win, timeout=10_000)  # the worker stops within a token
        assert win.pane.draft is not None and win.pane.draft.stopped
        assert len(win.pane.draft.text) <= len(shown) + 40  # at most a token or two more

        with qtbot.waitSignal(win.pane.decided, timeout=10_000) as blocker:
            win.pane.approve()
        assert blocker.args[0].status == "approved"
    finally:
        win.close()
        core.close()
