"""``import``, ``reviews`` and ``profile``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.commands import open_core
from app.cli.main import Output


def register(sub: Any) -> None:
    p = sub.add_parser("import", help="import reviews from a CSV, TSV, JSON, JSONL or Google "
                       "Business Profile file")
    p.add_argument("file", type=Path)
    p.add_argument("--format", default="auto",
                   choices=["auto", "csv", "tsv", "json", "jsonl", "gbp"])
    p.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                   help="use COLUMN of the file as FIELD (text, rating, title, author, date, "
                   "reply, id, platform, business, location); repeatable")
    p.add_argument("--platform", help="platform of rows that do not name one (google, yelp, ...)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("reviews", help="list reviews, unanswered first")
    p.add_argument("--status", choices=["new", "drafted", "approved", "posted", "skipped"])
    p.add_argument("--rating", type=int, choices=range(1, 6))
    p.add_argument("--search", help="only reviews whose title or text contains this")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_reviews)

    p = sub.add_parser("profile", help="show or edit the business profile used in prompts")
    p.add_argument("--business", type=int, help="business id (default: the current one)")
    p.add_argument("--name")
    p.add_argument("--type", dest="btype", help="restaurant, hotel, shop, clinic, ...")
    p.add_argument("--voice", help="tone notes, e.g. 'warm, brief, no emojis'")
    p.add_argument("--sign-off")
    p.add_argument("--language", action="append", dest="languages", metavar="CODE",
                   help="reply language (repeatable; replaces the list)")
    p.add_argument("--fact", action="append", dest="facts", metavar="TEXT",
                   help="a true fact about the business (repeatable; replaces the list)")
    p.add_argument("--clear-facts", action="store_true")
    p.add_argument("--list", action="store_true", help="list all businesses")
    p.set_defaults(func=cmd_profile)


def cmd_import(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services.importing import import_reviews
    from app.store.importers import parse_mapping

    mapping = parse_mapping(args.map) if args.map else None
    core = open_core(data_dir, args)
    try:
        def progress(rows: int) -> None:
            if not out.as_json and sys.stderr.isatty():
                print(f"\r{rows:,} rows read", end="", file=sys.stderr, flush=True)

        report = import_reviews(core, args.file, fmt=args.format, mapping=mapping,
                                platform=args.platform, progress=progress)
    finally:
        core.close()

    def human() -> None:
        out.text(f"{args.file}: {report.imported:,} imported, {report.duplicates:,} already "
                 f"there, {len(report.errors):,} rejected ({report.format})")
        for err in report.errors[:50]:
            out.text(f"  line {err.line}: {err.reason}")
        if len(report.errors) > 50:
            out.text(f"  ... and {len(report.errors) - 50:,} more (use --json for all)")

    out.result(
        {
            "ok": not report.errors,
            "file": report.path,
            "format": report.format,
            "imported": report.imported,
            "duplicates": report.duplicates,
            "rejected": len(report.errors),
            "errors": [{"line": e.line, "reason": e.reason} for e in report.errors],
        },
        human,
    )
    return 1 if report.errors else 0


def cmd_reviews(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.store import repo

    core = open_core(data_dir, args)
    try:
        with core.db.session() as session:
            rows = repo.list_reviews(session, status=args.status, rating=args.rating,
                                     search=args.search, limit=args.limit)
            counts = repo.status_counts(session)
    finally:
        core.close()

    def human() -> None:
        out.text("  ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())) or "no reviews")
        for r in rows:
            when = r.created_at.date().isoformat() if r.created_at else "          "
            snippet = " ".join(r.text.split())[:70]
            out.text(f"{r.id:>6}  {'★' * r.rating:<5}  {r.status:<8} {when}  {snippet}")

    out.result({"counts": counts, "reviews": rows}, human)
    return 0


def cmd_profile(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services import profile

    core = open_core(data_dir, args)
    try:
        if args.list:
            items = profile.businesses(core)
            out.result({"businesses": items}, lambda: [
                out.text(f"{b.id:>4}  {b.name} ({b.type})") for b in items])
            return 0
        changes: dict[str, Any] = {}
        for field, value in (("name", args.name), ("type", args.btype), ("voice", args.voice),
                             ("sign_off", args.sign_off), ("languages", args.languages),
                             ("facts", args.facts)):
            if value is not None:
                changes[field] = value
        if args.clear_facts:
            changes["facts"] = []
        p = (profile.update(core, args.business, **changes) if changes
             else profile.current(core, args.business))
    finally:
        core.close()

    def human() -> None:
        out.text(f"{p.name} ({p.type}), id {p.id}")
        out.text(f"voice: {p.voice or '-'}")
        out.text(f"sign-off: {p.sign_off or '-'}")
        out.text(f"languages: {', '.join(p.languages) or '-'}")
        for fact in p.facts:
            out.text(f"  - {fact}")

    out.result(p, human)
    return 0
