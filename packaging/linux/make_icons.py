"""Render the app icon (resources/icons/app.svg) into a hicolor icon theme tree.

Usage: make_icons.py SHARE_DIR — writes SHARE_DIR/icons/hicolor/{scalable,NxN}/apps/ICON.{svg,png}
for the .desktop file and the AppStream metainfo.  Rendered with Qt, which the app ships anyway.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ICON = "io.github.replydesk.ReplyDesk"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
SOURCE = Path(__file__).resolve().parents[2] / "resources" / "icons" / "app.svg"


def main(share: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication([])
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SOURCE}")
    hicolor = share / "icons" / "hicolor"
    scalable = hicolor / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE, scalable / f"{ICON}.svg")
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        folder = hicolor / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True, exist_ok=True)
        if not image.save(str(folder / f"{ICON}.png")):
            raise SystemExit(f"cannot write {folder / ICON}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
