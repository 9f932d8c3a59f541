"""The alignment loop through its services and CLI, on the shared hotel records and the real
model: bootstrap -> train (cancel, resume) -> registered adapter -> draft with it -> evaluate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see test_alignment_chain

from app.alignment.pairs import read_pairs
from app.alignment.text import normalize_reply
from app.alignment.trainer import Progress, TrainConfig
from app.core.errors import Cancelled
from app.services import alignment
from app.services.core import ReplyDesk

pytestmark = pytest.mark.slow

HELD_OUT = "Hotel Marina"  # 13 reviews: small enough to draft for in a test


def cli(data_dir: Path, *args: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "app.cli.main", "--data-dir", str(data_dir),
                           "--json", *args], capture_output=True, text=True, env=env,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory: pytest.TempPathFactory, shared_records: Path) -> Path:
    out = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    report = cli(out.parent / "data", "pairs", "bootstrap", str(shared_records), "-o", str(out),
                 "--business-type", "hotel", "--exclude-business", HELD_OUT)
    assert report["pairs"] == len(read_pairs(out)) > 2000
    return out


def test_bootstrap_on_the_shared_records_stores_scores_and_never_chooses_stock(
        pairs_file: Path, shared_records: Path) -> None:
    rows = read_pairs(pairs_file)
    replies = [json.loads(line)["response_text"] for line in
               shared_records.read_text(encoding="utf-8").splitlines()]
    counts = Counter(normalize_reply(r) for r in replies)
    most_common_stock = counts.most_common(1)[0]
    assert most_common_stock[1] >= 100  # the reply pasted 113 times
    for row in rows:
        assert counts[normalize_reply(row["chosen"][0]["content"])] < 3, row["metadata"]
        meta = row["metadata"]
        assert meta["business"] != HELD_OUT
        assert meta["margin"] >= 0.05 and meta["rejected_kind"] in ("stock", "other_review")
        for side in ("chosen", "rejected"):
            assert {"total", "thanks", "acknowledgement", "invitation", "tone_fit",
                    "facts"} <= set(meta["rubric"][side])
    assert {r["metadata"]["rejected_kind"] for r in rows} == {"stock", "other_review"}
    shown = cli(pairs_file.parent / "data", "pairs", "show", str(pairs_file), "--limit", "3",
                "--sort", "easy")
    assert [p["metadata"]["margin"] for p in shown["pairs"]] == sorted(
        (p["metadata"]["margin"] for p in shown["pairs"]), reverse=True)


def test_train_cancel_resume_register_draft_and_evaluate(
        pairs_file: Path, tmp_path: Path, shared_records: Path) -> None:
    from app.services.drafting import DraftRequest, draft

    small = tmp_path / "small.jsonl"
    rows = [r for r in read_pairs(pairs_file) if len(r["prompt"][1]["content"]) < 600][:3]
    small.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    core = ReplyDesk(tmp_path / "data")
    config = TrainConfig(method="support", max_steps=3, batch_size=1, learning_rate=1e-3,
                         max_length=384, save_steps=1, calibration_replies=3)
    request = alignment.TrainRequest(pairs=(small,), config=config, name="loop test")
    cancel = threading.Event()
    seen = []
    with pytest.raises(Cancelled):
        for event in alignment.train(core, request, cancel):
            seen.append(event)
            if isinstance(event, Progress):
                cancel.set()
    assert isinstance(seen[0], alignment.TrainStarted) and not seen[0].resumable
    run_dir = Path(seen[0].run_dir)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir())[-1] == "checkpoint-2"

    events = list(alignment.train(core, request))
    assert events[0].resumable
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in progress] == [3] and progress[0].eta_s == 0
    finished = events[-1]
    assert isinstance(finished, alignment.TrainFinished)
    report = finished.report
    assert report["method"] == "support" and report["metrics"]["resumed_from_step"] == 2
    assert report["data"]["pairs"] == 3 and report["data"]["curriculum"] == "margin"
    assert report["density"]["quantile"] == 0.99
    # The 4 GB budget is for a training process; this one is a test session that already holds
    # other tests' objects, so check what the run itself added (a bare interpreter with torch
    # is ~0.5 GB; benchmarks/bench_training.py measures the absolute peak in a fresh process).
    metrics = report["metrics"]
    assert 0 < metrics["start_rss_mb"] <= metrics["peak_rss_mb"]
    assert metrics["peak_rss_mb"] - metrics["start_rss_mb"] < 4096 - 512
    entry = core.registry.find("loop test", "adapter")
    assert entry.base == alignment.chat_model(core).sha256
    assert entry.report["adapter"]["sha256"] == entry.sha256
    assert not (run_dir / "checkpoints").exists()  # cleaned up once the adapter is written

    use = cli(tmp_path / "data", "models", "use", "--adapter", "loop test")
    assert use["adapter"] == "loop test"
    core.close()
    core = ReplyDesk(tmp_path / "data")
    try:
        drafts = [e for e in draft(core, DraftRequest(text="The shower was broken.", rating=2,
                                                      seed=1)) if hasattr(e, "adapter")]
        assert drafts[0].adapter == "loop test" and drafts[0].text

        report = alignment.evaluate(core, alignment.EvalRequest(
            records=shared_records, holdout=(HELD_OUT,), output_dir=tmp_path / "eval",
            adapters=("loop test",), reviews=2, pairs=2, max_tokens=32,
            business_type="hotel"))
    finally:
        core.close()
    assert set(report["models"]) == {"human", "base", "loop test"}
    tuned = report["models"]["loop test"]
    for key in ("reward_accuracy", "loglik_accuracy", "claim_violations_per_reply",
                "distinct_1", "distinct_2", "max_stock_similarity", "specificity",
                "length_words", "in_support_share", "prompt_echo_share"):
        assert key in tuned, key
    assert report["holdout_businesses"] == [HELD_OUT] and report["reviews"] == 2
    assert len(report["drafts"]) == 2 and set(report["drafts"][0]) >= {"human", "base"}
    for suffix in ("json", "md", "png"):
        assert (tmp_path / "eval" / f"report.{suffix}").stat().st_size > 0
    assert "| loop test |" in (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")


def test_drafts_without_context_from_the_local_model_become_rejected_candidates(
        tmp_path: Path, shared_records: Path) -> None:
    out = tmp_path / "drafted.jsonl"
    report = cli(tmp_path / "data", "pairs", "bootstrap", str(shared_records), "-o", str(out),
                 "--kinds", "no_context", "--drafts", "2", "--limit", "12", "--min-margin",
                 "-1")
    assert report["stats"]["drafts"] == 2
    rows = read_pairs(out)
    assert len(rows) == 2 and {r["metadata"]["rejected_kind"] for r in rows} == {"no_context"}
    assert all(r["rejected"][0]["content"].strip() for r in rows)
