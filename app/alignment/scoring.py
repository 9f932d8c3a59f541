"""Log-probabilities of replies under a transformers model (policy or reference).

Sequences are tokenised exactly as TRL's DPOTrainer does for conversational pairs: the prompt
rendered with the generation prompt, the prompt + reply rendered whole, and the reply taken as
what follows their common prefix.  Only the reply positions go through the LM head, so a
49k-token vocabulary never costs a (sequence × vocabulary) tensor for the prompt.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    start: int  # index of the first reply token

    @property
    def n_reply(self) -> int:
        return len(self.ids) - self.start


def _ids(tokenizer: Any, messages: Messages, generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(messages, tokenize=True,
                                        add_generation_prompt=generation_prompt)
    if isinstance(out, dict) or hasattr(out, "keys"):
        out = out["input_ids"]
    return list(out)


def encode(tokenizer: Any, prompt: Messages, reply: str, max_length: int) -> Encoded:
    prompt_ids = _ids(tokenizer, prompt, True)
    full = _ids(tokenizer, [*prompt, {"role": "assistant", "content": reply}], False)
    start = 0
    for a, b in zip(prompt_ids, full, strict=False):
        if a != b:
            break
        start += 1
    return Encoded(full[:max_length], min(start, max_length - 1))


def backbone_and_head(model: Any) -> tuple[Any, Any]:
    """The transformer body (with any LoRA layers inside it) and the LM head of ``model``."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(base, base.base_model_prefix), base.get_output_embeddings()


@contextlib.contextmanager
def reference(model: Any) -> Iterator[None]:
    """Run ``model`` as its reference: a PEFT model with its adapter switched off."""
    if hasattr(model, "disable_adapter"):
        with model.disable_adapter():
            yield
    else:
        yield


def reply_log_softmax(model: Any, enc: Encoded) -> tuple[Any, Any]:
    """(log-softmax rows over the vocabulary at each reply position, the reply token ids)."""
    import torch

    body, head = backbone_and_head(model)
    ids = torch.tensor([enc.ids])
    hidden = body(input_ids=ids, use_cache=False).last_hidden_state[0]
    positions = hidden[enc.start - 1 : len(enc.ids) - 1]
    logits = head(positions).float()
    return torch.log_softmax(logits, dim=-1), ids[0, enc.start :]


def reply_logps(model: Any, encoded: Sequence[Encoded]) -> list[tuple[float, int]]:
    """(sum of token log-probs, number of tokens) of each reply; no gradients."""
    import torch

    out = []
    with torch.no_grad():
        for enc in encoded:
            if enc.n_reply <= 0:
                out.append((0.0, 0))
                continue
            logp, targets = reply_log_softmax(model, enc)
            out.append((float(logp.gather(-1, targets[:, None]).sum()), enc.n_reply))
    return out
