"""A service-recovery rubric for replies to reviews.

Each element comes from the service-recovery and review-response literature:

* **thanks** — courtesy and gratitude for the feedback (Davidow 2003, *attentiveness*);
* **acknowledgement** — the reply addresses the specific points raised, complaints weighted
  double (Sparks & Bradley 2017, *Acknowledge*; Wang & Chaudhry 2018: tailored responses
  help, generic ones do not);
* **apology** — where something went wrong (Davidow 2003, *apology*; Smith, Bolton & Wagner
  1999, interactional justice);
* **account/action** — an explanation or a remedy, where something went wrong (Sparks & Bradley
  2017, *Account* and *Action*; Davidow 2003, *credibility* and *redress*) — offers must be
  backed by the business's own facts, which the *facts* element checks;
* **invitation** — asks the guest back (relationship continuation);
* **tone fit** — the reply's sentiment matches the review: no celebrating a one-star stay, no
  apologising for a perfect one (what a reply pasted from another review gets wrong);
* **facts** — no invented facts: every concrete claim (amounts, times, names, offers, contact
  details) is supported by the review or the business profile (Wang & Ge 2026: hallucinations
  come from missing context).

Elements that do not apply (no apology is due on a glowing review; nothing to acknowledge in
"Great stay!") are left out of the average rather than scored 1, so they neither reward nor
penalise.  The score is the weighted mean in [0, 1]; docs/alignment.md lists the weights.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from app.alignment.points import Point, coverage, has_complaint, review_points
from app.core.types import BusinessProfile

# Counts the unsupported claims in a reply: (reply, review text, business profile) -> n.
ClaimCounter = Callable[[str, str, BusinessProfile | None], int]

WEIGHTS = {
    "thanks": 1.0,
    "acknowledgement": 3.0,
    "apology": 1.5,
    "account": 1.5,
    "invitation": 1.0,
    "tone_fit": 1.5,
    "facts": 2.0,
}

_THANKS = re.compile(r"\b(?:thank\w*|grateful|gratitude|appreciat\w*)\b", re.I)
_APOLOGY = re.compile(r"\b(?:sorry|apolog\w*|regret\w*)\b", re.I)
_ACCOUNT = re.compile(
    r"\b(?:(?:will|shall|are going to|have|has)\s+(?:\w+\s+){0,2}(?:ensure|look(?:ed)? into"
    r"|investigat\w*|address\w*|work\w* on|review\w*|improv\w*|fix\w*|rectif\w*|resolv\w*"
    r"|shar\w*|pass\w*|forward\w*|escalat\w*|inform\w*|taken|noted|spoken|speak|discuss\w*"
    r"|train\w*|replac\w*|upgrad\w*|repair\w*)"
    r"|taken (?:note|up|care|this up)|noted your|brought (?:it|this) to|due to|because"
    r"|the reason|as a result|corrective|we are (?:working|looking|taking)|our team (?:is|has|will)"
    r"|under renovation|being (?:repaired|replaced|upgraded|renovated))\b",
    re.I,
)
_INVITATION = re.compile(
    r"\b(?:welcom\w* you (?:back|again)|see you (?:again|soon|back)|hope to (?:host|see|welcome"
    r"|serve|have)|look(?:ing)? forward to (?:welcom|host|see|serv|hav|your)\w*"
    r"|visit (?:us )?again|stay with us again|next (?:visit|stay|time|trip)|come back"
    r"|return visit|be back)\b",
    re.I,
)
_CELEBRATE = re.compile(
    r"\b(?:delighted|thrilled|elated|overjoyed|glad you (?:enjoy|lik|lov)\w*|pleased (?:to|that)"
    r"|happy (?:to (?:hear|know|read)|that you)|enjoyed your|wonderful (?:review|feedback|stay)"
    r"|exceeded your expectations|loved your stay)\b",
    re.I,
)


@dataclass(frozen=True)
class RubricScore:
    """Per-element scores in [0, 1] (None: not applicable) and their weighted mean."""

    elements: dict[str, float | None]
    total: float
    unsupported_claims: int

    def as_dict(self) -> dict[str, object]:
        return {
            "total": round(self.total, 4),
            "unsupported_claims": self.unsupported_claims,
            **{k: (None if v is None else round(v, 4)) for k, v in self.elements.items()},
        }


@dataclass(frozen=True)
class ReviewFacts:
    """What the rubric needs to know about the review a reply answers (computed once)."""

    rating: int
    text: str
    title: str | None
    points: tuple[Point, ...]
    complaint: bool
    profile: BusinessProfile | None = None

    @classmethod
    def of(cls, rating: int, text: str, title: str | None = None, business: str = "",
           profile: BusinessProfile | None = None) -> ReviewFacts:
        points = tuple(review_points(text, title, business))
        complaint = rating <= 2 or has_complaint(text, title) or (
            rating == 3 and any(p.negative for p in points))
        return cls(rating, text, title, points, complaint, profile)


def score(reply: str, review: ReviewFacts, claims: ClaimCounter | None = None) -> RubricScore:
    """Score ``reply`` as an answer to ``review``."""
    apologises = bool(_APOLOGY.search(reply))
    celebrates = bool(_CELEBRATE.search(reply))
    elements: dict[str, float | None] = {
        "thanks": 1.0 if _THANKS.search(reply) else 0.0,
        "acknowledgement": coverage(list(review.points), reply),
        "apology": (1.0 if apologises else 0.0) if review.complaint else None,
        "account": (1.0 if _ACCOUNT.search(reply) else 0.0) if review.complaint else None,
        "invitation": 1.0 if _INVITATION.search(reply) else 0.0,
    }
    if review.rating <= 2:
        fit = 0.0 if celebrates and not apologises else 1.0
    elif review.rating == 5 and not review.complaint:
        fit = 0.0 if apologises else 1.0
    else:
        fit = 1.0
    elements["tone_fit"] = fit
    unsupported = 0
    if claims is not None:
        review_text = f"{review.title or ''}\n{review.text}"
        unsupported = claims(reply, review_text, review.profile)
        elements["facts"] = 1.0 / (1.0 + unsupported)
    else:
        elements["facts"] = None
    applicable = {k: v for k, v in elements.items() if v is not None}
    weight = sum(WEIGHTS[k] for k in applicable)
    total = sum(WEIGHTS[k] * v for k, v in applicable.items()) / weight if weight else 0.0
    return RubricScore(elements, total, unsupported)
