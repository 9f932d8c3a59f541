"""The support constraint: a density model of human replies and the penalty for leaving it.

SPOT (Wu et al., NeurIPS 2022) replaces offline RL's uniform pull toward the behaviour policy
with a constraint that the learned policy's actions stay inside the *support* of the behaviour
data, as judged by an explicit density estimate.  Here the "actions" are reply tokens and the
behaviour data are human replies:

* **density model** — the frozen reference model μ̂ (the base LLM), read as a density over
  the next token, *calibrated on human replies*: at each position of a real reply, the gap
  g_t = max_v log μ̂(v | x, y<t) − log μ̂(y_t | x, y<t) says how far below the most likely
  token the human's actual token was.  δ is the q-quantile of g over the calibration replies
  (q = 0.99: 99 % of human tokens are in support).  The support at a position is
  S_t = {v : log μ̂(v) ≥ max log μ̂ − δ} — a min-p set whose threshold is set by humans.
* **penalty** — the policy's probability mass outside the support, beyond what the reference
  itself puts there: Σ_t relu(π_θ(S̄_t) − μ̂(S̄_t)), averaged over reply positions (chosen and
  rejected).  Inside the support the policy is free; only leaving it costs.

docs/alignment.md writes out the full objective and its rationale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from app.alignment.scoring import Encoded, reference, reply_log_softmax


@dataclass(frozen=True)
class Density:
    quantile: float
    delta: float  # nats below the most likely token that still count as in support
    tokens: int  # human reply tokens it was calibrated on
    replies: int
    seq_mean: float  # mean length-normalised log-likelihood of a human reply
    seq_std: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def z(self, mean_logp: float) -> float:
        """How many standard deviations a reply's mean token log-prob is from human replies'."""
        return (mean_logp - self.seq_mean) / self.seq_std if self.seq_std > 0 else 0.0


def calibrate(model: Any, encoded: Sequence[Encoded], quantile: float = 0.99) -> Density:
    """Fit δ (and the sequence-level mean/std) on human replies, with the reference model."""
    import torch

    gaps = []
    means = []
    with torch.no_grad(), reference(model):
        for enc in encoded:
            if enc.n_reply <= 0:
                continue
            logp, targets = reply_log_softmax(model, enc)
            token = logp.gather(-1, targets[:, None])[:, 0]
            gaps.append(logp.max(dim=-1).values - token)
            means.append(float(token.mean()))
    if not gaps:
        raise ValueError("no human reply tokens to calibrate the support on")
    g = torch.cat(gaps)
    m = torch.tensor(means)
    return Density(
        quantile=quantile,
        delta=float(torch.quantile(g, quantile)),
        tokens=int(g.numel()),
        replies=len(means),
        seq_mean=float(m.mean()),
        seq_std=float(m.std()) if len(means) > 1 else 0.0,
    )


def out_of_support(policy_logp: Any, ref_logp: Any, delta: float) -> tuple[Any, Any]:
    """Per position: (policy mass outside the support, reference mass outside it)."""
    import torch

    inside = ref_logp >= (ref_logp.max(dim=-1, keepdim=True).values - delta)
    # masked_fill keeps a 1-byte mask for the backward pass, not a float copy of it
    policy_out = policy_logp.exp().masked_fill(inside, 0.0).sum(-1)
    with torch.no_grad():
        ref_out = ref_logp.exp().masked_fill_(inside, 0.0).sum(-1)
    return policy_out, ref_out


def penalty(policy_logp: Any, ref_logp: Any, delta: float) -> tuple[Any, Any, Any]:
    """(mean support penalty, mean policy out-of-support mass, mean reference one)."""
    import torch

    policy_out, ref_out = out_of_support(policy_logp, ref_logp, delta)
    return torch.relu(policy_out - ref_out).mean(), policy_out.mean(), ref_out.mean()
