"""``draft`` and ``decide``."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Any

from app.cli.commands import open_core
from app.cli.main import Output
from app.core.errors import InputFileError, KnownError
from app.core.types import DraftDTO


def register(sub: Any) -> None:
    p = sub.add_parser("draft", help="draft a reply with the local model")
    p.add_argument("review_id", nargs="?", type=int)
    p.add_argument("--text", help="draft for this review text instead of a stored review")
    p.add_argument("--rating", type=int, help="star rating for --text (1-5)")
    p.add_argument("--title")
    p.add_argument("--platform")
    p.add_argument("--variants", type=int, default=1, choices=[1, 2, 3])
    p.add_argument("--seed", type=int)
    p.add_argument("--temperature", type=float)
    p.add_argument("--model", help="registered chat model to use for this draft")
    p.add_argument("--adapter", help="registered LoRA adapter to use ('none' for the base)")
    p.set_defaults(func=cmd_draft)

    p = sub.add_parser("decide", help="accept, edit, reject or skip the draft for a review")
    p.add_argument("review_id", type=int)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--accept", action="store_true", help="approve the draft unchanged")
    g.add_argument("--edit-file", type=Path, metavar="FILE", help="approve the text in FILE")
    g.add_argument("--edit-text", metavar="TEXT", help="approve this text")
    g.add_argument("--reject", action="store_true", help="reject the draft")
    g.add_argument("--skip", action="store_true", help="do not reply to this review")
    g.add_argument("--choose", type=int, metavar="DRAFT_ID", help="pick this variant")
    p.add_argument("--draft", type=int, metavar="DRAFT_ID",
                   help="the draft decided on (default: the latest)")
    p.set_defaults(func=cmd_decide)


def draft_json(d: DraftDTO) -> dict[str, Any]:
    return {
        "draft_id": d.id,
        "review_id": d.review_id,
        "text": d.text,
        "model": {"name": d.model_name, "sha256": d.model_sha256, "adapter": d.adapter},
        "sampling": d.sampling,
        "timings": d.timings,
        "sources": d.sources,
        "claims": d.claims,
        "unsupported_claims": [c for c in d.claims if not c.supported],
        "variant_group": d.variant_group,
        "stopped": d.stopped,
    }


def cmd_draft(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services.drafting import DraftRequest, TokenEvent, draft

    if args.review_id is None and args.text is None:
        raise KnownError("Give a review id, or --text with --rating.",
                         "Run 'replydesk reviews' to see the ids.")
    core = open_core(data_dir, args)
    overrides: dict[str, Any] = {}
    if args.temperature is not None:
        overrides["temperature"] = args.temperature
    if args.model:
        overrides["model"] = args.model
    if args.adapter:
        overrides["adapter"] = "" if args.adapter == "none" else args.adapter
    core.with_settings(**overrides)
    request = DraftRequest(review_id=args.review_id, text=args.text, rating=args.rating,
                           title=args.title, platform=args.platform, variants=args.variants,
                           seed=args.seed)
    cancel = threading.Event()
    drafts: list[DraftDTO] = []
    try:
        for event in draft(core, request, cancel):
            if isinstance(event, TokenEvent):
                out.partial(event.text)
            else:
                drafts.append(event)
                out.text()
                _human_footer(out, event, len(drafts), args.variants)
    except KeyboardInterrupt:
        cancel.set()
        raise
    finally:
        core.close()
    result = draft_json(drafts[0])
    if len(drafts) > 1:
        result["variants"] = [draft_json(d) for d in drafts]
    out.result(result)
    return 0


def _human_footer(out: Output, d: DraftDTO, n: int, total: int) -> None:
    t = d.timings
    label = f"variant {n} of {total}, " if total > 1 else ""
    out.text(f"--- {label}draft {d.id}: {t.get('tokens', 0)} tokens, first after "
             f"{t.get('ttft_ms', 0):.0f} ms, {t.get('tokens_per_s', 0):.0f} tokens/s "
             f"({d.model_name}{', ' + d.adapter if d.adapter else ''})")
    for c in d.claims:
        if not c.supported:
            out.text(f"    check: {c.kind} {c.text!r}: {c.reason}")
    for s in d.sources:
        out.text(f"    source [{s.chunk_id}] {s.source} ({s.score:.2f})")
    out.text()


def cmd_decide(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services.decisions import decide

    final: str | None = None
    action = "accept"
    if args.edit_file is not None:
        try:
            final = args.edit_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(f"Cannot read {args.edit_file}: {exc}.",
                                 "Save the reply as a UTF-8 text file.",
                                 path=args.edit_file) from exc
        action = "edit"
    elif args.edit_text is not None:
        final, action = args.edit_text, "edit"
    elif args.reject:
        action = "reject"
    elif args.skip:
        action = "skip"
    elif args.choose is not None:
        action = "choose"
    draft_id = args.choose if args.choose is not None else args.draft
    core = open_core(data_dir, args)
    try:
        result = decide(core, args.review_id, action, final_text=final, draft_id=draft_id)
    finally:
        core.close()
    out.result(result, lambda: out.text(
        f"review {result.review_id}: {result.event or 'skipped'}, now {result.status}"))
    return 0
