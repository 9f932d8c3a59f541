"""Train a ReplyDesk LoRA adapter on a GPU machine with TRL + accelerate, from an exported file.

    replydesk export --format dpo -o pairs.jsonl                         # on the desk
    accelerate launch scripts/train_on_gpu.py --pairs pairs.jsonl \\
        --base HuggingFaceTB/SmolLM2-135M-Instruct --out replydesk-gpu.gguf  # on the GPU machine
    replydesk models add replydesk-gpu.gguf --name gpu-dpo                # back on the desk

TRL's DPO (the baseline method; the support-constrained trainer runs in the app) with a LoRA on
the attention projections.  The adapter is written with the app's own GGUF writer
(``app.alignment.adapter``), so llama.cpp on the desk loads it on top of the GGUF of the same base
model.  ``--base`` is a Hugging Face model id or folder (trained in bf16 where the GPU has it), or
a ``.gguf`` file (dequantised to float32 by transformers, like the desktop trainer).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=Path, required=True, help="'replydesk export --format dpo' file")
    p.add_argument("--base", required=True, help="HF model id or folder, or a .gguf file")
    p.add_argument("--out", type=Path, required=True, help="the GGUF adapter to write")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (-1: epochs)")
    p.add_argument("--batch-size", type=int, default=4, help="pairs per GPU per step")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--beta", type=float, default=0.1, help="DPO temperature")
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--work-dir", type=Path, default=Path("replydesk-gpu-run"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import torch
    from accelerate import PartialState
    from datasets import load_dataset
    from peft import LoraConfig, get_peft_model_state_dict
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from app.alignment.adapter import ARCHITECTURES, LoraInfo, needs_permute, write_lora_gguf
    from app.alignment.model import load_trainable

    pairs = load_dataset("json", data_files=str(args.pairs), split="train")
    pairs = pairs.remove_columns([c for c in pairs.column_names
                                  if c not in ("prompt", "chosen", "rejected")])
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if args.base.endswith(".gguf"):
        loaded = load_trainable(Path(args.base))
        model, tokenizer, bf16 = loaded.model, loaded.tokenizer, False
    else:
        tokenizer = AutoTokenizer.from_pretrained(args.base)
        model = AutoModelForCausalLM.from_pretrained(
            args.base, dtype=torch.bfloat16 if bf16 else torch.float32)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    cfg = model.config
    architecture = ARCHITECTURES.get(cfg.model_type)
    if architecture is None:
        raise SystemExit(f"ReplyDesk cannot write adapters for model type {cfg.model_type!r}")

    started = time.perf_counter()
    trainer = DPOTrainer(
        model=model,
        args=DPOConfig(
            output_dir=str(args.work_dir), num_train_epochs=args.epochs,
            max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
            learning_rate=args.lr, beta=args.beta, bf16=bf16, logging_steps=10,
            save_strategy="no", report_to=[],
        ),
        train_dataset=pairs,
        processing_class=tokenizer,
        peft_config=LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=0.0,
                               target_modules=TARGETS, task_type="CAUSAL_LM"),
    )
    result = trainer.train()
    if not PartialState().is_main_process:
        return 0
    peft_model = trainer.accelerator.unwrap_model(trainer.model)
    n_head = int(cfg.num_attention_heads)
    info = LoraInfo(architecture=architecture, alpha=args.alpha, rank=args.rank, n_head=n_head,
                    n_head_kv=int(getattr(cfg, "num_key_value_heads", None) or n_head),
                    permuted=needs_permute(cfg.model_type))
    report = {"method": "dpo", "trainer": "trl + accelerate (scripts/train_on_gpu.py)",
              "base": args.base, "pairs": len(pairs), "steps": result.global_step,
              "train_loss": result.training_loss, "beta": args.beta, "lr": args.lr,
              "seconds": round(time.perf_counter() - started, 1)}
    weights = write_lora_gguf(args.out, get_peft_model_state_dict(peft_model), info,
                              name=f"ReplyDesk DPO ({Path(args.base).name})", report=report)
    print(json.dumps({**report, "adapter": str(args.out), "adapted_weights": weights}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
