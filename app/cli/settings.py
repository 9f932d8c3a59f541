"""``settings [show] | set KEY=VALUE ... | reset KEY ... | --all``.

The same settings file the GUI's Settings dialog edits.  This is also how the CLI is pointed at
shared servers (DESIGN §8): ``replydesk settings set llm_backend=openai
openai_base_url=http://host:8000/v1 chroma_url=http://host:8001``; every later command, and the
app, then drafts and searches through them.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from app.cli.main import Output
from app.core import settings as store
from app.core.errors import KnownError
from app.core.paths import ensure_private_dir

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_URL_KEYS = ("openai_base_url", "chroma_url")


def register(sub: Any) -> None:
    p = sub.add_parser("settings", help="show or change settings (model, sampling, remote "
                       "servers)")
    p.set_defaults(func=cmd_show)
    ssub = p.add_subparsers(dest="settings_command", metavar="ACTION")
    ssub.add_parser("show", help="every setting and its value").set_defaults(func=cmd_show)
    s = ssub.add_parser("set", help="change settings, e.g. temperature=0.5 llm_backend=openai")
    s.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    s.set_defaults(func=cmd_set)
    r = ssub.add_parser("reset", help="put settings back to their defaults")
    r.add_argument("keys", nargs="*", metavar="KEY")
    r.add_argument("--all", action="store_true", help="every setting")
    r.set_defaults(func=cmd_reset)


def _names() -> list[str]:
    return [f.name for f in fields(store.Settings)]


def _check_key(key: str) -> None:
    if key not in _names():
        raise KnownError(f"There is no setting called {key!r}.",
                         "Settings: " + ", ".join(_names()) + ".")


def _parse(key: str, raw: str) -> Any:
    """``raw`` as the type of the setting's default value."""
    default = getattr(store.Settings(), key)
    try:
        if isinstance(default, bool):
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        wanted = ("true or false" if isinstance(default, bool) else
                  "a whole number" if isinstance(default, int) else "a number")
        raise KnownError(f"{key} needs {wanted}, not {raw!r}.") from None
    value = raw.strip()
    if key in _URL_KEYS and value and not value.startswith(("http://", "https://")):
        raise KnownError(f"{key} must be an http:// or https:// address, not {raw!r}.",
                         "For example http://127.0.0.1:8000/v1 (inference) or "
                         "http://127.0.0.1:8001 (Chroma).")
    return value


def _show(out: Output, current: store.Settings, changed: list[str] | None = None) -> None:
    values = asdict(current)
    defaults = asdict(store.Settings())

    def human() -> None:
        for key, value in values.items():
            mark = "*" if value != defaults[key] else " "
            out.text(f"{mark} {key:<20} {value!r}")
        out.text("(* differs from the default)")

    data: dict[str, Any] = {"settings": values}
    if changed is not None:
        data["changed"] = changed
    out.result(data, human)


def cmd_show(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    _show(out, store.load(data_dir))
    return 0


def cmd_set(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    changes: dict[str, Any] = {}
    for pair in args.pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep:
            raise KnownError(f"{pair!r} is not KEY=VALUE.",
                             "For example: replydesk settings set temperature=0.5")
        _check_key(key)
        changes[key] = _parse(key, raw)
    merged = {**asdict(store.load(data_dir)), **changes}
    if merged["llm_backend"] == "openai" and not merged["openai_base_url"]:
        raise KnownError("llm_backend=openai needs the server's address.",
                         "Add openai_base_url=http://HOST:PORT/v1 to the same command.")
    ensure_private_dir(data_dir)
    _show(out, store.update(data_dir, **changes), sorted(changes))
    return 0


def cmd_reset(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    if not args.all and not args.keys:
        raise KnownError("Name the settings to reset, or use --all.")
    keys = _names() if args.all else args.keys
    for key in keys:
        _check_key(key)
    defaults = store.Settings()
    changes = {k: getattr(defaults, k) for k in keys}
    merged = {**asdict(store.load(data_dir)), **changes}
    if merged["llm_backend"] == "openai" and not merged["openai_base_url"]:
        changes["llm_backend"] = defaults.llm_backend  # no address left: back to the local model
    ensure_private_dir(data_dir)
    _show(out, store.update(data_dir, **changes), sorted(changes))
    return 0
