"""``kb add | search | list | remove | refresh``: the business knowledge base."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from app.cli.commands import open_core
from app.cli.main import Output
from app.core.errors import KnownError


def register(sub: Any) -> None:
    kb = sub.add_parser("kb", help="the business knowledge (menus, policies, FAQs) drafts use")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = kb_sub.add_parser(name, help=help_text)
        p.add_argument("--business", type=int, help="business id (default: the current one)")
        # accepted after the action too, as in 'replydesk kb list --json'
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="machine-readable output")
        return p

    p = action("add", "index files or folders (.txt .md .pdf .docx .html .csv); "
               "unchanged files are skipped")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    p.add_argument("--sample", action="store_true",
                   help="add the sample restaurant kit (a fictional business, for trying out)")
    p.set_defaults(func=cmd_add)

    p = action("search", "show the snippets most similar to a question or review")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5, help="how many snippets (default 5)")
    p.add_argument("--min-score", type=float, default=0.0,
                   help="hide snippets less similar than this (0-1)")
    p.set_defaults(func=cmd_search)

    p = action("list", "list the indexed documents")
    p.set_defaults(func=cmd_list)

    p = action("remove", "forget documents (a file, or everything under a folder)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.set_defaults(func=cmd_remove)

    p = action("refresh", "re-index changed documents and drop deleted ones")
    p.set_defaults(func=cmd_refresh)


def _progress(out: Output) -> Any:
    if out.as_json or not sys.stderr.isatty():
        return None

    def show(p: Any) -> None:
        eta = f", about {p.eta_s:.0f} s left" if p.eta_s is not None and p.done < p.total else ""
        print(f"\r{p.done}/{p.total} files, {p.chunks:,} chunks{eta}   ", end="",
              file=sys.stderr, flush=True)
        if p.done == p.total:
            print(file=sys.stderr)

    return show


def _index(args: argparse.Namespace, data_dir: Path, out: Output, paths: list[Path] | None) -> int:
    from app.services import knowledge

    core = open_core(data_dir, args)
    cancel = threading.Event()
    try:
        if paths is None:
            report = knowledge.refresh(core, progress=_progress(out), cancel=cancel,
                                       business_id=args.business)
        else:
            report = knowledge.add_paths(core, paths, progress=_progress(out), cancel=cancel,
                                         business_id=args.business)
    except KeyboardInterrupt:
        cancel.set()
        raise
    finally:
        core.close()

    def human() -> None:
        if report.set_aside:
            out.text(f"The knowledge index could not be opened: set it aside as "
                     f"{report.set_aside} and rebuilt it from your documents.")
        out.text(f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
                 f"{report.removed} removed, {report.chunks:,} chunks embedded in "
                 f"{report.seconds:.1f} s")
        for path, reason in report.failed:
            out.text(f"  failed: {path}: {reason}")

    out.result({"ok": not report.failed, **_report_json(report)}, human)
    return 1 if report.failed else 0


def _report_json(report: Any) -> dict[str, Any]:
    return {
        "business_id": report.business_id,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "chunks": report.chunks,
        "seconds": round(report.seconds, 2),
        "failed": [{"path": p, "reason": r} for p, r in report.failed],
        "set_aside": report.set_aside,
    }


def cmd_add(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services.knowledge import sample_kit_dir

    paths = list(args.paths) + ([sample_kit_dir()] if args.sample else [])
    if not paths:
        raise KnownError("Nothing to add.", "Give files or folders, or --sample for the "
                         "sample restaurant kit.")
    return _index(args, data_dir, out, paths)


def cmd_refresh(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    return _index(args, data_dir, out, None)


def cmd_search(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services import knowledge

    core = open_core(data_dir, args)
    try:
        hits = knowledge.search(core, args.query, args.k, min_score=args.min_score,
                                business_id=args.business)
    finally:
        core.close()

    def human() -> None:
        if not hits:
            out.text("no matching snippets (add documents with 'replydesk kb add PATH')")
        for h in hits:
            out.text(f"{h.score:.3f}  [{h.chunk_id}] {h.source}")
            for line in h.text.splitlines():
                out.text(f"        {line}")

    out.result({"query": args.query, "results": hits}, human)
    return 0


def cmd_list(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services import knowledge

    core = open_core(data_dir, args)
    try:
        docs = knowledge.list_docs(core, args.business)
    finally:
        core.close()

    def human() -> None:
        if not docs:
            out.text("no documents (add some with 'replydesk kb add PATH', or --sample)")
        for d in docs:
            label = " (sample)" if d.sample else ""
            note = f"  {d.error}" if d.error else ""
            out.text(f"{d.id:>5}  {d.status:<8} {d.chunk_count:>5} chunks  {d.path}{label}{note}")

    out.result({"documents": docs}, human)
    return 0


def cmd_remove(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services import knowledge

    core = open_core(data_dir, args)
    try:
        removed = knowledge.remove(core, args.paths, args.business)
    finally:
        core.close()

    def human() -> None:
        for d in removed:
            out.text(f"removed {d.path} ({d.chunk_count} chunks)")

    out.result({"removed": removed}, human)
    return 0
