"""LoRA preference training on the CPU with TRL: plain DPO, or the support-constrained method.

``method="dpo"`` is TRL's DPOTrainer unchanged (sigmoid loss, reference = the base model with the
adapter switched off).  ``method="support"`` keeps TRL's data pipeline, optimiser, checkpoints and
logging but replaces the loss (``SupportDPOTrainer._compute_loss``):

    L(θ) = E_pairs[ −log σ( β_s · (ℓ̄_θ(y_w|x) − ℓ̄_θ(y_l|x)) − γ ) ] + λ · P_support(θ)

where ℓ̄_θ is the policy's length-normalised log-likelihood of a reply and P_support the
out-of-support penalty of ``support.py``.  There is no log-ratio to the reference in the
preference term: the reference enters only as the density model that defines the support.

Training runs in the caller's thread; ``on_progress`` gets a ``Progress`` per step and setting
``cancel`` saves a checkpoint at the end of the current step and stops.  A later run with the same
run folder resumes from the last checkpoint.
"""

from __future__ import annotations

import json
import logging
import resource
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.alignment.adapter import ARCHITECTURES, LoraInfo, needs_permute
from app.alignment.model import Loaded, load_trainable
from app.alignment.scoring import backbone_and_head, encode, reference
from app.alignment.support import Density, calibrate, penalty
from app.core.errors import Cancelled, KnownError

log = logging.getLogger(__name__)

METHODS = ("dpo", "support")
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class TrainConfig:
    method: str = "dpo"
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    # Two pairs per optimiser step, one at a time: a batch of two peaked at 3.6-3.9 GB (the
    # budget is 4 GB), one pair at 2.2-2.3 GB, for about 15 % fewer pairs per minute.
    batch_size: int = 1
    grad_accum: int = 2
    learning_rate: float = 1e-4
    warmup_steps: int = 0
    beta: float = 0.1  # DPO's KL strength
    support_beta: float = 2.0  # scale of the length-normalised preference margin
    support_gamma: float = 0.5  # target margin
    support_lambda: float = 1.0  # weight of the out-of-support penalty
    support_quantile: float = 0.99  # share of human reply tokens the support must contain
    calibration_replies: int = 32
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    max_length: int = 768
    # Recompute activations in the backward pass: about a third more compute, but a step of two
    # 450-token pairs peaked at 7.7 GB without it; the budget is 4 GB.
    gradient_checkpointing: bool = True
    save_steps: int = 25
    seed: int = 0
    threads: int = 0  # 0 = torch's default
    sequential: bool = True  # keep the given (curriculum) order instead of shuffling

    def validated(self) -> TrainConfig:
        problems = []
        if self.method not in METHODS:
            problems.append(f"method must be one of {', '.join(METHODS)}")
        if self.batch_size < 1 or self.grad_accum < 1:
            problems.append("batch size and gradient accumulation must be at least 1")
        if not 0 < self.learning_rate < 1:
            problems.append("learning rate must be between 0 and 1")
        if self.lora_r < 1:
            problems.append("LoRA rank must be at least 1")
        if not 0.5 <= self.support_quantile < 1:
            problems.append("support quantile must be in [0.5, 1)")
        if self.max_length < 64:
            problems.append("max length must be at least 64 tokens")
        if problems:
            raise KnownError("Invalid training settings: " + "; ".join(problems) + ".")
        return self

    def hyperparameters(self) -> dict[str, Any]:
        d = asdict(self)
        if self.method == "dpo":
            for k in list(d):
                if k.startswith("support_") or k == "calibration_replies":
                    d.pop(k)
        else:
            d.pop("beta")
        d.pop("threads")
        return d


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    elapsed_s: float
    eta_s: float
    pairs_per_min: float
    loss: float | None
    metrics: dict[str, float]


@dataclass
class Outcome:
    lora_state: dict[str, Any]
    info: LoraInfo
    steps: int
    total_steps: int
    resumed_from: int
    train_seconds: float
    pairs_seen: int
    pairs_per_min: float
    peak_rss_mb: float
    metrics: dict[str, float]
    density: Density | None
    start_rss_mb: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


