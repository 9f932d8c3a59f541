"""A trainable transformers model from the GGUF the app drafts with (or a Hugging Face folder).

transformers reads a GGUF file and dequantises it to float32, but the model it returns still
carries the GGUF ``quantization_config`` and trainers refuse it as "quantized".  Rebuilding a
plain model from the same config and state dict makes it trainable (DESIGN §3).  The base weights
are then exactly the dequantised weights llama.cpp runs, so a LoRA trained on them fits the GGUF.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import ModelError

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    model: Any  # transformers PreTrainedModel
    tokenizer: Any
    source: str
    n_head: int
    n_head_kv: int
    architecture: str


def load_trainable(source: Path) -> Loaded:
    """Load ``source`` (a ``.gguf`` file or a Hugging Face model folder) as a float32 model."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    source = Path(source)
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        if source.is_file():
            kwargs = {"gguf_file": source.name}
            folder = source.parent
            tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
            loaded = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
            raw = loaded.config.to_dict()
            raw.pop("quantization_config", None)
            raw.pop("_name_or_path", None)
            config = AutoConfig.for_model(**raw)
            state = loaded.state_dict()
            del loaded
            model = AutoModelForCausalLM.from_config(  # type: ignore[no-untyped-call]
                config, dtype=torch.float32)
            model.load_state_dict(state, strict=False)
            model.tie_weights()
            del state
            gc.collect()
        else:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(
            f"Cannot load {source} for training: {exc}.",
            "Training needs a GGUF model of an architecture transformers can read (Llama, "
            "Qwen 2, Mistral, Gemma, Phi-3) or a Hugging Face model folder.",
            path=source,
        ) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.use_cache = False
    cfg = model.config
    n_head = int(cfg.num_attention_heads)
    return Loaded(model, tokenizer, str(source), n_head,
                  int(getattr(cfg, "num_key_value_heads", None) or n_head), cfg.model_type)
