"""The training chain with the real default model: GGUF -> trainable model -> DPO steps ->
GGUF adapter -> llama.cpp, and the adapter writer checked against transformers."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

# Before torch is first imported: OpenMP threads that sleep while they wait (a shared CPU made
# spinning ones several times slower, see app/cli/alignment.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from app.alignment.adapter import LoraInfo, write_lora_gguf
from app.alignment.trainer import TrainConfig, train
from app.core.types import SamplingParams
from app.llm.engine import EngineInfo
from app.llm.gguf import read_gguf
from app.llm.llama_engine import LlamaCppEngine

pytestmark = pytest.mark.slow

SYSTEM = "You reply to hotel reviews."


def pair(review: str, good: str, bad: str) -> dict:
    return {"prompt": [{"role": "system", "content": SYSTEM},
                       {"role": "user", "content": review}],
            "chosen": [{"role": "assistant", "content": good}],
            "rejected": [{"role": "assistant", "content": bad}]}


PAIRS = [
    pair("Review: The breakfast was cold and the room was noisy.",
         "We are sorry the breakfast was cold and the room noisy; we have told our kitchen and "
         "will give you a quiet room next time.",
         "Thank you for your wonderful review! We are delighted you enjoyed your stay."),
    pair("Review: Lovely pool and friendly staff.",
         "Thank you! We are glad you loved the pool and our friendly staff. See you again soon.",
         "We apologise for the inconvenience caused."),
    pair("Review: The wifi did not work in my room.",
         "Sorry about the wifi in your room; our engineers have replaced the router on your "
         "floor.",
         "Thank you for choosing us. We hope to see you again."),
]


def greedy(model: Path, adapter: Path | None) -> str:
    engine = LlamaCppEngine(model, info=EngineInfo("base", "0" * 64), adapter_path=adapter,
                            n_ctx=512)
    try:
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": "Review: The shower was broken."}]
        params = SamplingParams(temperature=0.0, max_tokens=40, seed=0)
        return "".join(engine.stream(messages, params, threading.Event()))
    finally:
        engine.close()


def test_dpo_steps_make_a_gguf_adapter_that_changes_llama_cpp_output(
        default_model: Path, tmp_path: Path) -> None:
    config = TrainConfig(method="dpo", max_steps=4, batch_size=1, learning_rate=2e-3,
                         max_length=256, save_steps=1000, seed=0)
    outcome = train(PAIRS, default_model, tmp_path / "run", config, architecture="llama",
                    resume=False)
    assert outcome.steps == 4 and outcome.peak_rss_mb - outcome.start_rss_mb < 4096 - 512
    assert outcome.metrics["rewards/accuracies"] > 0
    path = tmp_path / "adapter.gguf"
    assert write_lora_gguf(path, outcome.lora_state, outcome.info, name="chain test") == 120
    header = read_gguf(path)
    assert header.is_adapter and header.architecture == "llama"
    base, tuned = greedy(default_model, None), greedy(default_model, path)
    assert base.strip() and tuned.strip()
    assert tuned != base


def test_adapter_writer_matches_transformers_including_the_rotary_permutation(
        default_model: Path, tmp_path: Path) -> None:
    """A random LoRA on layer 10's key projection moves llama.cpp's logits the way it moves
    transformers' (quantised activations add noise, hence a correlation); writing it without
    llama.cpp's q/k row permutation does not."""
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict

    from app.alignment.model import load_trainable
    from app.llm.llama_engine import _new_llama

    loaded = load_trainable(default_model)
    model = get_peft_model(loaded.model, LoraConfig(r=8, lora_alpha=16, task_type="CAUSAL_LM",
                                                    target_modules=["k_proj"])).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name and ".layers.10." in name:
                p.normal_(0, 0.5)
    ids = loaded.tokenizer("<|im_start|>user\nHow was the breakfast at the hotel?<|im_end|>\n"
                           "<|im_start|>assistant\n")["input_ids"]
    with torch.no_grad():
        tuned = model(input_ids=torch.tensor([ids])).logits[0].numpy()
        with model.disable_adapter():
            base = model(input_ids=torch.tensor([ids])).logits[0].numpy()
    state = get_peft_model_state_dict(model)

    def llama_logits(adapter: Path | None) -> np.ndarray:
        kwargs = {"model_path": str(default_model), "n_ctx": 256, "logits_all": True,
                  "verbose": False, "n_threads": 2}
        if adapter is not None:
            kwargs["lora_path"] = str(adapter)
        llm = _new_llama(kwargs, False)
        try:
            llm.eval(ids)
            return np.array(llm.scores[: len(ids)])
        finally:
            llm.close()

    llama_base = llama_logits(None)
    correlations = []
    for permuted in (True, False):
        path = tmp_path / f"k-{permuted}.gguf"
        info = LoraInfo("llama", 16.0, 8, loaded.n_head, loaded.n_head_kv, permuted)
        write_lora_gguf(path, state, info, name="probe")
        delta = (llama_logits(path) - llama_base).ravel()
        correlations.append(float(np.corrcoef((tuned - base).ravel(), delta)[0, 1]))
    assert correlations[0] > 0.7, correlations
    assert correlations[1] < 0.3, correlations


def test_reply_only_dpo_loss_equals_trls_own(default_model: Path, tmp_path: Path) -> None:
    """Both methods score reply positions only (TRL's fused head scores every position on a
    CPU); for ``dpo`` the loss must still be TRL's, value for value."""
    import torch
    from trl import DPOTrainer

    from app.alignment.model import load_trainable
    from app.alignment.trainer import build_trainer

    config = TrainConfig(method="dpo", batch_size=3, max_length=256, seed=0)
    trainer = build_trainer(PAIRS, load_trainable(default_model), config, tmp_path)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in trainer.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
    trainer.model.eval()
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        ours = trainer._compute_loss(trainer.model, batch, False)
        theirs = DPOTrainer._compute_loss(trainer, trainer.model, batch, False)
    assert abs(ours.item() - 0.6931) > 1e-3  # the adapter changed something
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-4)
