"""Word-level text helpers shared by the rubric, stock detection and evaluation.

Plain Python on purpose: bootstrapping thousands of records and scoring every draft must stay
instant and deterministic, without loading a model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
# A greeting line ("Dear Mr Sharma,", "Hi Priya!") is often the only thing a pasted template
# changes between reviews, so it is dropped before replies are compared.
_SALUTATION = re.compile(
    r"^\s*(?:dear|hi|hello|hey|greetings|respected|namaste|namaskar)\b"
    r"(?:\s+(?:mr|mrs|ms|dr|miss)\.)?[^\n,!.]*[,!.]?",
    re.I,
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """A crude plural/possessive folding: enough to match "rooms" with "room"."""
    word = word.lower().replace("’", "'").removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def normalize_reply(text: str) -> str:
    """The reply without its greeting, as lower-case words: the key for spotting stock replies."""
    return " ".join(words(_SALUTATION.sub("", text.strip(), count=1)))


def shingles(text: str, n: int = 4) -> frozenset[tuple[str, ...]]:
    tokens = words(text)
    if len(tokens) < n:
        return frozenset([tuple(tokens)]) if tokens else frozenset()
    return frozenset(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct n-grams over all n-grams of a set of texts (Li et al., 2016): 1.0 = no reuse."""
    total = 0
    seen: set[tuple[str, ...]] = set()
    for text in texts:
        tokens = words(text)
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def max_similarity(text: str, others: Sequence[frozenset[tuple[str, ...]]]) -> float:
    """Highest 4-gram Jaccard similarity of ``text`` to any of ``others`` (0 when none)."""
    mine = shingles(text)
    return max((jaccard(mine, other) for other in others), default=0.0)
