"""Review–response records: the raw material for bootstrapped preference pairs.

A record is a review with the reply the business actually published.  They come from a review
export (any format the importer reads, e.g. ``../shared/data/hotel_reviews_with_replies.jsonl``)
or from the reviews in the database that carry the owner's posted reply.

Two things are learned from the records themselves:

* **stock replies** — a reply text (greeting aside) that recurs across several reviews is a
  pasted template.  It is the generic behaviour the alignment loop should beat, so it is only
  ever a *rejected* candidate, never a chosen one;
* **the business's sign-off** — the closing block a business signs most of its replies with
  ("Warm regards, Rajesh Mehta, General Manager").  It goes into the prompt's business profile,
  because a reply that names the manager is only faithful when the prompt says who that is
  (context augmentation, Wang & Ge 2026).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from app.alignment.text import normalize_reply, shingles
from app.core.errors import KnownError
from app.core.types import BusinessProfile, ImportedReview

DEFAULT_STOCK_MIN_COUNT = 3
NEAR_STOCK_SIMILARITY = 0.8
_MIN_SIGN_OFF_COUNT = 3
_CLOSING = re.compile(
    r"(?:^|\n)\s*((?:thanks?\s*(?:&|and)\s*)?(?:warm(?:est)?\s+|kind(?:est)?\s+|best\s+|with\s+"
    r"(?:warm\s+|best\s+)?)?regards|sincerely|yours\s+(?:truly|sincerely|faithfully)"
    r"|best wishes|warm wishes|with gratitude|cheers)\b[^\n]*(?:\n[^\n]*){0,3}\s*$",
    re.I,
)


@dataclass(frozen=True)
class Record:
    key: str  # the platform's review id, or "line N"
    business: str
    rating: int
    text: str
    reply: str
    title: str | None = None
    author: str | None = None
    platform: str | None = None
    profile: BusinessProfile | None = None


def from_imported(items: Iterable[ImportedReview], default_business: str = "My business",
                  business_type: str = "business") -> list[Record]:
    """Records from parsed import rows; rows without a reply are skipped."""
    records = []
    for item in items:
        if not item.owner_reply or not item.owner_reply.strip() or not item.text.strip():
            continue
        business = item.business_name or default_business
        records.append(Record(
            key=item.external_id or f"line {item.line}",
            business=business,
            rating=item.rating,
            text=item.text,
            reply=item.owner_reply.strip(),
            title=item.title,
            author=item.author,
            platform=None if item.platform == "unknown" else item.platform,
            profile=BusinessProfile(id=0, name=business, type=business_type),
        ))
    return records


def load_file(path: Path, fmt: str = "auto", platform: str | None = None,
              business_type: str = "business") -> list[Record]:
    from app.core.types import RowError
    from app.store.importers import iter_reviews

    rows = [r for r in iter_reviews(Path(path), fmt, default_platform=platform)
            if not isinstance(r, RowError)]
    records = from_imported(rows, business_type=business_type)
    if not records:
        raise KnownError(
            f"{path} has no reviews with a published reply.",
            "Bootstrapping needs past replies: use an export that includes the owner's responses.",
            path=path,
        )
    return records


def sign_off_of(reply: str) -> str | None:
    """The closing block of a reply, on one line ("Warm regards, Jane Doe, Manager")."""
    m = _CLOSING.search(reply.strip())
    if not m:
        return None
    lines = [" ".join(line.split()).strip(" ,") for line in m.group(0).strip().splitlines()]
    text = ", ".join(line for line in lines if line)
    return text if 0 < len(text) <= 120 else None


def with_sign_offs(records: Sequence[Record]) -> list[Record]:
    """Give each business without one the sign-off it uses most, if it recurs."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        s = sign_off_of(r.reply)
        if s:
            counts[r.business][s] += 1
    common: dict[str, str] = {}
    for business, c in counts.items():
        text, n = c.most_common(1)[0]
        if n >= _MIN_SIGN_OFF_COUNT:
            common[business] = text
    out = []
    profiles: dict[str, BusinessProfile] = {}
    for r in records:
        p = r.profile or BusinessProfile(id=0, name=r.business)
        if not p.sign_off and r.business in common:
            p = profiles.setdefault(r.business, replace(p, sign_off=common[r.business]))
        out.append(replace(r, profile=p))
    return out


class StockIndex:
    """Which reply texts are pasted templates.

    A reply is *stock* when its normalised text (greeting dropped) occurs at least
    ``min_count`` times across the records, or when it is a near copy (4-gram Jaccard
    similarity ≥ ``near``) of such a text: a template with the guest's name filled in.
    """

    def __init__(self, replies: Iterable[tuple[str, str]], min_count: int = DEFAULT_STOCK_MIN_COUNT,
                 near: float = NEAR_STOCK_SIMILARITY) -> None:
        counts: Counter[str] = Counter()
        first: dict[str, tuple[str, str]] = {}
        for business, reply in replies:
            key = normalize_reply(reply)
            if key:
                counts[key] += 1
                first.setdefault(key, (business, reply))
        self.min_count = min_count
        self.near = near
        self.counts = {k: n for k, n in counts.items() if n >= min_count}
        self.texts = {k: first[k][1] for k in self.counts}
        self.business_of = {k: first[k][0] for k in self.counts}
        self._shingles = {k: shingles(k) for k in self.counts}
        self._cache: dict[str, bool] = {}

    def __len__(self) -> int:
        return len(self.counts)

    def is_stock(self, reply: str) -> bool:
        key = normalize_reply(reply)
        if key in self.counts:
            return True
        if key not in self._cache:
            mine = shingles(key)
            self._cache[key] = bool(mine) and any(
                len(mine & other) / len(mine | other) >= self.near
                for other in self._shingles.values()
                if abs(len(other) - len(mine)) <= (1 - self.near) * max(len(other), len(mine))
            )
        return self._cache[key]

    def replies(self, business: str | None = None) -> list[str]:
        """Stock reply texts, of one business when given (most frequent first)."""
        keys = sorted(self.counts, key=lambda k: -self.counts[k])
        return [self.texts[k] for k in keys if business is None or self.business_of[k] == business]

    def shingle_sets(self) -> list[frozenset[tuple[str, ...]]]:
        return list(self._shingles.values())


def split_by_business(records: Sequence[Record], holdout: Sequence[str]
                      ) -> tuple[list[Record], list[Record]]:
    """(train, held out): every record of a held-out business goes to the held-out side."""
    names = {r.business.casefold(): r.business for r in records}
    wanted = set()
    for name in holdout:
        key = name.strip().casefold()
        if key not in names:
            known = ", ".join(sorted(names.values())[:12])
            raise KnownError(
                f"No business called {name!r} in the records.",
                f"Hold out businesses by their exact name, for example: {known}.",
            )
        wanted.add(key)
    train = [r for r in records if r.business.casefold() not in wanted]
    held = [r for r in records if r.business.casefold() in wanted]
    return train, held
