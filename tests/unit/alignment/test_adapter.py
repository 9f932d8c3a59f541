from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.alignment.adapter import (
    LoraInfo,
    permute,
    read_lora_gguf,
    report_of,
    unpermute,
    write_lora_gguf,
)
from app.core.errors import ModelError
from app.llm.gguf import read_gguf

torch = pytest.importorskip("torch")


def lora_state(layers: int = 2, hidden: int = 24, kv: int = 8, r: int = 4) -> dict:
    gen = torch.Generator().manual_seed(0)
    state = {}
    for layer in range(layers):
        for proj, out in (("q", hidden), ("k", kv), ("v", kv), ("o", hidden)):
            key = f"base_model.model.model.layers.{layer}.self_attn.{proj}_proj"
            state[f"{key}.lora_A.weight"] = torch.randn(r, hidden, generator=gen)
            state[f"{key}.lora_B.weight"] = torch.randn(out, r, generator=gen)
    state["base_model.model.lm_head.weight"] = torch.zeros(3, 3)  # not LoRA: ignored
    return state


def test_permute_is_llama_cpp_rotary_order_and_unpermute_inverts_it() -> None:
    w = np.arange(8 * 3).reshape(8, 3)
    # 2 heads of 4 rows: rows (0 1 2 3) become (0 2 1 3) within each head
    assert permute(w, 2)[:4, 0].tolist() == [0, 6, 3, 9]
    assert (unpermute(permute(w, 2), 2) == w).all()
    assert (unpermute(permute(w, 6, 2), 6, 2) == w).all()  # grouped-query: k uses kv heads


def test_adapter_gguf_round_trips_and_reads_as_an_adapter(tmp_path: Path) -> None:
    state = lora_state()
    info = LoraInfo("llama", alpha=8.0, rank=4, n_head=6, n_head_kv=2, permuted=True)
    path = tmp_path / "a.gguf"
    n = write_lora_gguf(path, state, info, name="test adapter", report={"method": "dpo"})
    assert n == 8
    header = read_gguf(path)
    assert header.is_adapter and header.architecture == "llama"
    assert header.metadata["adapter.type"] == "lora"
    assert header.metadata["adapter.lora.alpha"] == 8.0
    assert header.metadata["general.name"] == "test adapter"
    assert report_of(path) == {"method": "dpo"}
    back, alpha, rank = read_lora_gguf(path, 6, 2, permuted=True)
    assert (alpha, rank) == (8.0, 4)
    for key, value in back.items():
        assert torch.equal(value, state[key]), key
    # stored B of q/k is permuted for llama.cpp, v/o are not
    raw, _, _ = read_lora_gguf(path, 6, 2, permuted=False)
    q_b = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"
    v_b = q_b.replace("q_proj", "v_proj")
    assert not torch.equal(raw[q_b], state[q_b]) and torch.equal(raw[v_b], state[v_b])


def test_adapter_without_lora_weights_is_refused(tmp_path: Path) -> None:
    info = LoraInfo("llama", 8.0, 4, 6, 2, True)
    with pytest.raises(ModelError, match="no LoRA weights"):
        write_lora_gguf(tmp_path / "a.gguf", {"x.weight": torch.zeros(2)}, info, name="x")
    assert not (tmp_path / "a.gguf").exists()


def test_models_add_an_adapter_says_how_to_draft_with_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli.main import main

    path = tmp_path / "owner tone.gguf"
    write_lora_gguf(path, lora_state(), LoraInfo("llama", 8.0, 4, 6, 2, True), name="owner tone")
    assert main(["--data-dir", str(tmp_path / "d"), "models", "add", str(path)]) == 0
    text = capsys.readouterr().out
    assert "added adapter" in text
    assert 'use it with: replydesk models use --adapter "owner tone"' in text
