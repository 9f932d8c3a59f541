"""Light and dark themes that follow the system, and SVG icons drawn in the theme's colours.

Start-up note: in PySide6 the first ``from PySide6.QtCore import Qt`` builds Python enums for all
of Qt's ~90 enums (20-40 ms here), and calling ``app.style()`` builds QStyle's; the modules on
the path to the first paint (this one, errors, context, workers, progress, main_window) import
``Qt`` inside the functions that need it, and the Fusion style is chosen on the command line.
"""

from __future__ import annotations

import os
from functools import cache
from string import Template

from PySide6.QtCore import QRect, QRectF, QSize
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


def _forced() -> bool | None:
    forced = os.environ.get(THEME_ENV, "").lower()
    return forced == "dark" if forced in ("light", "dark") else None


def _palette_is_dark(app: QApplication) -> bool:
    """The platform's own palette, before ours replaces it: dark when the system is dark."""
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def _system_dark() -> bool:
    forced = _forced()
    if forced is not None:
        return forced
    from PySide6.QtCore import Qt  # builds all of Qt's enums: only after the first paint

    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


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
    """Style the app for the system's colour scheme (read from the platform palette: asking
    for ``colorScheme()`` builds all of Qt's enums, 20-40 ms before the first paint)."""
    forced = _forced()
    _apply_scheme(app, _palette_is_dark(app) if forced is None else forced)


def follow_system(app: QApplication) -> None:
    """After the first paint: check the scheme properly, and follow it when it changes."""
    if is_dark() != _system_dark():
        _apply_scheme(app, _system_dark())
    app.styleHints().colorSchemeChanged.connect(
        lambda _scheme: _apply_scheme(app, _system_dark()))


def _apply_scheme(app: QApplication, dark: bool) -> None:
    global _colors
    _colors = DARK if dark else LIGHT
    app.setPalette(_palette(_colors))
    qss = (resources_dir() / "styles" / "app.qss").read_text(encoding="utf-8")
    app.setStyleSheet(Template(qss).safe_substitute(_colors))


# --- icons --------------------------------------------------------------------------------------


@cache
def _svg(name: str) -> bytes:
    return (resources_dir() / "icons" / f"{name}.svg").read_bytes()


_pixmaps: dict[tuple[str, str, int, int], QPixmap] = {}  # rendered icons, per colour and size


class _SvgIconEngine(QIconEngine):
    """Renders an SVG at any size (sharp at every DPI) in the palette's text colour."""

    def __init__(self, name: str, color: str | None) -> None:
        super().__init__()
        self._name = name
        self._color = color

    def _color_for(self, mode: QIcon.Mode) -> str:
        if self._color and mode != QIcon.Mode.Disabled:
            return _colors.get(self._color, self._color)
        group = (QPalette.ColorGroup.Disabled if mode == QIcon.Mode.Disabled
                 else QPalette.ColorGroup.Active)
        return QApplication.palette().color(group, QPalette.ColorRole.Text).name()

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode,
              state: QIcon.State) -> None:
        painter.drawPixmap(rect, self.pixmap(rect.size(), mode, state))

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        color = self._color_for(mode)
        key = (self._name, color, size.width(), size.height())
        pm = _pixmaps.get(key)
        if pm is None:
            pm = QPixmap(size)
            pm.fill(QColor(0, 0, 0, 0))
            painter = QPainter(pm)
            data = _svg(self._name).replace(b"currentColor", color.encode())
            QSvgRenderer(data).render(painter, QRectF(0, 0, size.width(), size.height()))
            painter.end()
            _pixmaps[key] = pm
        return pm

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State,
                     scale: float) -> QPixmap:
        pm = QPixmap(self.pixmap(size * scale, mode, state))
        pm.setDevicePixelRatio(scale)
        return pm

    def clone(self) -> QIconEngine:
        return _SvgIconEngine(self._name, self._color)


def icon(name: str, color: str | None = None) -> QIcon:
    """An icon from ``resources/icons``; ``color`` is a theme key or a colour, else the text."""
    return QIcon(_SvgIconEngine(name, color))


def app_icon() -> QIcon:
    return QIcon(str(resources_dir() / "icons" / "app.svg"))
