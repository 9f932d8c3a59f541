"""The specific points a review raises, and which of them a reply addresses.

A *point* is an aspect of the service the reviewer talked about (the room, breakfast, the
check-in, a staff member by name, a place nearby).  Aspects come from a small lexicon of
hospitality, retail and clinic vocabulary; names are capitalised words in the middle of a
sentence.  A reply addresses a point when it mentions any word of the same aspect (or the name).
Each point also gets a polarity: negative when its sentence carries a complaint cue.

The same function drives the rubric's *acknowledgement* element and the evaluation's
*specificity* metric, so training and evaluation measure tailoring the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.alignment.text import stem, words

_LEXICON = {
    "room": "room suite bedroom cottage villa accommodation",
    "bed": "bed mattress pillow linen sheet blanket",
    "bathroom": "bathroom toilet shower washroom bath bathtub towel",
    "cleanliness": "clean cleanliness dirty hygiene hygienic dust dusty stain smell smelly "
    "odour odor cockroach insect",
    "staff": "staff team employee receptionist reception manager waiter housekeeping "
    "concierge chef driver guide",
    "service": "service hospitality courteous courtesy helpful attentive polite rude",
    "food": "food meal dinner lunch dish cuisine menu taste tasty delicious",
    "breakfast": "breakfast buffet",
    "restaurant": "restaurant cafe bar dining",
    "location": "location located area neighbourhood neighborhood nearby proximity walking "
    "airport station market",
    "view": "view scenic overlooking mountain lake sea beach sunset",
    "pool": "pool swimming",
    "spa": "spa massage gym fitness",
    "wifi": "wifi wi-fi internet",
    "parking": "parking valet",
    "check-in": "check-in checkin check-out checkout arrival",
    "price": "price value money expensive cheap overpriced cost costly tariff bill billing "
    "charge charged refund",
    "noise": "noise noisy loud quiet",
    "climate": "ac a/c air conditioning conditioner heater heating",
    "amenities": "amenities amenity facility toiletry",
    "water": "water geyser",
    "booking": "booking reservation booked",
    "ambience": "ambience ambiance atmosphere decor interior property architecture heritage "
    "garden lawn",
    "maintenance": "maintenance broken repair worn leaking leak",
    "transport": "transport taxi cab pickup shuttle transfer",
    "event": "wedding party conference event banquet meeting celebration birthday anniversary",
    "family": "kid child children family",
}
_ASPECT_OF = {stem(w): aspect for aspect, ws in _LEXICON.items() for w in words(ws)}

# Complaint cues mark a sentence (and its points) as negative.  "not"/"no" alone are left out:
# "did not disappoint" and "no complaints" are praise.
_COMPLAINT = re.compile(
    r"\b(?:dirty|rude|bad|poor|worst|terrible|horrible|awful|pathetic"
    r"|(?<!not )disappoint(?:ing|ed|ment)"
    r"|slow|broken|smelly|stink\w*|noisy|unhelpful|unprofessional|overpriced|expensive|issue"
    r"|(?<!no )problem|(?<!no )complain\w*|unfortunately|worse|mediocre|stale|cold food"
    r"|not (?:clean|working|good|available|functional|up to|worth|helpful|provided)"
    r"|did ?n[o']t work|never again"
    r"|waste|filthy|cockroach\w*|bedbug\w*|leak\w*|delay\w*|hidden charges?|charged extra"
    r"|wait(?:ed|ing)? for)\b",
    re.I,
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_NAME = re.compile(r"(?<=[a-z,;:]\s)([A-Z][a-z]{2,})\b")
_NOT_NAMES = frozenset(words(
    "the this that these they their there then thanks thank very great good nice hotel room "
    "staff stay food we our you your it its i my me he she his her and but also overall "
    "however highly excellent amazing awesome wonderful best special loved love"
))


@dataclass(frozen=True)
class Point:
    key: str  # aspect name, or "name:<word>"
    negative: bool


def review_points(text: str, title: str | None = None, business: str = "") -> list[Point]:
    """The distinct points of a review, in order of first mention."""
    skip = {stem(w) for w in words(business)}
    found: dict[str, bool] = {}
    for sentence in _SENTENCE.findall(f"{title or ''}. {text}"):
        negative = bool(_COMPLAINT.search(sentence))
        for w in words(sentence):
            aspect = _ASPECT_OF.get(stem(w))
            if aspect:
                found[aspect] = found.get(aspect, False) or negative
        for name in _NAME.findall(sentence):
            s = stem(name)
            if s not in skip and name.lower() not in _NOT_NAMES and s not in _ASPECT_OF:
                key = f"name:{name.lower()}"
                found[key] = found.get(key, False) or negative
    return [Point(k, neg) for k, neg in found.items()]


def addressed(points: list[Point], reply: str) -> list[Point]:
    """The points that ``reply`` mentions."""
    reply_words = {stem(w) for w in words(reply)}
    reply_aspects = {_ASPECT_OF[w] for w in reply_words if w in _ASPECT_OF}
    hits = []
    for p in points:
        if p.key.startswith("name:"):
            if stem(p.key[5:]) in reply_words:
                hits.append(p)
        elif p.key in reply_aspects:
            hits.append(p)
    return hits


def coverage(points: list[Point], reply: str) -> float | None:
    """Share of the review's points the reply addresses; None when the review has none.

    Negative points count double: acknowledging what went wrong matters most in recovery.
    """
    if not points:
        return None
    weight = {p.key: 2.0 if p.negative else 1.0 for p in points}
    hit = sum(weight[p.key] for p in addressed(points, reply))
    return hit / sum(weight.values())


def has_complaint(text: str, title: str | None = None) -> bool:
    return bool(_COMPLAINT.search(f"{title or ''}. {text}"))