def _status_mb(field: str) -> float | None:
    """A memory field of ``/proc/self/status`` (kB) in MB; None where there is none."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process since start, or since :func:`reset_peak_rss`."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mb() -> float:
    now = _status_mb("VmRSS")
    return now if now is not None else peak_rss_mb()


def reset_peak_rss() -> float:
    """Restart the peak-memory high-water mark at the current RSS (Linux ``clear_refs`` 5), so
    a training run in a long-lived process (the app, a test session) reports its own peak.
    Returns the RSS at this point; where the reset is not possible the peak stays process-wide."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        pass
    return current_rss_mb()


def _trainer_class() -> type:
    import torch
    import torch.nn.functional as F
    from trl.trainer.dpo_trainer import DPOTrainer

    class ReplyDeskDPOTrainer(DPOTrainer):
        """TRL's DPOTrainer with both losses computed on reply positions only.

        TRL's fused LM head scores every position on a CPU (prompt included: about 4x the reply
        tokens here), which cost a third of the step time and 1.4 GB.  This forward runs the
        transformer once for the policy and once, without gradients and with the adapter off,
        for the reference, and projects only the reply positions onto the vocabulary.
        ``method="dpo"`` is TRL's sigmoid DPO loss, value for value (checked against TRL's own
        ``_compute_loss`` in tests/integration/test_alignment_chain.py); ``method="support"``
        is the support-constrained objective of this module's docstring.
        """

        method = "dpo"
        support_beta = 2.0
        support_gamma = 0.5
        support_lambda = 1.0
        delta: float | None = None

        def _compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool) -> Any:
            mode = "train" if model.training else "eval"
            ids, mask = inputs["input_ids"], inputs["attention_mask"]
            shift = inputs["completion_mask"][:, 1:].bool()
            targets = ids[:, 1:][shift]
            rows = torch.arange(ids.size(0), device=ids.device)[:, None].expand_as(shift)[shift]
            unwrapped = self.accelerator.unwrap_model(model)
            body, head = backbone_and_head(unwrapped)

            def reply_logp() -> Any:
                hidden = body(input_ids=ids, attention_mask=mask, use_cache=False)
                return torch.log_softmax(head(hidden.last_hidden_state[:, :-1][shift]).float(), -1)

            def per_sequence(token: Any) -> Any:
                return torch.zeros(ids.size(0), device=ids.device).index_add(0, rows, token)

            logp = reply_logp()
            with torch.no_grad(), reference(unwrapped):
                ref_logp = reply_logp()
            token = logp.gather(-1, targets[:, None])[:, 0]
            ref_token = ref_logp.gather(-1, targets[:, None])[:, 0]
            m = self._metrics[mode]
            if self.method == "dpo":
                sums, ref_sums = per_sequence(token), per_sequence(ref_token)
                chosen, rejected = (sums - ref_sums).chunk(2)
                loss = -F.logsigmoid(self.beta * (chosen - rejected)).mean()
                won, lost = self.beta * chosen.detach(), self.beta * rejected.detach()
                m["rewards/chosen"].append(won.mean().item())
                m["rewards/rejected"].append(lost.mean().item())
                m["rewards/accuracies"].append((won > lost).float().mean().item())
                m["rewards/margins"].append((won - lost).mean().item())
                c_logps, r_logps = sums.detach().chunk(2)
                m["logps/chosen"].append(c_logps.mean().item())
                m["logps/rejected"].append(r_logps.mean().item())
                return loss
            if self.delta is None:
                raise RuntimeError("the support constraint was not calibrated")
            lengths = shift.sum(1).clamp(min=1)
            chosen, rejected = (per_sequence(token) / lengths).chunk(2)
            margin = self.support_beta * (chosen - rejected)
            preference = -F.logsigmoid(margin - self.support_gamma).mean()
            pen, policy_out, ref_out = penalty(logp, ref_logp, self.delta)
            loss = preference + self.support_lambda * pen
            m["rewards/margins"].append(margin.detach().mean().item())
            m["rewards/accuracies"].append((chosen > rejected).float().mean().item())
            m["support/mean_logp_chosen"].append(chosen.detach().mean().item())
            m["support/mean_logp_rejected"].append(rejected.detach().mean().item())
            m["support/preference_loss"].append(preference.item())
            m["support/penalty"].append(pen.item())
            m["support/out_mass"].append(policy_out.item())
            m["support/ref_out_mass"].append(ref_out.item())
            return loss

    return ReplyDeskDPOTrainer


