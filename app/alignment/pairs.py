"""Bootstrapping preference pairs from review–response records, and reading/writing pair files.

For each record whose real reply is not a stock reply, the real reply is the *chosen* answer and
up to three kinds of *rejected* candidates compete with it:

* ``stock`` — one of the business's own pasted templates (another business's if it has none);
* ``other_review`` — a real reply the business wrote for a *different* review;
* ``no_context`` — a draft by the local model made without business context (optional: it
  needs the model and about a second or two per draft).

Both sides are scored with the service-recovery rubric (``rubric.py``) against the review being
answered; a pair is kept only when the real reply wins by at least ``min_margin``.  Scores of
both sides, element by element, and the margin travel in each pair's ``metadata``, so a pair can
always be inspected and the curriculum can order by it.

Pair files are TRL's conversational preference JSONL — the same format as the feedback export —
``{"prompt": [system, user], "chosen": [assistant], "rejected": [assistant], "metadata": {...}}``.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.alignment.records import Record, StockIndex
from app.alignment.rubric import ClaimCounter, ReviewFacts, RubricScore, score
from app.core.errors import Cancelled, InputFileError

KINDS = ("stock", "other_review", "no_context")
MessagesFor = Callable[[Record], list[dict[str, str]]]
DraftFor = Callable[[Record], str | None]


@dataclass(frozen=True)
class BootstrapOptions:
    kinds: tuple[str, ...] = ("stock", "other_review")
    min_margin: float = 0.05
    min_chosen_score: float = 0.5
    seed: int = 0


@dataclass
class BootstrapStats:
    records: int = 0
    stock_replies: int = 0  # distinct stock texts found
    skipped_stock: int = 0  # records whose real reply is stock (never chosen)
    skipped_low_score: int = 0  # real reply below min_chosen_score
    dropped_low_margin: int = 0  # candidates the real reply did not beat by min_margin
    drafts: int = 0
    pairs: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _facts(record: Record) -> ReviewFacts:
    return ReviewFacts.of(record.rating, record.text, record.title, record.business,
                          record.profile)


def _pair(record: Record, messages: list[dict[str, str]], chosen: RubricScore,
          rejected_text: str, rejected: RubricScore, kind: str, extra: dict[str, Any]
          ) -> dict[str, Any]:
    return {
        "prompt": messages,
        "chosen": _assistant(record.reply),
        "rejected": _assistant(rejected_text),
        "metadata": {
            "source": "bootstrap",
            "review_id": record.key,
            "business": record.business,
            "rating": record.rating,
            "platform": record.platform,
            "rejected_kind": kind,
            "chosen_score": round(chosen.total, 4),
            "rejected_score": round(rejected.total, 4),
            "margin": round(chosen.total - rejected.total, 4),
            "rubric": {"chosen": chosen.as_dict(), "rejected": rejected.as_dict()},
            **extra,
        },
    }


def bootstrap(
    records: Sequence[Record],
    stock: StockIndex,
    *,
    messages_for: MessagesFor,
    claims: ClaimCounter | None = None,
    draft_for: DraftFor | None = None,
    options: BootstrapOptions = BootstrapOptions(),
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict[str, Any]], BootstrapStats]:
    """Preference pairs for ``records`` (see the module docstring), with counts of what was
    skipped and why."""
    rng = random.Random(options.seed)
    stats = BootstrapStats(records=len(records), stock_replies=len(stock))
    by_business: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_business[r.business].append(r)
    global_stock = stock.replies()
    pairs: list[dict[str, Any]] = []
    for i, record in enumerate(records):
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if progress is not None and i % 50 == 0:
            progress(i, len(records))
        if stock.is_stock(record.reply):
            stats.skipped_stock += 1
            continue
        facts = _facts(record)
        chosen = score(record.reply, facts, claims)
        if chosen.total < options.min_chosen_score:
            stats.skipped_low_score += 1
            continue
        candidates = list(_candidates(record, by_business, stock, global_stock, rng, options,
                                      draft_for, stats))
        if not candidates:
            continue
        messages = messages_for(record)
        for kind, text, extra in candidates:
            rejected = score(text, facts, claims)
            if chosen.total - rejected.total < options.min_margin:
                stats.dropped_low_margin += 1
                continue
            pairs.append(_pair(record, messages, chosen, text, rejected, kind, extra))
            stats.by_kind[kind] = stats.by_kind.get(kind, 0) + 1
    if progress is not None:
        progress(len(records), len(records))
    stats.pairs = len(pairs)
    return pairs, stats


def _candidates(
    record: Record,
    by_business: dict[str, list[Record]],
    stock: StockIndex,
    global_stock: list[str],
    rng: random.Random,
    options: BootstrapOptions,
    draft_for: DraftFor | None,
    stats: BootstrapStats,
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    if "stock" in options.kinds:
        pool = stock.replies(record.business) or global_stock
        if pool:
            yield "stock", rng.choice(pool), {}
    if "other_review" in options.kinds:
        others = [r for r in by_business[record.business]
                  if r.key != record.key and r.reply.strip() != record.reply.strip()]
        if others:
            other = rng.choice(others)
            yield "other_review", other.reply, {"rejected_review_id": other.key}
    if "no_context" in options.kinds and draft_for is not None:
        text = draft_for(record)
        if text:
            stats.drafts += 1
            yield "no_context", text, {}


# --- files -------------------------------------------------------------------------------------


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically (a crash never leaves half a file); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def _message_list(value: Any, roles: Sequence[str]) -> bool:
    return (isinstance(value, list) and bool(value) and all(
        isinstance(m, dict) and m.get("role") in roles and isinstance(m.get("content"), str)
        for m in value))


def read_pairs(path: Path) -> list[dict[str, Any]]:
    """Read a conversational preference JSONL file (bootstrapped pairs or a feedback export)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"Cannot read {path}: {exc}.", path=path) from exc
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InputFileError(f"{path}, line {number}: not JSON ({exc}).", path=path) from exc
        ok = (isinstance(row, dict)
              and _message_list(row.get("prompt"), ("system", "user", "assistant"))
              and _message_list(row.get("chosen"), ("assistant",))
              and _message_list(row.get("rejected"), ("assistant",)))
        if not ok:
            raise InputFileError(
                f"{path}, line {number}: not a conversational preference pair.",
                'Each line needs "prompt" (system/user messages), "chosen" and "rejected" '
                "(assistant messages): the format of 'replydesk export --format dpo' and "
                "'replydesk pairs bootstrap'.",
                path=path,
            )
        rows.append(row)
    if not rows:
        raise InputFileError(f"{path} holds no preference pairs.", path=path)
    return rows
