"""Held-out evaluation of base and adapted models (DESIGN §6b step 5).

Two kinds of measurement:

* **preference accuracy** on held-out pairs, from a transformers copy of the model: the DPO
  implicit reward r(y) = β·(log π_θ(y|x) − log π_ref(y|x)) — accuracy is the share of pairs
  with r(chosen) > r(rejected), and the mean margin is reported — and, for every model including
  the base, the share of pairs whose chosen reply has the higher length-normalised
  log-likelihood (the support method's own implicit reward);
* **draft quality** on replies the model drafts for held-out reviews: unsupported claims per
  reply (the claim check), genericness (distinct-1/2 across all of a model's replies, and the
  4-gram similarity of each reply to the nearest stock reply), specificity (share of the
  review's points the reply addresses, as in the rubric), rubric score, length in words, and
  how far each reply sits from human replies under the reference density (z-score of its mean
  token log-probability; "in support" means z ≥ −2).

Everything here is computed from texts and models handed in; drafting and file output are the
caller's (``app.services.alignment``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.alignment.points import coverage
from app.alignment.rubric import ClaimCounter, ReviewFacts, score
from app.alignment.scoring import Encoded, encode, reference, reply_logps
from app.alignment.support import Density
from app.alignment.text import distinct_n, max_similarity, shingles, words

IN_SUPPORT_Z = -2.0
STOCK_LIKE = 0.5  # 4-gram Jaccard at or above this = the reply is a near copy of a stock reply


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


@dataclass(frozen=True)
class Drafted:
    """A reply some model (or the human) wrote for a held-out review."""

    review: ReviewFacts
    text: str
    instructions: str = ""  # the prompt minus the review: what a reply must not parrot


ECHO_NGRAM = 6


def echoes(text: str, instructions: str) -> bool:
    """Whether ``text`` copies a run of 6 words from the prompt's instructions (a small model
    that does not follow the prompt repeats it: "<<<BUSINESS FACTS No relevant ...")."""
    if not instructions:
        return False
    return bool(shingles(text, ECHO_NGRAM) & shingles(instructions, ECHO_NGRAM))


def draft_metrics(drafts: Sequence[Drafted], stock: Sequence[frozenset[tuple[str, ...]]],
                  claims: ClaimCounter | None) -> dict[str, Any]:
    texts = [d.text for d in drafts]
    sims = [max_similarity(t, stock) for t in texts]
    spec = [c for d in drafts if (c := coverage(list(d.review.points), d.text)) is not None]
    rubric = [score(d.text, d.review, claims) for d in drafts]
    return {
        "replies": len(drafts),
        "claim_violations_per_reply": _mean([float(r.unsupported_claims) for r in rubric]),
        "distinct_1": round(distinct_n(texts, 1), 4),
        "distinct_2": round(distinct_n(texts, 2), 4),
        "max_stock_similarity": _mean(sims),
        "stock_like_share": _mean([1.0 if s >= STOCK_LIKE else 0.0 for s in sims]),
        "specificity": _mean(spec),
        "rubric": _mean([r.total for r in rubric]),
        "length_words": _mean([float(len(words(t))) for t in texts]),
        "empty_share": _mean([0.0 if t.strip() else 1.0 for t in texts]),
        "prompt_echo_share": _mean([1.0 if echoes(d.text, d.instructions) else 0.0
                                    for d in drafts]),
    }


def support_metrics(model: Any, tokenizer: Any, prompts: Sequence[list[dict[str, str]]],
                    texts: Sequence[str], density: Density, max_length: int) -> dict[str, Any]:
    """Where replies sit under the reference density calibrated on human replies."""
    encoded = [encode(tokenizer, p, t, max_length) for p, t in zip(prompts, texts, strict=True)]
    with reference(model):
        scored = reply_logps(model, encoded)
    z = [density.z(s / n) for s, n in scored if n > 0]
    return {
        "support_z": _mean(z),
        "in_support_share": _mean([1.0 if v >= IN_SUPPORT_Z else 0.0 for v in z]),
    }


def encode_pairs(tokenizer: Any, rows: Sequence[dict[str, Any]], max_length: int
                 ) -> list[tuple[Encoded, Encoded]]:
    return [(encode(tokenizer, r["prompt"], r["chosen"][0]["content"], max_length),
             encode(tokenizer, r["prompt"], r["rejected"][0]["content"], max_length))
            for r in rows]


def reference_logps(model: Any, pairs: Sequence[tuple[Encoded, Encoded]]
                    ) -> list[tuple[tuple[float, int], tuple[float, int]]]:
    with reference(model):
        return [(c, r) for c, r in zip(reply_logps(model, [p[0] for p in pairs]),
                                       reply_logps(model, [p[1] for p in pairs]), strict=True)]


def _loglik_accuracy(chosen: Sequence[tuple[float, int]], rejected: Sequence[tuple[float, int]]
                     ) -> float | None:
    return _mean([1.0 if c[0] / max(1, c[1]) > r[0] / max(1, r[1]) else 0.0
                  for c, r in zip(chosen, rejected, strict=True)])


def base_preference_metrics(ref: Sequence[tuple[tuple[float, int], tuple[float, int]]]
                            ) -> dict[str, Any]:
    """The base model's preference accuracy: its log-likelihoods are the reference's."""
    return {"pairs": len(ref), "loglik_accuracy": _loglik_accuracy([c for c, _ in ref],
                                                                   [r for _, r in ref])}


def preference_metrics(model: Any, pairs: Sequence[tuple[Encoded, Encoded]],
                       ref: Sequence[tuple[tuple[float, int], tuple[float, int]]],
                       beta: float) -> dict[str, Any]:
    """Accuracy of the implicit rewards of an adapted ``model`` on held-out pairs."""
    chosen = reply_logps(model, [p[0] for p in pairs])
    rejected = reply_logps(model, [p[1] for p in pairs])
    margins = [beta * ((c[0] - rc[0]) - (r[0] - rr[0]))
               for c, r, (rc, rr) in zip(chosen, rejected, ref, strict=True)]
    return {
        "pairs": len(pairs),
        "loglik_accuracy": _loglik_accuracy(chosen, rejected),
        "reward_accuracy": _mean([1.0 if m > 0 else 0.0 for m in margins]),
        "reward_margin": _mean(margins),
    }


# --- report ------------------------------------------------------------------------------------

_COLUMNS = (
    ("reward_accuracy", "pref. acc. (reward)"),
    ("reward_margin", "reward margin"),
    ("loglik_accuracy", "pref. acc. (log-lik)"),
    ("claim_violations_per_reply", "claims/reply"),
    ("distinct_1", "distinct-1"),
    ("distinct_2", "distinct-2"),
    ("max_stock_similarity", "stock sim."),
    ("stock_like_share", "stock-like"),
    ("specificity", "specificity"),
    ("rubric", "rubric"),
    ("length_words", "words"),
    ("prompt_echo_share", "echoes prompt"),
    ("in_support_share", "in support"),
)


def markdown(report: dict[str, Any]) -> str:
    models = report["models"]
    lines = [
        f"# Evaluation: {report.get('title', 'held-out businesses')}",
        "",
        f"Held out: {', '.join(report['holdout_businesses'])} — {report['reviews']} reviews "
        f"drafted, {report['pairs']} held-out pairs.",
        "",
        "| model | " + " | ".join(label for _, label in _COLUMNS) + " |",
        "|---|" + "---:|" * len(_COLUMNS),
    ]
    for name, m in models.items():
        cells = []
        for key, _ in _COLUMNS:
            v = m.get(key)
            cells.append("–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "pref. acc. (reward): share of held-out pairs where the DPO implicit reward "
              "β·log(π/π_ref) prefers the real reply (undefined for the base model); "
              "pref. acc. (log-lik): same with the length-normalised log-likelihood; "
              "claims/reply: unsupported concrete claims; stock sim.: 4-gram Jaccard to the "
              "nearest stock reply (stock-like: ≥ 0.5); specificity: share of the review's "
              "points addressed; echoes prompt: share of replies copying 6+ words of the "
              "prompt's instructions; in support: share of replies within 2 s.d. of human replies' "
              "mean token log-probability under the base model.", ""]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("loglik_accuracy", "pref. acc.\n(log-lik)"), ("specificity", "specificity"),
            ("rubric", "rubric"), ("distinct_2", "distinct-2"),
            ("max_stock_similarity", "stock\nsimilarity"), ("in_support_share", "in support"),
            ("prompt_echo_share", "echoes\nprompt"),
            ("claim_violations_per_reply", "claims\n/reply")]
    models = list(report["models"])
    fig, ax = plt.subplots(figsize=(10, 4.2), dpi=110)
    width = 0.8 / max(1, len(models))
    for i, name in enumerate(models):
        values = [report["models"][name].get(k) or 0.0 for k, _ in keys]
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(keys))]
        ax.bar(xs, values, width=width, label=name)
    ax.set_xticks(range(len(keys)), [label for _, label in keys], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Held-out evaluation ({report['reviews']} reviews, {report['pairs']} pairs)")
    ax.legend(fontsize=8, ncol=min(4, len(models)))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