def _progress_callback(cancel: threading.Event, on_progress: Callable[[Progress], None] | None,
                       pairs_per_step: int, history: list[dict[str, float]]) -> Any:
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def __init__(self) -> None:
            self.started = 0.0
            self.first_step = 0
            self.cancelled = False

        def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self.started = time.monotonic()
            self.first_step = state.global_step

        def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            if cancel.is_set():
                self.cancelled = True
                control.should_save = True
                control.should_training_stop = True

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            if not logs or "loss" not in logs:
                return
            done = max(1, state.global_step - self.first_step)
            elapsed = time.monotonic() - self.started
            per_step = elapsed / done
            metrics = {k: float(v) for k, v in logs.items() if isinstance(v, int | float)}
            history.append({"step": state.global_step, **metrics})
            if on_progress is not None:
                on_progress(Progress(
                    step=state.global_step,
                    total=state.max_steps,
                    elapsed_s=elapsed,
                    eta_s=per_step * max(0, state.max_steps - state.global_step),
                    pairs_per_min=60 * pairs_per_step / per_step,
                    loss=metrics.get("loss"),
                    metrics=metrics,
                ))

    return ProgressCallback()


def _dataset(rows: Sequence[dict[str, Any]]) -> Any:
    from datasets import Dataset

    return Dataset.from_list([{"prompt": r["prompt"], "chosen": r["chosen"],
                               "rejected": r["rejected"]} for r in rows])


