from __future__ import annotations

from app.alignment.points import addressed, coverage, has_complaint, review_points
from app.alignment.text import distinct_n, jaccard, normalize_reply, shingles, stem


def test_normalize_reply_drops_the_greeting_and_punctuation() -> None:
    a = normalize_reply("Dear Mr. Sharma,\nThank you for staying with us!")
    b = normalize_reply("Hi Priya!  Thank you for staying with us.")
    assert a == b == "thank you for staying with us"


def test_stem_folds_plurals_and_possessives() -> None:
    assert [stem(w) for w in ("rooms", "facilities", "hotel's", "glass", "bus")] == [
        "room", "facility", "hotel", "glass", "bus"]


def test_distinct_n_and_jaccard() -> None:
    assert distinct_n(["a b c", "a b c"], 1) == 0.5
    assert distinct_n(["a b c", "d e f"], 2) == 1.0
    assert distinct_n([], 2) == 0.0
    s = shingles("one two three four five")
    assert jaccard(s, s) == 1.0
    assert jaccard(s, shingles("six seven eight nine ten")) == 0.0


def test_review_points_find_aspects_names_and_complaints() -> None:
    points = review_points("The breakfast was great and Rahul at the desk was helpful. "
                           "But the bathroom was dirty.", title="Good stay")
    keys = {p.key: p.negative for p in points}
    assert keys["breakfast"] is False
    assert keys["name:rahul"] is False
    assert keys["bathroom"] is True and keys["cleanliness"] is True
    assert has_complaint("the bathroom was dirty")
    assert not has_complaint("did not disappoint, no complaints at all")


def test_coverage_weights_negative_points_double() -> None:
    points = review_points("Breakfast was good. The room was dirty.")
    assert {p.key for p in addressed(points, "Sorry about your room.")} == {"room"}
    # room and cleanliness are negative (weight 2 each), breakfast positive (weight 1)
    assert coverage(points, "Sorry about your room.") == 2 / 5
    assert coverage(points, "Glad you liked breakfast; your dirty room is being cleaned.") == 1
    assert coverage([], "anything") is None
