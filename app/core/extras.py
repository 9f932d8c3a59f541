"""Optional features whose libraries may be absent (the ``[train]`` extra, a lean bundle).

The desktop bundle and a plain ``pip install replydesk`` leave out the training stack (torch,
TRL, PEFT, transformers, datasets) to stay small. Asking for a feature that needs it must end in
advice, not in an ``ImportError`` traceback.
"""

from __future__ import annotations

import importlib.util
import sys

from app.core.errors import KnownError

TRAINING = ("torch", "transformers", "peft", "trl", "datasets", "gguf")
DATASETS = ("datasets",)


def missing(modules: tuple[str, ...]) -> list[str]:
    """The top-level modules in ``modules`` that cannot be imported here."""
    absent = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken or half-removed install
            found = False
        if not found:
            absent.append(name)
    return absent


def require(feature: str, modules: tuple[str, ...]) -> None:
    """Raise a :class:`KnownError` naming what ``feature`` lacks and how to get it."""
    absent = missing(modules)
    if not absent:
        return
    if getattr(sys, "frozen", False):
        where = ("This desktop build leaves the training libraries out to stay small. Export "
                 "your feedback (replydesk export --format dpo) and train on a machine with "
                 "Python: pip install 'replydesk[train]' (or scripts/train_on_gpu.py on a GPU "
                 "box), then add the adapter here with: replydesk models add ADAPTER.gguf")
    else:
        where = ("Install the optional training libraries into this environment: "
                 "pip install -e '.[train]' (./dev.sh setup does this).")
    verb = "is" if len(absent) == 1 else "are"
    raise KnownError(f"{feature} needs {', '.join(absent)}, which {verb} not installed.", where)
