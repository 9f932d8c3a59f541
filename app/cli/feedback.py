"""``export``, ``import-feedback`` and ``feedback stats``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.cli.commands import open_core
from app.cli.main import Output


def _date(value: str) -> datetime:
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _count(value: str) -> int:
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return n


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export", help="export preference data for training (TRL JSONL, datasets folder, CSV)",
        description="Export the pairs and KTO rows built from your decisions. The file is "
        "replaced only once the new one is complete.")
    p.add_argument("--format", required=True, choices=["dpo", "kto", "hf", "csv"],
                   help="dpo: TRL preference JSONL; kto: TRL unpaired preference JSONL; "
                   "hf: a datasets folder with both; csv: for reading")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="PATH")
    p.add_argument("--redact", action="store_true",
                   help="replace reviewer names, e-mail addresses and phone numbers")
    p.add_argument("--since", type=_date, metavar="DATE",
                   help="only decisions made on or after DATE (UTC)")
    p.add_argument("--min-edit", type=_count, metavar="N",
                   help="leave out pairs (and 'bad draft' rows) whose edit changed fewer than "
                   "N characters")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import-feedback",
                       help="read an exported DPO or KTO JSONL file back (no duplicates)")
    p.add_argument("file", type=Path)
    p.set_defaults(func=cmd_import_feedback)

    p = sub.add_parser("feedback", help="about the preference data collected so far")
    feedback_sub = p.add_subparsers(dest="feedback_command", metavar="COMMAND", required=True)
    s = feedback_sub.add_parser("stats", help="decisions per kind, pairs, edit distance, "
                                "per model and adapter")
    s.set_defaults(func=cmd_stats)


def cmd_export(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services.feedback import export

    core = open_core(data_dir, args)
    try:
        report = export(core, args.format, args.output, redact=args.redact, since=args.since,
                        min_edit=args.min_edit)
    finally:
        core.close()

    def human() -> None:
        parts = []
        if args.format in ("dpo", "hf", "csv"):
            parts.append(f"{report.pairs:,} pairs")
        if args.format in ("kto", "hf", "csv"):
            parts.append(f"{report.kto:,} KTO rows ({report.desirable:,} good, "
                         f"{report.undesirable:,} bad)")
        out.text(f"{report.path}: {', '.join(parts)}"
                 + (" (redacted)" if report.redacted else ""))

    out.result({"ok": True, **vars(report)}, human)
    return 0


def cmd_import_feedback(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services.feedback import import_feedback

    core = open_core(data_dir, args)
    try:
        report = import_feedback(core, args.file)
    finally:
        core.close()

    def human() -> None:
        out.text(f"{args.file}: {report.pairs:,} pairs and {report.kto:,} KTO rows imported, "
                 f"{report.duplicates:,} already there, {len(report.errors):,} rejected")
        for err in report.errors[:50]:
            out.text(f"  line {err.line}: {err.reason}")

    out.result({
        "ok": not report.errors,
        "file": report.path,
        "pairs": report.pairs,
        "kto": report.kto,
        "duplicates": report.duplicates,
        "rejected": len(report.errors),
        "errors": [{"line": e.line, "reason": e.reason} for e in report.errors],
    }, human)
    return 1 if report.errors else 0


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def cmd_stats(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services.feedback import stats

    core = open_core(data_dir, args)
    try:
        s = stats(core)
    finally:
        core.close()

    def human() -> None:
        out.text(f"decisions: {s.total_events:,}  "
                 + "  ".join(f"{k}: {v:,}" for k, v in s.events.items()))
        out.text(f"pairs: {s.pairs:,}  KTO rows: {s.kto:,} ({s.desirable:,} good, "
                 f"{s.undesirable:,} bad)  imported: {s.imported_pairs:,} pairs, "
                 f"{s.imported_kto:,} KTO rows")
        out.text(f"mean edit distance of approved drafts: {_num(s.mean_edit_distance)} "
                 f"characters, {_num(s.mean_token_edit_distance)} tokens; median time to "
                 f"decide: {_num(s.median_decision_s, ' s')}")
        for m in s.per_model:
            rate = "-" if m.accepted_unchanged_rate is None else \
                f"{m.accepted_unchanged_rate:.0%}"
            out.text(f"  {m.model_name}{' + ' + m.adapter if m.adapter else ''}: "
                     + ", ".join(f"{k} {v}" for k, v in m.events.items())
                     + f"; accepted unchanged {rate}; mean edit {_num(m.mean_edit_distance)}")

    out.result(s, human)
    return 0
