"""``pairs bootstrap | show``, ``train`` and ``eval``: the alignment loop (DESIGN §6b).

Switching drafting to a trained adapter is ``replydesk models use --adapter NAME``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.cli.commands import open_core
from app.cli.main import Output
from app.core.errors import Cancelled, InputFileError, KnownError

_KINDS = ("stock", "other_review", "no_context")


def register(sub: Any) -> None:
    p = sub.add_parser("pairs", help="bootstrap or inspect preference pairs")
    psub = p.add_subparsers(dest="pairs_command", metavar="ACTION", required=True)
    b = psub.add_parser("bootstrap", help="build preference pairs from past review replies")
    b.add_argument("file", nargs="?", type=Path, help="review export with the replies "
                   "(CSV, TSV, JSON, JSONL, Google Business Profile)")
    b.add_argument("--from-db", action="store_true",
                   help="use the imported reviews that carry your published reply")
    b.add_argument("-o", "--output", type=Path, required=True, help="pairs file to write (JSONL)")
    b.add_argument("--format", default="auto",
                   choices=["auto", "csv", "tsv", "json", "jsonl", "gbp"])
    b.add_argument("--platform", help="platform of rows that do not name one")
    b.add_argument("--business-type", default="business",
                   help="what the businesses are, for the prompt (hotel, restaurant, ...)")
    b.add_argument("--kinds", default="stock,other_review",
                   help=f"rejected candidates, comma-separated from: {', '.join(_KINDS)}")
    b.add_argument("--drafts", type=int, default=0,
                   help="with no_context: at most this many drafts by the local model")
    b.add_argument("--stock-min-count", type=int, default=3,
                   help="a reply recurring this often is a stock reply (never chosen)")
    b.add_argument("--min-margin", type=float, default=0.05)
    b.add_argument("--min-chosen-score", type=float, default=0.5)
    b.add_argument("--exclude-business", action="append", default=[], metavar="NAME",
                   help="leave this business out (e.g. held out for eval); repeatable")
    b.add_argument("--only-business", action="append", default=[], metavar="NAME")
    b.add_argument("--limit", type=int, help="use only the first N records")
    b.add_argument("--seed", type=int, default=0)
    b.set_defaults(func=cmd_bootstrap)

    s = psub.add_parser("show", help="show pairs with their rubric scores")
    s.add_argument("file", type=Path)
    s.add_argument("--limit", type=int, default=5)
    s.add_argument("--kind", choices=_KINDS)
    s.add_argument("--sort", choices=["file", "easy", "hard"], default="file",
                   help="easy: largest rubric margin first; hard: smallest first")
    s.set_defaults(func=cmd_show)

    t = sub.add_parser("train", help="train a LoRA adapter on preference pairs (CPU)")
    t.add_argument("--pairs", type=Path, nargs="+", required=True,
                   help="bootstrapped pairs and/or feedback exports (conversational JSONL)")
    t.add_argument("--method", choices=["dpo", "support"], default="support")
    t.add_argument("--curriculum", choices=["margin", "none", "shuffle"], default="margin",
                   help="margin: easy pairs (large rubric margin) first")
    t.add_argument("--limit", type=int, help="train on the first N pairs (after ordering)")
    t.add_argument("--epochs", type=float)
    t.add_argument("--max-steps", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--grad-accum", type=int)
    t.add_argument("--lr", type=float, dest="learning_rate")
    t.add_argument("--beta", type=float, help="DPO: strength of the pull to the reference")
    t.add_argument("--support-beta", type=float)
    t.add_argument("--support-gamma", type=float)
    t.add_argument("--support-lambda", type=float, help="support: weight of the penalty")
    t.add_argument("--support-quantile", type=float,
                   help="support: share of human reply tokens inside the support")
    t.add_argument("--lora-r", type=int)
    t.add_argument("--lora-alpha", type=int)
    t.add_argument("--max-length", type=int)
    t.add_argument("--save-steps", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--threads", type=int)
    t.add_argument("--name", help="adapter name (default: method, date and run id)")
    t.add_argument("--hf-model", type=Path,
                   help="train from this Hugging Face model folder instead of the GGUF in use")
    t.add_argument("--no-resume", action="store_true", help="start over, ignoring checkpoints")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate base and adapters on held-out businesses")
    e.add_argument("--records", type=Path, required=True)
    e.add_argument("--holdout-businesses", nargs="+", required=True, metavar="NAME",
                   help="businesses whose every review is held out")
    e.add_argument("--adapter", action="append", default=[], metavar="NAME",
                   help="adapter to evaluate (repeatable; default: all for the model in use)")
    e.add_argument("--reviews", type=int, default=30, help="held-out reviews to draft for")
    e.add_argument("--pairs", type=int, default=60, help="held-out pairs to score")
    e.add_argument("--max-tokens", type=int, default=200)
    e.add_argument("--business-type", default="business")
    e.add_argument("--platform")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("-o", "--output", type=Path, default=Path("eval-report"))
    e.set_defaults(func=cmd_eval)


def _stderr_progress(out: Output) -> Any:
    def progress(stage: str, done: int, total: int) -> None:
        if not out.as_json and sys.stderr.isatty():
            print(f"\r{stage}: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)
            if done >= total:
                print(file=sys.stderr)
    return progress


def cmd_bootstrap(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    from app.services.alignment import BootstrapRequest, bootstrap_pairs

    if (args.file is None) == (not args.from_db):
        raise KnownError("Give a records file or --from-db (one of them).")
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    if bad := [k for k in kinds if k not in _KINDS]:
        raise KnownError(f"Unknown candidate kind {bad[0]!r}.", f"Use: {', '.join(_KINDS)}.")
    request = BootstrapRequest(
        output=args.output, source=args.file, fmt=args.format, platform=args.platform,
        business_type=args.business_type, stock_min_count=args.stock_min_count, kinds=kinds,
        drafts=args.drafts, min_margin=args.min_margin, min_chosen_score=args.min_chosen_score,
        exclude_businesses=tuple(args.exclude_business),
        only_businesses=tuple(args.only_business), limit=args.limit, seed=args.seed)
    needs_core = args.from_db or ("no_context" in kinds and args.drafts > 0)
    core = open_core(data_dir, args) if needs_core else None
    cancel = threading.Event()
    try:
        report = bootstrap_pairs(core, request, cancel, _stderr_progress(out))
    except KeyboardInterrupt:
        cancel.set()
        raise
    finally:
        if core is not None:
            core.close()

    def human() -> None:
        st = report.stats
        out.text(f"{report.pairs:,} pairs written to {report.output}")
        out.text(f"  {st.records:,} records; {st.stock_replies:,} stock reply texts; "
                 f"{st.skipped_stock:,} records skipped because their reply is stock (never "
                 f"chosen); {st.skipped_low_score:,} below the minimum rubric score; "
                 f"{st.dropped_low_margin:,} candidates dropped for a small margin")
        out.text("  by rejected kind: " + ", ".join(f"{k} {v:,}" for k, v in st.by_kind.items()))
        if report.margin_mean is not None:
            out.text(f"  mean rubric margin {report.margin_mean:.3f}; inspect with "
                     f"'replydesk pairs show {report.output}'")

    out.result(asdict(report), human)
    return 0


def _load_rows(path: Path) -> list[dict[str, Any]]:
    from app.alignment.pairs import read_pairs

    return read_pairs(path)


def cmd_show(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    rows = _load_rows(args.file)
    if args.kind:
        rows = [r for r in rows if (r.get("metadata") or {}).get("rejected_kind") == args.kind]
    if args.sort != "file":
        sign = -1 if args.sort == "easy" else 1
        rows.sort(key=lambda r: sign * float((r.get("metadata") or {}).get("margin") or 0))
    rows = rows[: args.limit]

    def human() -> None:
        for r in rows:
            meta = r.get("metadata") or {}
            rubric = meta.get("rubric") or {}
            out.text(f"== review {meta.get('review_id')} ({meta.get('business')}, "
                     f"{meta.get('rating')}★) — rejected: {meta.get('rejected_kind')}, "
                     f"margin {meta.get('margin')}")
            for side in ("chosen", "rejected"):
                scores = rubric.get(side) or {}
                elements = ", ".join(f"{k} {v}" for k, v in scores.items()
                                     if k not in ("total", "unsupported_claims") and v is not None)
                out.text(f"  {side} {scores.get('total')}: {elements}")
                text = " ".join(r[side][0]["content"].split())
                out.text(f"    {text[:300]}{'...' if len(text) > 300 else ''}")

    out.result({"file": str(args.file), "pairs": rows}, human)
    return 0


def _fmt_time(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _quiet_torch() -> None:
    """No progress bars; OpenMP threads that sleep instead of spinning while they wait.

    On a shared CPU a spinning OpenMP team turns every small op into a scheduler wait: measured
    here, a 2-thread training step ran 2.6x slower with the default (active) wait policy.  Only
    effective before torch is first imported, which these commands do lazily.
    """
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def cmd_train(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    _quiet_torch()
    from app.alignment.trainer import Progress, TrainConfig
    from app.services.alignment import (
        TrainFinished,
        TrainRequest,
        TrainStarted,
        replace_config,
        train,
    )

    for path in args.pairs:
        if not path.is_file():
            raise InputFileError(f"Pairs file not found: {path}.", path=path)
    config = replace_config(
        TrainConfig(method=args.method), epochs=args.epochs, max_steps=args.max_steps,
        batch_size=args.batch_size, grad_accum=args.grad_accum,
        learning_rate=args.learning_rate, beta=args.beta, support_beta=args.support_beta,
        support_gamma=args.support_gamma, support_lambda=args.support_lambda,
        support_quantile=args.support_quantile, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
        max_length=args.max_length, save_steps=args.save_steps, seed=args.seed,
        threads=args.threads)
    request = TrainRequest(pairs=tuple(args.pairs), config=config, curriculum=args.curriculum,
                           limit=args.limit, name=args.name, hf_model=args.hf_model,
                           resume=not args.no_resume)
    core = open_core(data_dir, args)
    cancel = threading.Event()
    finished: TrainFinished | None = None
    try:
        for event in train(core, request, cancel):
            if isinstance(event, TrainStarted):
                out.text(f"training {args.method} on {event.pairs:,} pairs from {event.model}"
                         f"{' (resuming)' if event.resumable else ''}; Ctrl-C saves a "
                         "checkpoint, the same command resumes")
            elif isinstance(event, Progress):
                acc = event.metrics.get("rewards/accuracies")
                out.text(f"step {event.step}/{event.total}  loss {event.loss or 0:.4f}"
                         f"{f'  acc {acc:.2f}' if acc is not None else ''}  "
                         f"{event.pairs_per_min:.1f} pairs/min  ETA {_fmt_time(event.eta_s)}")
            else:
                finished = event
    except (KeyboardInterrupt, Cancelled):
        cancel.set()
        print("replydesk: training stopped; a checkpoint was saved, run the same command "
              "to resume", file=sys.stderr)
        return 130
    finally:
        core.close()
    assert finished is not None
    report = finished.report
    adapter = finished.adapter

    def human() -> None:
        m = report["metrics"]
        out.text(f"adapter {adapter['name']} written to {adapter['path']} "
                 f"({adapter['size'] / 2**20:.1f} MB, sha256 {adapter['sha256'][:12]})")
        out.text(f"  {m['steps']} steps in {_fmt_time(m['train_seconds'])}, "
                 f"{m['pairs_per_min']:.1f} pairs/min, peak memory {m['peak_rss_mb']:.0f} MB")
        out.text(f"draft with it: replydesk models use --adapter {json.dumps(adapter['name'])}")

    out.result({"adapter": adapter, "report": report}, human)
    return 0


def cmd_eval(args: argparse.Namespace, data_dir: Path, out: Output) -> int:
    _quiet_torch()
    from app.services.alignment import EvalRequest, evaluate

    if not args.records.is_file():
        raise InputFileError(f"Records file not found: {args.records}.", path=args.records)
    request = EvalRequest(records=args.records, holdout=tuple(args.holdout_businesses),
                          output_dir=args.output, adapters=tuple(args.adapter),
                          reviews=args.reviews, pairs=args.pairs, max_tokens=args.max_tokens,
                          platform=args.platform, business_type=args.business_type,
                          seed=args.seed)
    core = open_core(data_dir, args)
    cancel = threading.Event()
    try:
        report = evaluate(core, request, cancel, _stderr_progress(out))
    except KeyboardInterrupt:
        cancel.set()
        raise
    finally:
        core.close()

    def human() -> None:
        from app.alignment.evaluation import markdown

        out.text(markdown(report))
        out.text(f"written: {', '.join(report['files'].values())}")

    out.result(report, human)
    return 0
