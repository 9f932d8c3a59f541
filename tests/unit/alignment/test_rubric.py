from __future__ import annotations

from app.alignment.rubric import WEIGHTS, ReviewFacts, score
from app.core.types import BusinessProfile

COMPLAINT = ReviewFacts.of(1, "The room was dirty and breakfast was cold.")
PRAISE = ReviewFacts.of(5, "Loved the pool and the friendly staff.")

TAILORED = ("Thank you for your review. We are sorry your room was not clean and that breakfast "
            "was cold; we have shared this with housekeeping and the kitchen. We hope to "
            "welcome you back.")
STOCK = "Thank you for your wonderful review! We are delighted you enjoyed your stay."


def test_tailored_recovery_beats_a_celebrating_stock_reply_on_a_complaint() -> None:
    good, bad = score(TAILORED, COMPLAINT), score(STOCK, COMPLAINT)
    assert good.elements["apology"] == good.elements["account"] == 1.0
    assert good.elements["acknowledgement"] == 1.0
    assert bad.elements["tone_fit"] == 0.0  # celebrating a one-star stay
    assert bad.elements["apology"] == 0.0
    assert good.total > 0.9 > 0.3 > bad.total


def test_elements_that_do_not_apply_are_left_out() -> None:
    s = score("Thank you! So glad you loved the pool and our staff. See you again soon.", PRAISE)
    assert s.elements["apology"] is None and s.elements["account"] is None
    assert s.elements["facts"] is None  # no claim checker given
    assert s.total == 1.0
    assert score("We apologise for the inconvenience.", PRAISE).elements["tone_fit"] == 0.0


def test_invented_facts_lower_the_score_through_the_claim_counter() -> None:
    seen = []

    def claims(reply: str, review: str, profile: BusinessProfile | None) -> int:
        seen.append((reply, review, profile))
        return 3 if "50%" in reply else 0

    profile = BusinessProfile(id=1, name="Hotel Sunrise")
    review = ReviewFacts.of(2, "Cold breakfast.", profile=profile)
    honest = score("Sorry about breakfast; we have told the kitchen. Thank you.", review, claims)
    invented = score("Sorry about breakfast; here is 50% off. Thank you.", review, claims)
    assert honest.elements["facts"] == 1.0
    assert invented.elements["facts"] == 0.25 and invented.unsupported_claims == 3
    assert honest.total > invented.total
    assert seen[0][2] is profile and "Cold breakfast." in seen[0][1]


def test_score_dict_is_rounded_and_complete() -> None:
    d = score(TAILORED, COMPLAINT).as_dict()
    assert set(WEIGHTS) <= set(d) and {"total", "unsupported_claims"} <= set(d)
