"""Light and dark themes that follow the system, and SVG icons drawn in the theme's colours."""

from __future__ import annotations

import os
from functools import cache
from string import Template

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from app.core.paths import resources_dir

THEME_ENV = "REPLYDESK_THEME"  # light | dark: overrides the system (screenshots, testing)

LIGHT = {
    "window": "#f6f7f9", "base": "#ffffff", "alt": "#f0f2f5", "text": "#1d2026",
    "muted": "#5f6673", "accent": "#2f6fde", "accent_text": "#ffffff", "border": "#d5d9e0",
    "button": "#ffffff", "danger": "#c62828", "ok": "#2e7d32", "warn_bg": "#fff3cd",
    "bad_bg": "#fde2e1", "good_bg": "#e3f4e4", "ins_bg": "#d9f2dc", "del_bg": "#fbdcdc",
}  # fmt: skip
DARK = {
    "window": "#1e2026", "base": "#25282f", "alt": "#2b2f37", "text": "#e6e8ec",
    "muted": "#a0a7b4", "accent": "#6b9cf5", "accent_text": "#0e1116", "border": "#3a3f4a",
    "button": "#2f333c", "danger": "#ef6b6b", "ok": "#6cc070", "warn_bg": "#4a3f17",
    "bad_bg": "#5a2a2a", "good_bg": "#23412a", "ins_bg": "#1f4a2a", "del_bg": "#5a2525",
}  # fmt: skip

_colors: dict[str, str] = dict(LIGHT)


def colors() -> dict[str, str]:
    """The current theme's named colours (for rich text, highlights and charts)."""
    return _colors


def is_dark() -> bool:
    return _colors is DARK or _colors == DARK


def _system_dark() -> bool:
    forced = os.environ.get(THEME_ENV, "").lower()
    if forced in ("light", "dark"):
        return forced == "dark"
    scheme = QGuiApplication.styleHints().colorScheme()
    return scheme == Qt.ColorScheme.Dark


def _palette(c: dict[str, str]) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    for r, key in (
        (role.Window, "window"), (role.Base, "base"), (role.AlternateBase, "alt"),
        (role.Text, "text"), (role.WindowText, "text"), (role.ButtonText, "text"),
        (role.Button, "button"), (role.Highlight, "accent"), (role.HighlightedText, "accent_text"),
        (role.ToolTipBase, "base"), (role.ToolTipText, "text"), (role.PlaceholderText, "muted"),
        (role.Link, "accent"), (role.Mid, "border"), (role.Dark, "border"),
    ):  # fmt: skip
        p.setColor(r, QColor(c[key]))
    disabled = QColor(c["muted"])
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, disabled)
    return p


def apply(app: QApplication) -> None:
    """Style the app for the system's colour scheme now and whenever it changes."""
    app.setStyle("Fusion")
    _apply_scheme(app)
    app.styleHints().colorSchemeChanged.connect(lambda _scheme: _apply_scheme(app))


def _apply_scheme(app: QApplication) -> None:
    global _colors
    _colors = DARK if _system_dark() else LIGHT
    app.setPalette(_palette(_colors))
    qss = (resources_dir() / "styles" / "app.qss").read_text(encoding="utf-8")
    app.setStyleSheet(Template(qss).safe_substitute(_colors))


# --- icons --------------------------------------------------------------------------------------


@cache
def _svg(name: str) -> bytes:
    return (resources_dir() / "icons" / f"{name}.svg").read_bytes()


class _SvgIconEngine(QIconEngine):
    """Renders an SVG at any size (sharp at every DPI) in the palette's text colour."""

    def __init__(self, name: str, color: str | None) -> None:
        super().__init__()
        self._name = name
        self._color = color

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode,
              state: QIcon.State) -> None:
        group = (QPalette.ColorGroup.Disabled if mode == QIcon.Mode.Disabled
                 else QPalette.ColorGroup.Active)
        if self._color and mode != QIcon.Mode.Disabled:
            color = _colors.get(self._color, self._color)
        else:
            color = QApplication.palette().color(group, QPalette.ColorRole.Text).name()
        data = _svg(self._name).replace(b"currentColor", color.encode())
        QSvgRenderer(data).render(painter, QRectF(rect))

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        pm = QPixmap(size)
        pm.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pm)
        self.paint(painter, QRect(QPoint(0, 0), size), mode, state)
        painter.end()
        return pm

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State,
                     scale: float) -> QPixmap:
        pm = self.pixmap(size * scale, mode, state)
        pm.setDevicePixelRatio(scale)
        return pm

    def clone(self) -> QIconEngine:
        return _SvgIconEngine(self._name, self._color)


def icon(name: str, color: str | None = None) -> QIcon:
    """An icon from ``resources/icons``; ``color`` is a theme key or a colour, else the text."""
    return QIcon(_SvgIconEngine(name, color))


def app_icon() -> QIcon:
    return QIcon(str(resources_dir() / "icons" / "app.svg"))
