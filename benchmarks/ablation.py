"""Ablation: base model vs plain DPO vs the support-constrained method, whole hotels held out.

1. Bootstrap pairs from ../shared/data with the held-out hotels excluded (the training pool).
2. Draw ``--train-pairs`` pairs from the pool at random (seeded) and order them easy-first by
   rubric margin (the curriculum); both methods train on exactly these pairs, with the same
   steps, learning rate, LoRA shape and seed.
3. ``replydesk eval`` on the held-out hotels: both adapters and the base model draft replies for
   the same held-out reviews (greedy), and held-out pairs are scored for preference accuracy.

Everything goes into a throw-away data folder; the report (JSON, Markdown, PNG) is written to
``--out`` and the Markdown is printed with the time each phase took.

Usage: .venv/bin/python benchmarks/ablation.py [--train-pairs 48] [--reviews 12]
       [--eval-pairs 24] [--lr 5e-4] [--max-length 512] [--out docs/ablation] [--parallel]

``--parallel`` trains the two methods at the same time in two processes of one thread each
(same pairs, settings and seed), which on a small model uses two cores better than one process
with two threads; evaluation then runs as usual.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see app/cli/alignment.py
os.environ.setdefault("TQDM_DISABLE", "1")

from _common import ROOT, SHARED_RECORDS, machine

HOLDOUT = ("Hotel Combermere Shimla", "Hotel O2 Oxygen", "West End Hotel", "Fort Chandragupt",
           "Hotel Surya")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train-pairs", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--reviews", type=int, default=12)
    ap.add_argument("--eval-pairs", type=int, default=24)
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--holdout", nargs="+", default=list(HOLDOUT))
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "ablation")
    ap.add_argument("--parallel", action="store_true",
                    help="train both methods at once, one thread each")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--train-file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--worker-data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    from app.alignment import curriculum
    from app.alignment.pairs import read_pairs, write_jsonl
    from app.core import settings
    from app.services import alignment
    from app.services.core import ReplyDesk

    phases: dict[str, float] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        settings.update(data, threads=args.threads)
        pool_file = Path(tmp) / "pool.jsonl"
        t = time.monotonic()
        boot = alignment.bootstrap_pairs(None, alignment.BootstrapRequest(
            output=pool_file, source=SHARED_RECORDS, business_type="hotel",
            exclude_businesses=tuple(args.holdout), seed=args.seed))
        pool = read_pairs(pool_file)
        rng = random.Random(args.seed)
        subset = curriculum.order(rng.sample(pool, min(args.train_pairs, len(pool))), "margin")
        train_file = Path(tmp) / "train.jsonl"
        write_jsonl(train_file, subset)
        phases["bootstrap"] = time.monotonic() - t
        print(f"pool: {len(pool)} pairs from {boot.stats.records} records; training on "
              f"{len(subset)}", flush=True)

        core = ReplyDesk(data)
        trained = {}
        try:
            if args.parallel:
                t = time.monotonic()
                for method, (adapter, report) in train_in_parallel(args, train_file,
                                                                    Path(tmp)).items():
                    core.registry.add(adapter, name=method, kind="adapter",
                                      base=alignment.chat_model(core).sha256, report=report)
                    trained[method] = report
                phases["train dpo + support (parallel)"] = time.monotonic() - t
            for method in () if args.parallel else ("dpo", "support"):
                t = time.monotonic()
                trained[method] = train_method(core, method, train_file, args)
                phases[f"train {method}"] = time.monotonic() - t
            t = time.monotonic()
            alignment.evaluate(core, alignment.EvalRequest(
                records=SHARED_RECORDS, holdout=tuple(args.holdout), output_dir=args.out,
                adapters=("dpo", "support"), reviews=args.reviews, pairs=args.eval_pairs,
                max_tokens=args.max_tokens, business_type="hotel", seed=args.seed,
                title="ablation: base vs DPO vs support constraint"))
            phases["evaluate"] = time.monotonic() - t
        finally:
            core.close()
    phases["total"] = time.monotonic() - started
    summary = {
        "machine": machine(),
        "train_pool_pairs": len(pool),
        "train_pairs": len(subset),
        "train_kinds": {k: sum(1 for r in subset if r["metadata"]["rejected_kind"] == k)
                        for k in ("stock", "other_review")},
        "holdout": list(args.holdout),
        "settings": vars(args) | {"out": str(args.out)},
        "phases_s": {k: round(v, 1) for k, v in phases.items()},
        "training": {m: {"metrics": r["metrics"], "hyperparameters": r["hyperparameters"],
                         "density": r["density"]} for m, r in trained.items()},
    }
    (args.out / "ablation.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print((args.out / "report.md").read_text(encoding="utf-8"))
    print("phases (s): " + ", ".join(f"{k} {v:.0f}" for k, v in phases.items()))
    for m, r in trained.items():
        print(f"{m}: {r['metrics']['pairs_per_min']:.2f} pairs/min, peak "
              f"{r['metrics']['peak_rss_mb']:.0f} MB, final loss {r['metrics'].get('loss')}")
    print(f"report: {args.out}/report.md, report.png, report.json, ablation.json")


def train_method(core: Any, method: str, train_file: Path, args: argparse.Namespace
                 ) -> dict[str, Any]:
    from app.alignment.trainer import TrainConfig
    from app.services import alignment

    config = TrainConfig(method=method, epochs=1, batch_size=args.batch_size,
                         learning_rate=args.lr, seed=args.seed, max_length=args.max_length,
                         save_steps=10_000, threads=args.threads)
    request = alignment.TrainRequest(pairs=(train_file,), config=config, curriculum="none",
                                     name=method)
    report: dict[str, Any] = {}
    for event in alignment.train(core, request):
        if hasattr(event, "step"):
            print(f"{method} step {event.step}/{event.total} loss {event.loss or 0:.4f} "
                  f"ETA {event.eta_s:.0f} s", flush=True)
        elif isinstance(event, alignment.TrainFinished):
            report = event.report
    return report


def worker(args: argparse.Namespace) -> None:
    """One method in its own process and data folder; prints ``RESULT {...}`` at the end."""
    from app.core import settings
    from app.services.core import ReplyDesk

    settings.update(args.worker_data, threads=args.threads)
    core = ReplyDesk(args.worker_data)
    try:
        report = train_method(core, args.worker, args.train_file, args)
        adapter = core.registry.find(args.worker, "adapter").path(core.registry.root)
    finally:
        core.close()
    print("RESULT " + json.dumps({"adapter": str(adapter), "report": report}), flush=True)


def train_in_parallel(args: argparse.Namespace, train_file: Path, tmp: Path
                      ) -> dict[str, tuple[Path, dict[str, Any]]]:
    procs = {}
    for method in ("dpo", "support"):
        cmd = [sys.executable, "-u", __file__, "--worker", method, "--train-file",
               str(train_file), "--worker-data", str(tmp / f"data-{method}"), "--threads", "1",
               "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--max-length",
               str(args.max_length), "--seed", str(args.seed)]
        procs[method] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True)
    results: dict[str, tuple[Path, dict[str, Any]]] = {}

    def read(method: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("RESULT "):
                got = json.loads(line[7:])
                results[method] = (Path(got["adapter"]), got["report"])
            elif " step " in line or "Error" in line:
                print(line.rstrip(), flush=True)

    readers = [threading.Thread(target=read, args=item) for item in procs.items()]
    for r in readers:
        r.start()
    for r in readers:
        r.join()
    failed = [m for m, proc in procs.items() if proc.wait() != 0 or m not in results]
    if failed:
        raise SystemExit(f"training failed for: {', '.join(failed)}")
    return results


if __name__ == "__main__":
    main()
