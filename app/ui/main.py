"""Start the desktop app: ``python -m app`` or the ``replydesk-gui`` command.

Only PySide6 and light modules are imported before the window shows; the database opens on a
worker thread and the model loads on the LLM thread after that, with their state in the status
bar (napari-style lazy imports).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from app import __version__
from app.core.paths import APP_NAME, resolve_data_dir
from app.ui import theme
from app.ui.context import AppContext, default_core_factory
from app.ui.errors import ErrorPresenter, install_excepthook
from app.ui.main_window import MainWindow

UI_SETTINGS = "ui.ini"


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="replydesk-gui", description="ReplyDesk desktop app")
    p.add_argument("--data-dir", help="data folder (default: $REPLYDESK_DATA_DIR or the "
                   "platform's user data folder)")
    p.add_argument("--version", action="version", version=f"ReplyDesk {__version__}")
    p.add_argument("--smoke-test", action="store_true", help="check the install: start "
                   "offscreen with a throwaway data folder, draft one reply, exit 0 if it worked")
    args, _qt_args = p.parse_known_args(list(argv))
    return args


def run(argv: Sequence[str] | None = None, *,
        on_shown: Callable[[MainWindow], None] | None = None) -> int:
    """Run the app; ``on_shown`` is called once the window has first been painted (benchmarks,
    scripts); the inbox and review pane are built right after that."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(argv)
    # Offline by design: no model hub, no telemetry, whatever the environment says.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    QApplication.setApplicationName(APP_NAME)
    QApplication.setApplicationVersion(__version__)
    QApplication.setDesktopFileName("io.github.replydesk.ReplyDesk")  # packaging/linux/
    # Fusion everywhere (it honours our palettes), chosen here rather than with setStyle():
    # that would build QStyle's Python enums before the first paint.
    style = [] if "-style" in argv else ["-style", "Fusion"]
    app = QApplication.instance() or QApplication([sys.argv[0], *style, *argv])
    assert isinstance(app, QApplication)
    theme.apply(app)
    app.setWindowIcon(theme.app_icon())
    data_dir = resolve_data_dir(args.data_dir)
    # Window state lives in the data folder, not the user's global Qt config.
    ui_settings = QSettings(str(data_dir / UI_SETTINGS), QSettings.Format.IniFormat)
    presenter = ErrorPresenter()
    install_excepthook(presenter)
    ctx = AppContext(default_core_factory(data_dir), presenter)
    window = MainWindow(ctx, ui_settings)
    presenter.set_parent_widget(window)
    window.show()
    QTimer.singleShot(0, ctx.start)
    if on_shown is not None:
        window.firstPainted.connect(lambda: on_shown(window))
    code = app.exec()
    ctx.shutdown()
    return code


def main() -> int:
    if _parse(sys.argv[1:]).smoke_test:
        from app.ui import smoke

        return smoke.run()
    return run()


if __name__ == "__main__":
    sys.exit(main())
