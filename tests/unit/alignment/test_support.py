"""The support constraint on a tiny random model (no download, a second on the CPU)."""

from __future__ import annotations

import pytest

from app.alignment.scoring import Encoded, reply_logps
from app.alignment.support import calibrate, out_of_support, penalty

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_model():
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, max_position_embeddings=128)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    return model


def test_penalty_is_zero_for_the_reference_and_grows_when_mass_leaves_support() -> None:
    ref = torch.log_softmax(torch.tensor([[4.0, 3.0, 0.0, -5.0]]), -1)
    pol_out, ref_out = out_of_support(ref, ref, delta=2.0)  # support: tokens 0 and 1
    assert torch.allclose(pol_out, ref_out)
    assert penalty(ref, ref, 2.0)[0].item() == 0.0
    leaving = torch.log_softmax(torch.tensor([[0.0, 0.0, 0.0, 4.0]]), -1)
    pen, out_mass, _ = penalty(leaving, ref, 2.0)
    assert pen.item() > 0.9 and out_mass.item() > 0.9
    inside = torch.log_softmax(torch.tensor([[0.0, 5.0, -9.0, -9.0]]), -1)
    assert penalty(inside, ref, 2.0)[0].item() == 0.0  # reweighting inside the support is free


def test_penalty_has_a_gradient_only_outside_the_support() -> None:
    ref = torch.log_softmax(torch.tensor([[4.0, 3.0, 0.0, -5.0]]), -1)
    logits = torch.tensor([[0.0, 0.0, 0.0, 4.0]], requires_grad=True)
    penalty(torch.log_softmax(logits, -1), ref, 2.0)[0].backward()
    assert logits.grad[0, 3] > 0 and logits.grad[0, 0] < 0


def test_calibration_puts_the_requested_share_of_human_tokens_in_support(tiny_model) -> None:
    gen = torch.Generator().manual_seed(1)
    encoded = [Encoded(torch.randint(0, 64, (20,), generator=gen).tolist(), 8)
               for _ in range(6)]
    density = calibrate(tiny_model, encoded, quantile=0.9)
    assert density.tokens == 6 * 12 and density.replies == 6
    gaps = []
    with torch.no_grad():
        for enc in encoded:
            body = tiny_model(input_ids=torch.tensor([enc.ids])).logits[0].log_softmax(-1)
            rows = body[enc.start - 1 : len(enc.ids) - 1]
            targets = torch.tensor(enc.ids[enc.start:])
            gaps += (rows.max(-1).values - rows.gather(-1, targets[:, None])[:, 0]).tolist()
    inside = sum(g <= density.delta + 1e-6 for g in gaps) / len(gaps)
    assert 0.85 <= inside <= 0.95
    scored = reply_logps(tiny_model, encoded[:1])
    assert scored[0][1] == 12
    assert density.z(scored[0][0] / 12) == pytest.approx(
        (scored[0][0] / 12 - density.seq_mean) / density.seq_std)
