"""The retrieval query for a review: its title and text, plus the aspects it talks about.

Reviews are long and chatty; the sentence that matters ("they would not give my money back") may
not share a word with the policy that answers it.  A small lexicon names the aspects a review
touches in the words a business's documents use ("refund policy"), and those names are put first,
so they survive the embedder's 256-token window however long the review is.
"""

from __future__ import annotations

import re

# aspect -> words that signal it (matched as word prefixes, case-insensitively)
ASPECTS: dict[str, tuple[str, ...]] = {
    "refund policy and complaints": (
        "refund", "money back", "reimburs", "charged", "overcharg", "compensat", "complain",
        "bill", "receipt", "cancel", "deposit", "chargeback",
    ),
    "allergens and dietary needs": (
        "allerg", "gluten", "coeliac", "celiac", "nut", "peanut", "dairy", "lactose", "vegan",
        "vegetarian", "halal", "kosher", "shellfish", "intoleran", "anaphyla", "epipen",
    ),
    "opening hours": (
        "open", "closed", "closing", "hours", "late", "early", "last order", "holiday",
        "sunday", "monday", "weekend",
    ),
    "booking and reservations": (
        "book", "reservation", "reserve", "table for", "walk-in", "walk in", "waitlist",
        "queue", "no-show",
    ),
    "menu and prices": (
        "menu", "dish", "price", "expensive", "overpriced", "cheap", "portion", "pizza", "pasta",
        "dessert", "starter", "wine", "drink", "cocktail", "special",
    ),
    "service and waiting times": (
        "wait", "slow", "service", "rude", "staff", "waiter", "waitress", "server", "ignored",
        "attentive", "manager",
    ),
    "takeaway and delivery": (
        "takeaway", "take-away", "take away", "delivery", "deliver", "collection", "order online",
        "app order", "missing item",
    ),
    "parking and getting here": ("parking", "park ", "car park", "bus", "train", "directions"),
    "accessibility": ("wheelchair", "accessib", "step-free", "stairs", "disabled", "ramp"),
    "children and families": ("kid", "child", "high chair", "family", "baby", "pram"),
    "dogs and pets": ("dog", "pet", "puppy"),
    "private events and groups": (
        "party", "birthday", "event", "large group", "group of", "private", "wedding",
        "celebration",
    ),
    "gift vouchers": ("voucher", "gift card", "gift certificate"),
    "payment": ("cash", "card", "payment", "pay ", "contactless", "tip", "service charge"),
}
_PATTERNS = {
    aspect: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + ")", re.IGNORECASE)
    for aspect, words in ASPECTS.items()
}
MAX_REVIEW_CHARS = 1200


def detect_aspects(text: str) -> list[str]:
    """The aspects ``text`` mentions, most-mentioned first (ties in lexicon order)."""
    counts = {aspect: len(p.findall(text)) for aspect, p in _PATTERNS.items()}
    found = [a for a in ASPECTS if counts[a]]
    return sorted(found, key=lambda a: -counts[a])


def review_query(title: str | None, text: str) -> str:
    """Aspects first, then the title and the (shortened) text of the review."""
    parts = []
    aspects = detect_aspects(f"{title or ''} {text}")
    if aspects:
        parts.append("About: " + ", ".join(aspects[:3]) + ".")
    if title and title.strip():
        parts.append(" ".join(title.split()) + ".")
    parts.append(" ".join(text.split())[:MAX_REVIEW_CHARS])
    return " ".join(parts)
