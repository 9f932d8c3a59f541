"""The review pane: the review, the streaming draft, variants, checks, sources and decisions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QElapsedTimer, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.ui import theme
from app.ui.draft_editor import DraftEditor, ReplyCounter, diff_html

if TYPE_CHECKING:
    from app.core.errors import KnownError
    from app.core.types import ClaimFinding, DraftDTO, ReviewDTO
    from app.services.decisions import Decision
    from app.ui.context import AppContext

DECIDED = ("approved", "posted")


class VariantCard(QFrame):
    picked = Signal(object)  # DraftDTO

    def __init__(self, number: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.draft: DraftDTO | None = None
        self.title = QLabel(f"Variant {number}", objectName="heading")
        self.text = QPlainTextEdit(readOnly=True, accessibleName=f"Variant {number}")
        self.checks = QLabel("", objectName="muted")
        self.use = QPushButton(theme.icon("accept"), "Use this", enabled=False,
                               accessibleName=f"Use variant {number}")
        self.use.setShortcut(f"Alt+{number}")
        self.use.setToolTip(f"Use variant {number} (Alt+{number})")
        self.use.clicked.connect(lambda: self.picked.emit(self.draft))
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        row = QHBoxLayout()
        row.addWidget(self.checks, 1)
        row.addWidget(self.use)
        layout.addLayout(row)

    def append(self, piece: str) -> None:
        self.text.moveCursor(self.text.textCursor().MoveOperation.End)
        self.text.insertPlainText(piece)

    def set_draft(self, draft: DraftDTO) -> None:
        self.draft = draft
        self.text.setPlainText(draft.text)
        bad = sum(1 for c in draft.claims if not c.supported)
        self.checks.setText(f"{bad} claim{'s' if bad != 1 else ''} to check" if bad
                            else "No unsupported claims")
        self.use.setEnabled(bool(draft.text.strip()))


class VariantsView(QWidget):
    """2–3 drafts side by side; picking one puts it into the editor."""

    picked = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cards: list[VariantCard] = []
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def reset(self, count: int) -> None:
        for card in self.cards:
            card.deleteLater()
        self.cards = []
        for i in range(count):
            card = VariantCard(i + 1, self)
            card.picked.connect(self.picked)
            self.cards.append(card)
            self._layout.addWidget(card, 1)

    def append(self, variant: int, piece: str) -> None:
        if 0 <= variant < len(self.cards):
            self.cards[variant].append(piece)

    def set_draft(self, variant: int, draft: DraftDTO) -> None:
        if 0 <= variant < len(self.cards):
            self.cards[variant].set_draft(draft)


class ReviewPane(QWidget):
    """Shows one review and runs the draft → decide loop for it."""

    decided = Signal(object)  # Decision
    draftFinished = Signal(object)  # list[DraftDTO] of the finished job
    message = Signal(str)  # for the status bar

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.review: ReviewDTO | None = None
        self.draft: DraftDTO | None = None
        self.drafts: list[DraftDTO] = []  # of the current job or the latest group
        self._job: int | None = None
        self._variants = 1
        self._chosen = False  # the editor holds a picked variant
        self._streaming = False
        self._tokens = 0
        self._clock = QElapsedTimer()
        self._build()
        self.show_review(None)

    # --- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.meta = QLabel("", objectName="reviewMeta")
        self.flag = QLabel("", objectName="banner")
        self.flag.hide()
        self.status_chip = QLabel("", objectName="chip")
        self.review_text = QTextBrowser(accessibleName="Review text", openLinks=False)
        self.review_text.setMinimumHeight(80)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(self.meta, 1)
        head.addWidget(self.status_chip)
        tl.addLayout(head)
        tl.addWidget(self.flag)
        tl.addWidget(self.review_text, 1)

        self.editor = DraftEditor()
        self.counter = ReplyCounter(self.editor)
        self.draft_button = self._button("draft", "Draft", "Write a reply (Ctrl+G)")
        self.variants_button = self._button("variants", "Variants",
                                            "Write 2–3 replies side by side (Ctrl+Shift+G)")
        self.stop_button = self._button("stop", "Stop", "Stop writing (Esc)")
        self.state = QLabel("", objectName="muted", accessibleName="Drafting state")
        self.draft_button.clicked.connect(lambda: self.start_draft(1))
        self.variants_button.clicked.connect(lambda: self.start_draft(None))
        self.stop_button.clicked.connect(self.stop)
        bar = QHBoxLayout()
        for w in (self.draft_button, self.variants_button, self.stop_button):
            bar.addWidget(w)
        bar.addWidget(self.state, 1)
        bar.addWidget(self.counter)

        self.editor.textChanged.connect(self._edited)
        self.variants = VariantsView()
        self.variants.picked.connect(self.pick_variant)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.editor)
        self.stack.addWidget(self.variants)

        self.accept_button = self._button("accept", "Accept", "Approve this reply (Ctrl+Enter)")
        self.accept_button.setObjectName("primary")
        self.edit_button = self._button("edit", "Edit", "Edit the reply, then approve it "
                                        "(Ctrl+E, then Ctrl+Enter)")
        self.reject_button = self._button("reject", "Reject", "This draft is not usable "
                                          "(Ctrl+Shift+X)")
        self.reject_button.setObjectName("danger")
        self.skip_button = self._button("skip", "Skip", "Do not reply to this review "
                                        "(Ctrl+Shift+S)")
        self.copy_button = self._button("copy", "Copy reply", "Copy the reply to paste it on "
                                        "the platform (Ctrl+Shift+C)")
        self.accept_button.clicked.connect(self.approve)
        self.edit_button.clicked.connect(self.begin_edit)
        self.reject_button.clicked.connect(lambda: self.decide("reject"))
        self.skip_button.clicked.connect(lambda: self.decide("skip"))
        self.copy_button.clicked.connect(self.copy_reply)
        decisions = QHBoxLayout()
        for w in (self.accept_button, self.edit_button, self.reject_button, self.skip_button):
            decisions.addWidget(w)
        decisions.addStretch(1)
        decisions.addWidget(self.copy_button)

        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addLayout(bar)
        ml.addWidget(self.stack, 1)
        ml.addLayout(decisions)

        self.checks = QListWidget(accessibleName="Claim checks")
        self.checks.setWordWrap(True)
        self.checks.itemActivated.connect(self._check_activated)
        self.checks.itemClicked.connect(self._check_activated)
        self.sources = QListWidget(accessibleName="Sources used")
        self.sources.setWordWrap(True)
        self.sources.itemActivated.connect(self._open_source)
        self.diff = QTextBrowser(accessibleName="Changes against the draft")
        self.tabs = QTabWidget()
        self.tabs.addTab(self.checks, theme.icon("warning"), "Checks")
        self.tabs.addTab(self.sources, theme.icon("source"), "Sources")
        self.tabs.addTab(self.diff, theme.icon("diff"), "Changes")
        self.tabs.currentChanged.connect(lambda _i: self._update_diff())

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(middle)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 4)
        splitter.setStretchFactor(2, 2)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 8, 8, 8)
        layout.addWidget(splitter)

    @staticmethod
    def _button(icon: str, text: str, tip: str) -> QPushButton:
        b = QPushButton(theme.icon(icon), text)
        b.setToolTip(tip)
        b.setAccessibleName(text)
        b.setAccessibleDescription(tip)
        return b

    # --- showing a review ---------------------------------------------------------------------

    def load(self, review_id: int) -> None:
        """Show a review and its latest draft (two small reads on the UI thread)."""
        core = self.ctx.core
        if core is None:
            return
        from app.services import inbox

        self.show_review(inbox.review(core, review_id), inbox.drafts(core, review_id))

    def show_review(self, review: ReviewDTO | None, drafts: list[DraftDTO] | None = None) -> None:
        if self._streaming and self.ctx.llm is not None and self._job is not None:
            self.ctx.llm.stop(self._job)
        self._job = None
        self._streaming = False
        self.review = review
        self.draft = None
        self.drafts = []
        self._chosen = False
        self.stack.setCurrentWidget(self.editor)
        self.editor.set_text("")
        if review is None:
            self.meta.setText("Select a review in the inbox.")
            self.status_chip.hide()
            self.flag.hide()
            self.review_text.clear()
            self._show_extras()
            self._sync()
            return
        when = review.created_at.strftime("%d %b %Y") if review.created_at else "no date"
        stars = "★" * review.rating + "☆" * (5 - review.rating)
        where = f" · {review.location}" if review.location else ""
        self.meta.setText(f"<b>{review.author or 'Anonymous'}</b> · {stars} · "
                          f"{review.platform}{where} · {when}")
        self.status_chip.setText(review.status)
        self.status_chip.show()
        self.flag.setText(f"{review.rating}-star review: worth a careful, personal reply.")
        self.flag.setVisible(review.rating <= 2)
        title = f"<p><b>{_esc(review.title)}</b></p>" if review.title else ""
        self.review_text.setHtml(title + "".join(f"<p>{_esc(p)}</p>"
                                                 for p in review.text.split("\n") if p.strip()))
        self.counter.set_platform(review.platform)
        latest = self._latest_group(drafts or [])
        if review.status in DECIDED and review.owner_reply:
            self.draft = latest[-1] if latest else None
            self.editor.set_text(review.owner_reply)
            self.state.setText("Approved reply" if review.status == "approved" else
                               "Reply already posted")
        elif len(latest) > 1:
            self._show_variants(latest)
            self.state.setText("Pick one of these variants")
        elif latest:
            self._set_draft(latest[0])
            self.state.setText("Last draft" + (" (stopped)" if latest[0].stopped else ""))
        else:
            self.state.setText("No draft yet: press Draft (Ctrl+G)")
        self.drafts = latest
        self._show_extras()
        self._sync()
        self._clock.start()

    @staticmethod
    def _latest_group(drafts: list[DraftDTO]) -> list[DraftDTO]:
        if not drafts:
            return []
        last = drafts[-1]
        if last.variant_group:
            return [d for d in drafts if d.variant_group == last.variant_group]
        return [last]

    def _set_draft(self, draft: DraftDTO) -> None:
        self.draft = draft
        self.editor.set_text(draft.text, draft.claims)
        self.stack.setCurrentWidget(self.editor)

    def _show_variants(self, drafts: list[DraftDTO]) -> None:
        self.variants.reset(len(drafts))
        for i, d in enumerate(drafts):
            self.variants.set_draft(i, d)
        self.stack.setCurrentWidget(self.variants)

    # --- drafting -----------------------------------------------------------------------------

    def start_draft(self, variants: int | None = 1) -> None:
        """Draft (``variants=1``) or draft N variants (None: the number from settings)."""
        core, llm = self.ctx.core, self.ctx.llm
        if self.review is None or core is None or llm is None:
            return
        from app.services.drafting import DraftRequest

        n = variants or max(2, core.settings.variants)
        self._variants = n
        self.draft = None
        self.drafts = []
        self._chosen = False
        self._tokens = 0
        self.editor.set_text("")
        if n > 1:
            self.variants.reset(n)
            self.stack.setCurrentWidget(self.variants)
        else:
            self.stack.setCurrentWidget(self.editor)
        self._streaming = True
        self.state.setText("Waiting for the model…" if not core.engine_loaded() else "Writing…")
        self._show_extras()
        self._job = llm.start_draft(DraftRequest(review_id=self.review.id, variants=n))
        self._sync()

    def connect_llm(self) -> None:
        """Called once the LLM thread exists (after the core opened)."""
        assert self.ctx.llm is not None
        w = self.ctx.llm.worker
        w.token.connect(self._token)
        w.draftReady.connect(self._draft_ready)
        w.draftFailed.connect(self._draft_failed)
        w.finished.connect(self._finished)

    def stop(self) -> None:
        """Stop at once: the UI is idle now, the worker stops before its next token."""
        if not self._streaming or self.ctx.llm is None or self._job is None:
            return
        self.ctx.llm.stop(self._job)
        self._streaming = False
        self.state.setText(f"Stopped after {self._tokens} tokens")
        self._sync()

    def is_streaming(self) -> bool:
        return self._streaming

    @Slot(int, int, str)
    def _token(self, job: int, variant: int, piece: str) -> None:
        if job != self._job or not self._streaming:
            return
        self._tokens += 1
        if self._variants > 1:
            self.variants.append(variant, piece)
        else:
            self.editor.append_stream(piece)
        if self._tokens % 8 == 1:
            self.state.setText(f"Writing… {self._tokens} tokens")

    @Slot(int, object)
    def _draft_ready(self, job: int, draft: DraftDTO) -> None:
        if job != self._job:
            return
        self.drafts.append(draft)
        if self._variants > 1:
            self.variants.set_draft(len(self.drafts) - 1, draft)
        elif not self.editor.document().isModified() or self.draft is None:
            self._set_draft(draft)
        self.draft = self.draft or draft

    @Slot(int, object)
    def _draft_failed(self, job: int, exc: KnownError) -> None:
        if job != self._job:
            return
        self.state.setText("The draft failed")
        self.ctx.show_error(exc)

    @Slot(int)
    def _finished(self, job: int) -> None:
        if job != self._job:
            return
        stopped = not self._streaming
        self._streaming = False
        self._job = None
        if self.drafts and self.review is not None and self.review.status == "new":
            self.status_chip.setText("drafted")
        if self.drafts and not stopped:
            bad = sum(1 for d in self.drafts for c in d.claims if not c.supported)
            t = self.drafts[-1].timings
            speed = f" · {t.get('tokens_per_s', 0):.0f} tokens/s" if t.get("tokens_per_s") else ""
            checks = f" · {bad} claim{'s' if bad != 1 else ''} to check" if bad else ""
            what = "Variants ready: pick one" if len(self.drafts) > 1 else "Draft ready"
            self.state.setText(f"{what}{checks}{speed}")
        self.editor.document().setModified(False)
        self._clock.start()
        self._show_extras()
        self._sync()
        self.draftFinished.emit(list(self.drafts))

    def pick_variant(self, draft: DraftDTO | None) -> None:
        if draft is None:
            return
        self._set_draft(draft)
        self._chosen = True
        self.state.setText("Variant picked: approve it as it is or edit it first")
        self._show_extras()
        self._sync()
        self.editor.setFocus()

    # --- decisions ----------------------------------------------------------------------------

    def begin_edit(self) -> None:
        self.stack.setCurrentWidget(self.editor)
        self.editor.setFocus()
        self.editor.moveCursor(self.editor.textCursor().MoveOperation.End)

    def edited(self) -> bool:
        return self.draft is not None and self.editor.toPlainText().strip() != self.draft.text

    def approve(self) -> None:
        if self.draft is None or not self.accept_button.isEnabled():
            return
        text = self.editor.toPlainText().strip()
        action = "choose" if self._chosen else ("edit" if self.edited() else "accept")
        self.decide(action, final_text=text)

    def decide(self, action: str, final_text: str | None = None) -> None:
        core = self.ctx.core
        if core is None or self.review is None or self._streaming:
            return
        from app.services.decisions import decide

        review_id = self.review.id
        draft_id = self.draft.id if self.draft is not None else None
        ms = float(self._clock.elapsed()) if self._clock.isValid() else None
        self._set_deciding(True)
        self.ctx.db.submit(
            lambda _job: decide(core, review_id, action, final_text=final_text,
                                draft_id=draft_id, decision_ms=ms),
            name="decide",
            on_done=self._decided,
            on_error=self._decide_failed,
        )

    def _set_deciding(self, busy: bool) -> None:
        for b in (self.accept_button, self.reject_button, self.skip_button):
            b.setEnabled(not busy)
        if not busy:
            self._sync()

    def _decided(self, decision: Decision) -> None:
        self._set_deciding(False)
        if self.review is None or decision.review_id != self.review.id:
            self.decided.emit(decision)
            return
        labels = {"accepted": "Accepted", "edited": "Edited and approved",
                  "variant_chosen": "Variant approved", "rejected": "Draft rejected",
                  None: "Skipped"}  # fmt: skip
        self.message.emit(f"{labels.get(decision.event, decision.event)}: review "
                          f"{decision.review_id}")
        if decision.event == "rejected":
            self.draft = None
            self.editor.set_text("")
            self.state.setText("Rejected. Draft again (Ctrl+G), or skip this review.")
            self._sync()
        self.decided.emit(decision)

    def _decide_failed(self, exc: KnownError) -> None:
        self._set_deciding(False)
        self.ctx.show_error(exc)

    def copy_reply(self) -> None:
        text = self.editor.toPlainText().strip()
        if text:
            QApplication.clipboard().setText(text)
            self.message.emit("Reply copied: paste it on the review platform")

    # --- state --------------------------------------------------------------------------------

    def _edited(self) -> None:
        if self._streaming:
            return
        self._sync()
        if self.tabs.currentWidget() is self.diff:
            self._update_diff()

    def _update_button_labels(self) -> None:
        self.accept_button.setText("Approve edit" if self.edited() else
                                   ("Approve variant" if self._chosen else "Accept"))

    def _sync(self) -> None:
        """Enable what makes sense in the current state."""
        has_review = self.review is not None
        ready = self.ctx.core is not None and self.ctx.llm is not None
        streaming = self._streaming
        has_text = bool(self.editor.toPlainText().strip())
        self.draft_button.setEnabled(has_review and ready and not streaming)
        self.draft_button.setText("Regenerate" if self.draft is not None or self.drafts
                                  else "Draft")
        self.draft_button.setIcon(theme.icon("regenerate" if self.draft or self.drafts
                                             else "draft"))
        self.variants_button.setEnabled(has_review and ready and not streaming)
        self.stop_button.setEnabled(streaming)
        in_variants = self.stack.currentWidget() is self.variants
        can_decide = has_review and not streaming and self.draft is not None and not in_variants
        self.accept_button.setEnabled(can_decide and has_text and not self.counter.over())
        self.edit_button.setEnabled(can_decide)
        self.reject_button.setEnabled(can_decide)
        self.skip_button.setEnabled(has_review and not streaming)
        self.copy_button.setEnabled(has_text and not streaming)
        self.editor.setReadOnly(streaming)
        self._update_button_labels()

    def _show_extras(self) -> None:
        self._show_checks(self.draft.claims if self.draft else [])
        self._show_sources()
        self._update_diff()

    def _show_checks(self, findings: list[ClaimFinding]) -> None:
        self.checks.clear()
        bad = [f for f in findings if not f.supported]
        good = [f for f in findings if f.supported]
        for f in bad + good:
            item = QListWidgetItem(theme.icon("warning" if not f.supported else "accept",
                                              "danger" if not f.supported else "ok"),
                                   f"{f.kind}: “{f.text}” — {f.reason}")
            item.setData(Qt.ItemDataRole.UserRole, f)
            item.setToolTip(f.reason)
            self.checks.addItem(item)
        if not findings:
            self.checks.addItem("No concrete claims (amounts, dates, offers, names) in the draft."
                                if self.draft else "Checks appear when a draft is ready.")
        self.tabs.setTabText(0, f"Checks ({len(bad)})" if bad else "Checks")

    def _check_activated(self, item: QListWidgetItem) -> None:
        finding = item.data(Qt.ItemDataRole.UserRole)
        if finding is not None:
            self.stack.setCurrentWidget(self.editor)
            self.editor.select_finding(finding)

    def _show_sources(self) -> None:
        self.sources.clear()
        chunks = self.draft.sources if self.draft else []
        for c in chunks:
            name = Path(c.source).name or c.source
            snippet = " ".join(c.text.split())
            item = QListWidgetItem(theme.icon("source"), f"{name} · relevance {c.score:.2f}\n"
                                   f"{snippet[:280]}{'…' if len(snippet) > 280 else ''}")
            item.setData(Qt.ItemDataRole.UserRole, c.source)
            item.setToolTip(f"{c.source} [{c.chunk_id}]\n\n{c.text}\n\nDouble-click to open "
                            "the document.")
            self.sources.addItem(item)
        if not chunks:
            self.sources.addItem("No knowledge snippets were used." if self.draft else
                                 "The snippets a draft used appear here.")
        self.tabs.setTabText(1, f"Sources ({len(chunks)})" if chunks else "Sources")

    def _open_source(self, item: QListWidgetItem) -> None:
        source = item.data(Qt.ItemDataRole.UserRole)
        if source:
            url = QUrl(source) if "://" in source else QUrl.fromLocalFile(source)
            QDesktopServices.openUrl(url)

    def _update_diff(self) -> None:
        if self.tabs.currentWidget() is not self.diff:
            return
        if self.draft is None:
            self.diff.setHtml("<p>Changes between the draft and the approved reply appear "
                              "here.</p>")
            return
        self.diff.setHtml(diff_html(self.draft.text, self.editor.toPlainText().strip()))


def _esc(text: str) -> str:
    import html

    return html.escape(text)
