"""LoRA adapters as GGUF files for llama.cpp, written and read offline with the ``gguf`` package.

llama.cpp's adapter format: ``general.type = "adapter"``, ``adapter.type = "lora"``,
``adapter.lora.alpha``, the base model's ``general.architecture``, and one pair of tensors per
adapted weight, ``<gguf tensor name>.lora_a`` with shape (r, in) and ``.lora_b`` with shape
(out, r) as numpy sees them; llama.cpp scales the product by alpha / r, like PEFT.

Llama-family GGUF files store the query and key projections with their rows permuted for
llama.cpp's rotary layout (``convert_hf_to_gguf.py`` does it, and transformers undoes it on
load).  LoRA's B factor holds those output rows, so B of q/k is permuted the same way; A is not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import ModelError

_PEFT_KEY = re.compile(
    r"layers\.(\d+)\.self_attn\.(q|k|v|o)_proj\.lora_([AB])(?:\.[\w-]+)?\.weight$"
)
_GGUF_KEY = re.compile(r"^blk\.(\d+)\.attn_(q|k|v|output)\.weight\.lora_([ab])$")
_PROJ_TO_GGUF = {"q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output"}
_GGUF_TO_PROJ = {"q": "q", "k": "k", "v": "v", "output": "o"}
# transformers model_type -> llama.cpp architecture, for models trained from a HF folder
ARCHITECTURES = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3",
                 "gemma": "gemma", "gemma2": "gemma2", "gemma3_text": "gemma3",
                 "phi3": "phi3", "granite": "granite"}
_PERMUTED = frozenset({"llama", "mistral", "granite"})
REPORT_KEY = "replydesk.report"


def needs_permute(model_type: str) -> bool:
    return model_type in _PERMUTED


def permute(weights: Any, n_head: int, n_head_kv: int | None = None) -> Any:
    """llama.cpp's rotary row order (``LlamaModel.permute`` in convert_hf_to_gguf.py)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    shape = weights.shape
    return (weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:])
            .swapaxes(1, 2).reshape(shape))


def unpermute(weights: Any, n_head: int, n_head_kv: int | None = None) -> Any:
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    shape = weights.shape
    return (weights.reshape(n_head, shape[0] // n_head // 2, 2, *shape[1:])
            .swapaxes(1, 2).reshape(shape))


@dataclass(frozen=True)
class LoraInfo:
    architecture: str
    alpha: float
    rank: int
    n_head: int
    n_head_kv: int
    permuted: bool


def write_lora_gguf(path: Path, state: Mapping[str, Any], info: LoraInfo, *, name: str,
                    report: Mapping[str, Any] | None = None) -> int:
    """Write PEFT LoRA weights (``lora_A``/``lora_B`` of attention projections) as a GGUF
    adapter; returns the number of adapted weights."""
    import gguf
    import numpy as np

    pairs: dict[tuple[int, str], dict[str, Any]] = {}
    for key, value in state.items():
        m = _PEFT_KEY.search(key)
        if not m:
            continue
        layer, proj, ab = int(m.group(1)), m.group(2), m.group(3)
        array = value.detach().cpu().float().numpy() if hasattr(value, "detach") else value
        pairs.setdefault((layer, proj), {})[ab] = np.ascontiguousarray(array, dtype=np.float32)
    if not pairs:
        raise ModelError("The trained adapter has no LoRA weights on attention projections.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=info.architecture)
    try:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_name(name)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(info.alpha))
        writer.add_uint32("replydesk.lora.rank", info.rank)
        if report is not None:
            writer.add_string(REPORT_KEY, json.dumps(report, sort_keys=True, default=str))
        for (layer, proj), ab in sorted(pairs.items()):
            if set(ab) != {"A", "B"}:
                raise ModelError(f"Layer {layer} {proj}_proj has only lora_{''.join(ab)}.")
            b = ab["B"]
            if info.permuted and proj in ("q", "k"):
                b = np.ascontiguousarray(
                    permute(b, info.n_head, info.n_head if proj == "q" else info.n_head_kv))
            base = f"blk.{layer}.{_PROJ_TO_GGUF[proj]}.weight"
            writer.add_tensor(f"{base}.lora_a", ab["A"])
            writer.add_tensor(f"{base}.lora_b", b)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    tmp.replace(path)
    return len(pairs)


def read_lora_gguf(path: Path, n_head: int, n_head_kv: int, permuted: bool
                   ) -> tuple[dict[str, Any], float, int]:
    """PEFT-style LoRA weights (torch tensors), alpha and rank from a GGUF adapter: the inverse
    of ``write_lora_gguf``, so evaluation can score a registered adapter with transformers."""
    import gguf
    import numpy as np
    import torch

    reader = gguf.GGUFReader(str(path))
    alpha_field = reader.get_field(gguf.Keys.Adapter.LORA_ALPHA)
    if alpha_field is None:
        raise ModelError(f"{path} is not a LoRA adapter GGUF.", path=path)
    alpha = float(alpha_field.contents())
    state: dict[str, Any] = {}
    rank = 0
    for tensor in reader.tensors:
        m = _GGUF_KEY.match(tensor.name)
        if not m:
            continue
        layer, proj, ab = int(m.group(1)), _GGUF_TO_PROJ[m.group(2)], m.group(3).upper()
        shape = tuple(int(d) for d in reversed(tensor.shape))
        array = np.array(tensor.data, dtype=np.float32).reshape(shape)
        if ab == "B" and permuted and proj in ("q", "k"):
            array = unpermute(array, n_head, n_head if proj == "q" else n_head_kv)
        if ab == "A":
            rank = shape[0]
        key = f"base_model.model.model.layers.{layer}.self_attn.{proj}_proj.lora_{ab}.weight"
        state[key] = torch.from_numpy(np.ascontiguousarray(array))
    return state, alpha, rank


def report_of(path: Path) -> dict[str, Any] | None:
    """The training report stored inside an adapter written by ReplyDesk."""
    import gguf

    field = gguf.GGUFReader(str(path)).get_field(REPORT_KEY)
    return json.loads(field.contents()) if field is not None else None
