"""Render the main screens of the app to PNG files in docs/, offscreen, with real local drafts.

Everything is real: the bundled SmolLM2 model drafts on llama.cpp, the sample kit is indexed with
the packaged MiniLM embedder into Chroma, and the reviews go through the importer.  The reviews
are fictional ones written for the sample restaurant (no real review data is shipped).  It takes
a few minutes on two cores.

    .venv/bin/python scripts/screenshots.py [--out docs] [--max-tokens 140]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# Fictional reviews of the sample restaurant, Olive & Ember.
REVIEWS = [
    (2, "Cold soup, long wait", "The tomato soup arrived lukewarm and we waited forty minutes "
     "for our mains on a quiet Tuesday. The lamb was lovely when it came. Can we get a refund "
     "for the soup?", "Priya S.", "google"),
    (1, "Nobody knew about the nuts", "My friend has a nut allergy and nobody could tell us "
     "whether the chocolate torte had nuts in it. We left without dessert.", "Tom B.",
     "google"),
    (3, "Nice terrace, loud music", "Lovely terrace and friendly staff, but the music inside "
     "was far too loud to talk.", "Ana M.", "tripadvisor"),
    (5, "Best risotto in town", "The mushroom risotto was perfect and the waiter recommended a "
     "great wine. We'll be back for my birthday!", "Luca R.", "google"),
    (4, "Good food, slow bill", "Great pizza and starters. It took ages to get the bill "
     "though.", "Jen K.", "tripadvisor"),
    (2, "Booking lost", "We booked for six on Saturday and the booking was gone. The host "
     "found us a table after 20 minutes but it was by the door.", "Marc D.", "google"),
    (5, "Vegan options!", "So many vegan options and they were all delicious.", "Sam W.",
     "google"),
    (4, "Lovely lunch", "Quick and tasty lunch menu, good value.", "Olga P.", "tripadvisor"),
]
OLDER = [
    "Wonderful evening, thank you!", "Great service and a cosy room.",
    "The halloumi was fantastic.", "A bit pricey but worth it.", "Slow service on a Friday.",
    "Lovely staff, will come again.", "Pasta was overcooked.", "Perfect for a date night.",
]


def _reviews_csv(path: Path) -> None:
    """Recent unanswered reviews plus a year of answered ones (for the analytics)."""
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "rating", "title", "text", "author", "date", "platform", "reply",
                    "reply_date"])
        for i, (rating, title, text, author, platform) in enumerate(REVIEWS):
            w.writerow([f"new{i}", rating, title, text, author,
                        (now - timedelta(days=i)).isoformat(), platform, "", ""])
        for i in range(150):
            created = now - timedelta(days=12 + i * 2.3)
            answered = i % 3 != 0 or i > 100
            # (Unanswered old ones are 5-star: they sort after the recent reviews.)
            rating = (5, 4, 5, 3, 4, 5, 2, 5, 1, 4)[i % 10] if answered else 5
            delay = timedelta(hours=(6 + (i * 37) % 90) * (1.6 if i > 90 else 1.0))
            w.writerow([f"old{i}", rating, "", OLDER[i % len(OLDER)], f"Guest {i}",
                        created.isoformat(), ("google", "tripadvisor")[i % 2],
                        "Thank you for your review!" if answered else "",
                        (created + delay).isoformat() if answered else ""])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    p.add_argument("--max-tokens", type=int, default=140)
    args = p.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QWidget

    from app.core.settings import Settings, save
    from app.services import knowledge, profile
    from app.services.core import ReplyDesk
    from app.services.importing import import_reviews
    from app.ui import theme
    from app.ui.context import AppContext
    from app.ui.errors import ErrorPresenter
    from app.ui.main_window import MainWindow

    def wait(cond: Callable[[], bool], timeout: float = 600.0) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError("a screenshot step timed out")
            QTest.qWait(20)

    def shot(widget: QWidget, name: str) -> None:
        QTest.qWait(100)
        path = out / name
        widget.grab().save(str(path))
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    app = QApplication.instance() or QApplication([sys.argv[0], "-style", "Fusion"])
    assert isinstance(app, QApplication)
    theme.apply(app)
    with tempfile.TemporaryDirectory(prefix="replydesk-shots-") as tmp:
        data = Path(tmp) / "data"
        save(data, Settings(first_run_done=True, max_tokens=args.max_tokens, variants=2,
                            temperature=0.6))
        core = ReplyDesk(data)
        profile.update(core, name="Olive & Ember (sample)", type="restaurant",
                       voice="Warm, personal and brief. Thank the guest, answer what they "
                             "raised, never promise what is not in our policies.",
                       sign_off="Maria and the Olive & Ember team")
        print("indexing the sample kit with the real embedder…")
        knowledge.add_paths(core, [knowledge.sample_kit_dir()])
        reviews = Path(tmp) / "reviews.csv"
        _reviews_csv(reviews)
        import_reviews(core, reviews)

        presenter = ErrorPresenter()
        ctx = AppContext(lambda: core, presenter)
        win = MainWindow(ctx, QSettings(str(Path(tmp) / "ui.ini"), QSettings.Format.IniFormat))
        presenter.set_parent_widget(win)
        win.resize(1440, 900)
        try:
            win.show()
            ctx.start()
            wait(lambda: win.model_state == "ready", 300)
            wait(lambda: win.inbox.summary.text().endswith("shown") and win.inbox.model.total() > 0)
            pane = win.pane

            def select(author: str) -> None:
                model = win.inbox.model
                row = next(i for i in range(model.rowCount()) if model.row_at(i).author == author)
                win.inbox.select_row(row)

            def idle() -> None:
                wait(lambda: not pane.is_streaming() and pane._job is None, 600)

            def draft(author: str, variants: int | None = 1) -> None:
                select(author)
                pane.start_draft(variants)
                idle()

            # A few decisions first, so that analytics has something to show.
            decided: list[Any] = []
            pane.decided.connect(decided.append)
            for n, author in enumerate(("Luca R.", "Jen K."), start=1):
                draft(author)
                if n == 2:
                    pane.editor.setPlainText(pane.editor.toPlainText() + "\n\nSee you soon!")
                pane.approve()
                wait(lambda n=n: len(decided) == n)
                idle()  # the loop moves on and drafts the next review

            draft("Priya S.")
            pane.tabs.setCurrentWidget(pane.checks)
            shot(win, "inbox.png")
            pane.tabs.setCurrentWidget(pane.sources)
            shot(win, "sources.png")

            draft("Tom B.", None)
            shot(win, "variants.png")
            pane.pick_variant(pane.variants.cards[0].draft)
            pane.editor.setPlainText(pane.editor.toPlainText() + " We now mark every allergen on "
                                     "the menu.")
            pane.tabs.setCurrentWidget(pane.diff)
            shot(win, "diff.png")

            win.tabs.setCurrentWidget(win.knowledge_tab)
            panel = win.knowledge_tab.build()
            wait(lambda: panel.table.rowCount() > 0)
            found: list[Any] = []
            panel.searched.connect(found.append)
            panel.query.setText("Can I get a refund for a cold dish?")
            panel.search()
            wait(lambda: bool(found), 120)
            shot(win, "knowledge.png")

            win.tabs.setCurrentWidget(win.analytics_tab)
            view = win.analytics_tab.build()
            wait(lambda: view.summary is not None, 120)
            shot(win, "analytics.png")

            win.tabs.setCurrentWidget(win.profile_tab)
            editor = win.profile_tab.build()
            wait(lambda: bool(editor.form.name.text()))
            shot(win, "profile.png")

            from app.ui.export_dialog import ExportDialog
            from app.ui.settings_dialog import SettingsDialog

            settings = SettingsDialog(ctx, win)
            settings.show()
            wait(lambda: settings.model.count() > 0)
            shot(settings, "settings.png")
            settings.reject()
            export = ExportDialog(ctx, win)
            export.path.setText("~/Documents/replydesk-dpo.jsonl")
            export.show()
            shot(export, "export.png")
            export.reject()

            from app.ui.wizard import FirstRunWizard

            wizard = FirstRunWizard(ctx, win)
            wizard.show()
            wizard.next()
            wizard.next()
            wait(lambda: wizard.knowledge.done, 300)
            wizard.next()
            drafted: list[Any] = []
            wizard.firstDraft.connect(drafted.append)
            wizard.first_draft.start()
            wait(lambda: bool(drafted), 600)
            shot(wizard, "wizard.png")
            wizard.reject()

            os.environ[theme.THEME_ENV] = "dark"
            theme.apply(app)
            win.tabs.setCurrentIndex(0)
            select("Priya S.")
            pane.tabs.setCurrentWidget(pane.checks)
            shot(win, "inbox-dark.png")
        finally:
            win.close()
            core.close()


if __name__ == "__main__":
    main()
