"""Sub-command registry: each module adds its commands to the parser."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from app.cli import alignment, drafting, feedback, kb, models, reviews, settings

    for module in (reviews, drafting, models, feedback, kb, settings, alignment):
        module.register(sub)


def open_core(data_dir: Any, args: argparse.Namespace) -> Any:
    """The application core for a command (imports stay lazy so ``--help`` is instant)."""
    from app.services.core import ReplyDesk

    return ReplyDesk(data_dir)
