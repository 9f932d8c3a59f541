"""The ``replydesk`` command: the same services as the GUI, for scripts and power users."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from app import __version__
from app.core.errors import KnownError
from app.core.paths import resolve_data_dir

log = logging.getLogger("replydesk")


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class Output:
    """Prints human text, or one JSON document when ``--json`` is given."""

    def __init__(self, as_json: bool, stream: TextIO | None = None) -> None:
        self.as_json = as_json
        self.stream = stream or sys.stdout  # looked up now, so redirected output is honoured

    def text(self, line: str = "") -> None:
        if not self.as_json:
            print(line, file=self.stream)

    def partial(self, piece: str) -> None:
        if not self.as_json:
            self.stream.write(piece)
            self.stream.flush()

    def result(self, data: Any, human: Callable[[], None] | None = None) -> None:
        if self.as_json:
            print(json.dumps(data, default=_jsonable, ensure_ascii=False, indent=2),
                  file=self.stream)
        elif human is not None:
            human()


def build_parser() -> argparse.ArgumentParser:
    from app.cli import commands

    p = argparse.ArgumentParser(
        prog="replydesk",
        description="Draft replies to customer reviews with a local language model, offline.",
    )
    p.add_argument("--version", action="version", version=f"ReplyDesk {__version__}")
    p.add_argument("--data-dir", help="data folder (default: $REPLYDESK_DATA_DIR or the "
                   "platform's user data folder)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    # Offline by design: no model hub, no telemetry, whatever the environment says.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    out = Output(args.json)
    try:
        data_dir = resolve_data_dir(args.data_dir)
        return int(args.func(args, data_dir, out) or 0)
    except KnownError as exc:
        if args.json:
            out.result({"ok": False, "error": exc.message, "hint": exc.hint, "path": exc.path})
        print(f"replydesk: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("replydesk: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
