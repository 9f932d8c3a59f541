"""LoRA preference training on the CPU: pairs per minute, seconds per step and peak memory.

Each method (plain DPO and the support-constrained one) runs in a fresh process, from the GGUF
the app drafts with, on real pairs bootstrapped from ../shared/data (the drafting prompt is
~340 tokens and a reply ~110, so a pair is two sequences of ~450 tokens).  The steady-state rate
leaves out the first step (allocation, warm-up); peak RSS includes loading and dequantising the
GGUF.

Anchors: DESIGN §3 measured "~1.5 s per step of 2 pairs" (80 pairs/min) with TRL DPO + LoRA r=8
here — on pairs much shorter than the drafting prompt, so the ratio is expected to be well
below 1; the memory target is the issue's 4 GB for the 135M model.

Usage: .venv/bin/python benchmarks/bench_training.py [--steps 5] [--methods dpo,support]
       [--batch-size 1] [--grad-accum 2] [--threads 2]

The defaults are the trainer's own (one pair per forward pass, two per optimiser step); a step
consumes batch size × gradient accumulation pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see app/cli/alignment.py
os.environ.setdefault("TQDM_DISABLE", "1")

from _common import DEFAULT_MODEL, SHARED_RECORDS, report

ANCHOR_PAIRS_PER_MIN = 80.0  # DESIGN §3: 1.5 s per step of 2 pairs
BUDGET_MB = 4096.0


def worker(method: str, steps: int, batch: int, accum: int, threads: int, out: Path) -> None:
    """Train ``steps`` steps in this process and write the figures to ``out``."""
    from app.alignment import curriculum
    from app.alignment.pairs import read_pairs
    from app.alignment.trainer import Progress, TrainConfig, train
    from app.services.alignment import BootstrapRequest, bootstrap_pairs

    with tempfile.TemporaryDirectory() as tmp:
        pairs = Path(tmp) / "pairs.jsonl"
        bootstrap_pairs(None, BootstrapRequest(output=pairs, source=SHARED_RECORDS,
                                               business_type="hotel", limit=400))
        rows = curriculum.order(read_pairs(pairs), "shuffle", seed=0)[: steps * batch * accum]
        stamps: list[float] = []

        def progress(p: Progress) -> None:
            stamps.append(time.monotonic())

        config = TrainConfig(method=method, max_steps=steps, batch_size=batch,
                             grad_accum=accum, save_steps=10_000, threads=threads)
        started = time.monotonic()
        outcome = train(rows, DEFAULT_MODEL, Path(tmp) / "run", config, architecture="llama",
                        on_progress=progress, resume=False)
        total = time.monotonic() - started
    steady = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else float("nan")
    tokens = [len(r["prompt"][0]["content"]) + len(r["prompt"][1]["content"]) for r in rows]
    out.write_text(json.dumps({
        "s_per_step": steady,
        "pairs_per_min": 60 * batch * accum / steady,
        "first_step_s": outcome.train_seconds - steady * (len(stamps) - 1),
        "wall_s_incl_load": total,
        "peak_rss_mb": outcome.peak_rss_mb,
        "start_rss_mb": outcome.start_rss_mb,
        "prompt_chars_mean": sum(tokens) / len(tokens),
    }))


def _defaults() -> Any:  # the trainer's TrainConfig, imported where it is used
    from app.alignment.trainer import TrainConfig

    return TrainConfig()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--methods", default="dpo,support")
    defaults = _defaults()
    ap.add_argument("--batch-size", type=int, default=defaults.batch_size)
    ap.add_argument("--grad-accum", type=int, default=defaults.grad_accum)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.steps, args.batch_size, args.grad_accum, args.threads, args.out)
        return
    per_step = args.batch_size * args.grad_accum
    rows = []
    details = {}
    for method in args.methods.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "figures.json"
            subprocess.run([sys.executable, "-u", __file__, "--worker", method, "--steps",
                            str(args.steps), "--batch-size", str(args.batch_size),
                            "--grad-accum", str(args.grad_accum),
                            "--threads", str(args.threads), "--out", str(out)], check=True)
            fig = json.loads(out.read_text())
        details[method] = fig
        rows += [
            {"figure": f"{method}: pairs/min (steady)", "value": fig["pairs_per_min"],
             "anchor": ANCHOR_PAIRS_PER_MIN, "ratio": fig["pairs_per_min"] / ANCHOR_PAIRS_PER_MIN,
             "target": "info"},
            {"figure": f"{method}: s/step ({per_step} pairs)", "value": fig["s_per_step"],
             "anchor": 1.5 * per_step / 2, "ratio": fig["s_per_step"] / (1.5 * per_step / 2),
             "target": "info"},
            {"figure": f"{method}: peak RSS MB", "value": fig["peak_rss_mb"], "anchor": BUDGET_MB,
             "ratio": fig["peak_rss_mb"] / BUDGET_MB, "target": "<= 4096 MB"},
        ]
    report("training (LoRA r=8, CPU)", rows, {"details": details, "steps": args.steps,
                                              "batch_size": args.batch_size,
                                              "grad_accum": args.grad_accum,
                                              "threads": args.threads})


if __name__ == "__main__":
    main()
