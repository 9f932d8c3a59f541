"""Where things live: the user's data folder, bundled resources, and the models folder.

One module resolves every path, in a source checkout and in a frozen (PyInstaller) build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "ReplyDesk"
DATA_DIR_ENV = "REPLYDESK_DATA_DIR"
MODELS_DIR_ENV = "REPLYDESK_MODELS_DIR"


def _bundle_root() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parents[2]


def resources_dir() -> Path:
    return _bundle_root() / "resources"


def models_dir() -> Path:
    """The folder holding the model manifest and the model files (``models/`` in a checkout)."""
    override = os.environ.get(MODELS_DIR_ENV)
    return Path(override) if override else _bundle_root() / "models"


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``--data-dir``, else ``$REPLYDESK_DATA_DIR``, else the platform default."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return default_data_dir()


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` readable by its owner only: it holds reviews and personal data."""
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        path.chmod(0o700)
    return path
