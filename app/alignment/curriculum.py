"""Curriculum: the order in which preference pairs are trained (DESIGN §6b step 2).

``margin`` (default) trains easy pairs first: the larger the rubric margin between the real reply
and its rejected candidate, the clearer the lesson, so the adapter first learns what separates a
tailored reply from a pasted one and meets the subtle pairs (a real reply to another review of the
same hotel, a small margin) later.  ``none`` keeps the file order; ``shuffle`` is the usual random
order, for comparison.  The trainer keeps the order (sequential sampling) unless it is ``shuffle``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

MODES = ("margin", "none", "shuffle")


def margin_of(row: dict[str, Any]) -> float | None:
    value = (row.get("metadata") or {}).get("margin")
    return float(value) if isinstance(value, int | float) else None


def order(rows: Sequence[dict[str, Any]], mode: str = "margin", *, seed: int = 0,
          margin: Callable[[dict[str, Any]], float | None] = margin_of) -> list[dict[str, Any]]:
    """Rows in training order.  Under ``margin``, rows without a margin go last, in file order."""
    if mode not in MODES:
        raise ValueError(f"unknown curriculum {mode!r}")
    rows = list(rows)
    if mode == "none":
        return rows
    if mode == "shuffle":
        random.Random(seed).shuffle(rows)
        return rows
    known: list[tuple[float, int, dict[str, Any]]] = []
    unknown: list[dict[str, Any]] = []
    for i, r in enumerate(rows):
        m = margin(r)
        if m is None:
            unknown.append(r)
        else:
            known.append((m, i, r))
    known.sort(key=lambda k: (-k[0], k[1]))
    return [r for _, _, r in known] + unknown