def _last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint the Trainer finished writing.

    A kill while a checkpoint is saved leaves a partial folder; the Trainer writes
    ``trainer_state.json`` last, so a folder whose state does not parse is partial: it is removed
    and the one before is used.
    """
    numbered = [p for p in folder.glob("checkpoint-*") if p.name.rsplit("-", 1)[-1].isdigit()]
    for path in sorted(numbered, key=lambda p: int(p.name.rsplit("-", 1)[-1]), reverse=True):
        try:
            json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("removing the incomplete checkpoint %s", path)
            shutil.rmtree(path, ignore_errors=True)
            continue
        return str(path)
    return None


def build_trainer(rows: Sequence[dict[str, Any]], loaded: Loaded, config: TrainConfig,
                  output_dir: Path, callbacks: Sequence[Any] = ()) -> Any:
    """The TRL trainer for ``rows`` with a fresh LoRA on ``loaded.model``; for ``support`` the
    density model is calibrated here (``trainer.density``)."""
    from peft import LoraConfig
    from transformers.trainer_callback import PrinterCallback
    from trl.trainer.dpo_config import DPOConfig

    args = DPOConfig(
        output_dir=str(output_dir),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        warmup_steps=config.warmup_steps,
        beta=config.beta,
        max_length=config.max_length,
        logging_steps=1,
        save_steps=config.save_steps,
        save_total_limit=2,
        report_to=[],
        disable_tqdm=True,
        activation_checkpointing=config.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        bf16=False,
        fp16=False,
        use_cpu=True,
        seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="sequential" if config.sequential else "random",
        dataloader_num_workers=0,
        dataset_num_proc=None,
    )
    peft_config = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(TARGET_MODULES),
        task_type="CAUSAL_LM",
    )
    trainer = _trainer_class()(
        model=loaded.model,
        args=args,
        train_dataset=_dataset(rows),
        processing_class=loaded.tokenizer,
        peft_config=peft_config,
        callbacks=list(callbacks),
    )
    trainer.remove_callback(PrinterCallback)  # prints metrics to stdout: breaks 'train --json'
    trainer.method = config.method
    trainer.density = None
    if config.method == "support":
        sample = [encode(loaded.tokenizer, r["prompt"], r["chosen"][0]["content"],
                         config.max_length) for r in rows[: config.calibration_replies]]
        trainer.model.eval()
        trainer.density = calibrate(trainer.model, sample, config.support_quantile)
        trainer.delta = trainer.density.delta
        trainer.support_beta = config.support_beta
        trainer.support_gamma = config.support_gamma
        trainer.support_lambda = config.support_lambda
    return trainer


def train(
    rows: Sequence[dict[str, Any]],
    source: Path,
    run_dir: Path,
    config: TrainConfig,
    *,
    architecture: str | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    resume: bool = True,
) -> Outcome:
    """Train a LoRA adapter on preference ``rows`` (in the order given) starting from ``source``.

    ``architecture`` is the llama.cpp architecture of the GGUF the adapter is for (read from its
    header by the caller); for a Hugging Face folder it is derived from the model type.
    """
    import torch
    from peft import get_peft_model_state_dict

    config = config.validated()
    cancel = cancel or threading.Event()
    if not rows:
        raise KnownError("No preference pairs to train on.")
    if config.threads:
        torch.set_num_threads(config.threads)
    checkpoints = Path(run_dir) / "checkpoints"
    if not resume and checkpoints.exists():
        shutil.rmtree(checkpoints)
    last = _last_complete_checkpoint(checkpoints)
    start_rss = reset_peak_rss()
    loaded = load_trainable(source)
    if cancel.is_set():
        raise Cancelled
    history: list[dict[str, float]] = []
    pairs_per_step = config.batch_size * config.grad_accum
    callback = _progress_callback(cancel, on_progress, pairs_per_step, history)
    trainer = build_trainer(rows, loaded, config, checkpoints, callbacks=[callback])
    density = trainer.density
    resumed_from = 0
    if last:
        resumed_from = int(Path(last).name.rsplit("-", 1)[-1])
        log.info("resuming from %s", last)
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=last)
    seconds = time.monotonic() - started
    if callback.cancelled:
        raise Cancelled
    state = trainer.state
    steps_run = max(1, state.global_step - resumed_from)
    final = {k: v for k, v in (history[-1] if history else {}).items() if k != "step"}
    lora = {k: v.detach().clone() for k, v in get_peft_model_state_dict(trainer.model).items()}
    arch = architecture or ARCHITECTURES.get(loaded.architecture, loaded.architecture)
    info = LoraInfo(arch, float(config.lora_alpha), config.lora_r, loaded.n_head,
                    loaded.n_head_kv, needs_permute(loaded.architecture))
    outcome = Outcome(
        lora_state=lora,
        info=info,
        steps=state.global_step,
        total_steps=state.max_steps,
        resumed_from=resumed_from,
        train_seconds=seconds,
        pairs_seen=steps_run * pairs_per_step,
        pairs_per_min=60 * steps_run * pairs_per_step / seconds if seconds > 0 else 0.0,
        peak_rss_mb=peak_rss_mb(),
        metrics=_summary(history, final),
        density=density,
        history=history,
        start_rss_mb=start_rss,
    )
    shutil.rmtree(checkpoints, ignore_errors=True)
    return outcome


def _summary(history: list[dict[str, float]], final: dict[str, float]) -> dict[str, float]:
    """Final logged metrics, plus loss and reward accuracy averaged over the last quarter."""
    out = dict(final)
    tail = history[-max(1, len(history) // 4):]
    for key in ("loss", "rewards/accuracies", "rewards/margins"):
        values = [h[key] for h in tail if key in h]
        if values:
            out[f"{key}_last_quarter_mean"] = sum(values) / len(values)
    return out
