"""The draft editor: streamed tokens, claim-check highlights that follow edits, and a counter."""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QHelpEvent, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTextEdit, QToolTip, QWidget

from app.ui import theme

if TYPE_CHECKING:
    from app.core.types import ClaimFinding

# Reply limits per platform; Google Business Profile caps replies at 4,096 bytes.
REPLY_LIMITS = {"google": 4096}
DEFAULT_LIMIT = 4096


def utf16_offset(text: str, index: int) -> int:
    """Python string index -> Qt (UTF-16) position: they differ after emoji and the like."""
    return len(text[:index].encode("utf-16-le")) // 2


@dataclass
class _Span:
    finding: ClaimFinding
    start: int  # Qt positions in the current document
    end: int
    intact: bool = True


class DraftEditor(QPlainTextEdit):
    """Plain-text reply editor; ``set_findings`` marks claims, and the marks move with edits."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Draft reply")
        self.setPlaceholderText("The draft reply appears here.")
        self._spans: list[_Span] = []
        self.document().contentsChange.connect(self._shift)

    def set_text(self, text: str, findings: list[ClaimFinding] | None = None) -> None:
        self._spans = []
        self.setPlainText(text)
        self.set_findings(findings or [])

    def append_stream(self, piece: str) -> None:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(piece)
        self.ensureCursorVisible()

    def set_findings(self, findings: list[ClaimFinding]) -> None:
        text = self.toPlainText()
        self._spans = [
            _Span(f, utf16_offset(text, f.start), utf16_offset(text, f.end))
            for f in findings
            if 0 <= f.start < f.end <= len(text)
        ]
        self._paint()

    def findings(self) -> list[ClaimFinding]:
        """Findings whose text is still in the editor (edited-out claims are dropped)."""
        return [s.finding for s in self._spans if s.intact]

    def select_finding(self, finding: ClaimFinding) -> None:
        for s in self._spans:
            if s.finding is finding and s.intact:
                cursor = self.textCursor()
                cursor.setPosition(s.start)
                cursor.setPosition(s.end, QTextCursor.MoveMode.KeepAnchor)
                self.setTextCursor(cursor)
                self.setFocus()
                return

    def _shift(self, position: int, removed: int, added: int) -> None:
        if not self._spans:
            return
        delta = added - removed
        for s in self._spans:
            if position >= s.end:
                continue
            if position + removed <= s.start:
                s.start += delta
                s.end += delta
            else:
                s.intact = False  # the claim itself was edited
        self._paint()

    def _paint(self) -> None:
        c = theme.colors()
        selections = []
        for s in self._spans:
            if not s.intact:
                continue
            sel = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            if s.finding.supported:
                fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DotLine)
                fmt.setUnderlineColor(QColor(c["ok"]))
            else:
                fmt.setBackground(QColor(c["bad_bg"]))
                fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
                fmt.setUnderlineColor(QColor(c["danger"]))
            fmt.setProperty(QTextFormat.Property.FullWidthSelection, False)
            sel.format = fmt
            cursor = QTextCursor(self.document())
            cursor.setPosition(min(s.start, self.document().characterCount() - 1))
            cursor.setPosition(min(s.end, self.document().characterCount() - 1),
                               QTextCursor.MoveMode.KeepAnchor)
            sel.cursor = cursor
            selections.append(sel)
        self.setExtraSelections(selections)

    def finding_at(self, position: int) -> ClaimFinding | None:
        return next((s.finding for s in self._spans
                     if s.intact and s.start <= position < s.end), None)

    def viewportEvent(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ToolTip and isinstance(e, QHelpEvent):
            pos = self.cursorForPosition(e.pos()).position()
            finding = self.finding_at(pos)
            if finding is not None:
                label = "Check this claim" if not finding.supported else "Supported claim"
                QToolTip.showText(e.globalPos(), f"{label} ({finding.kind}): {finding.reason}",
                                  self)
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(e)


class ReplyCounter(QLabel):
    """Characters and UTF-8 bytes against the platform's limit; red when over it."""

    def __init__(self, editor: QPlainTextEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("counter")
        self.setAccessibleName("Reply length")
        self._editor = editor
        self.limit = DEFAULT_LIMIT
        self.platform = ""
        editor.textChanged.connect(self.update_count)
        self.update_count()

    def set_platform(self, platform: str | None) -> None:
        self.platform = (platform or "").lower()
        self.limit = REPLY_LIMITS.get(self.platform, DEFAULT_LIMIT)
        self.update_count()

    def over(self) -> bool:
        return self.byte_count() > self.limit

    def byte_count(self) -> int:
        return len(self._editor.toPlainText().encode("utf-8"))

    def update_count(self) -> None:
        text = self._editor.toPlainText()
        size = len(text.encode("utf-8"))
        who = "Google's" if self.platform in ("", "google") else f"{self.platform}:"
        self.setText(f"{len(text):,} chars · {size:,}/{self.limit:,} bytes")
        self.setToolTip(f"{who} reply limit is {self.limit:,} bytes (UTF-8)")
        name = "counterOver" if size > self.limit else "counter"
        if self.objectName() != name:
            self.setObjectName(name)
            self.style().unpolish(self)
            self.style().polish(self)


_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


def diff_html(before: str, after: str) -> str:
    """Word-level diff of the draft (``before``) against the approved text, as rich text."""
    c = theme.colors()
    a, b = _TOKENS.findall(before), _TOKENS.findall(after)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old, new = html.escape("".join(a[i1:i2])), html.escape("".join(b[j1:j2]))
        if op == "equal":
            out.append(old)
            continue
        if old:
            out.append(f'<span style="background:{c["del_bg"]};text-decoration:line-through">'
                       f"{old}</span>")
        if new:
            out.append(f'<span style="background:{c["ins_bg"]}">{new}</span>')
    body = "".join(out).replace("\n", "<br>")
    return f'<div style="white-space:pre-wrap">{body}</div>'

