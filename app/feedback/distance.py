"""Edit distances between a draft and the text the owner approved."""

from __future__ import annotations

import re
from collections.abc import Sequence

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def levenshtein(a: Sequence[object], b: Sequence[object]) -> int:
    """Classic dynamic-programming edit distance, O(len(a) * len(b)) time, O(len(b)) memory."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def char_distance(a: str, b: str) -> int:
    return levenshtein(a, b)


def token_distance(a: str, b: str) -> int:
    return levenshtein(_TOKEN.findall(a), _TOKEN.findall(b))
