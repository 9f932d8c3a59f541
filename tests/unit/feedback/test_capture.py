"""Decisions made through the services become exactly the pairs and KTO rows of DESIGN §6."""

from __future__ import annotations

from sqlalchemy import select

from app.feedback.distance import char_distance, token_distance
from app.feedback.pairs import METADATA_KEYS, kto_key, pair_key
from app.services import feedback
from app.services.decisions import decide
from app.store.models import Draft, FeedbackEvent
from tests.unit.feedback.helpers import CHUNKS, add_review, make_drafts

REVIEW = "The room was dirty and nobody at reception cared."


def _pairs(core) -> list[tuple[str, str, str]]:
    return [(p.chosen, p.rejected, p.metadata["event"]) for p in feedback.derive(core).pairs]


def _kto(core) -> list[tuple[str, bool, str]]:
    return [(k.completion, k.label, k.metadata["event"]) for k in feedback.derive(core).kto]


def _events(core) -> list[tuple[str, int | None, float | None]]:
    with core.db.session() as s:
        rows = s.scalars(select(FeedbackEvent).order_by(FeedbackEvent.id))
        return [(e.kind, e.draft_id, e.decision_ms) for e in rows]


def test_accepted_unchanged_is_one_desirable_row_with_full_metadata(core) -> None:
    rid = add_review(core, REVIEW)
    [d] = make_drafts(core, rid, "We are sorry about the room.")
    decide(core, rid, "accept", decision_ms=2500.0)
    derived = feedback.derive(core)
    assert derived.pairs == []
    [row] = derived.kto
    assert row.prompt == d.messages and row.prompt[0]["role"] == "system"
    assert "[doc1:0] Rooms are cleaned daily" in row.prompt[1]["content"]
    assert (row.completion, row.label) == ("We are sorry about the room.", True)
    m = row.metadata
    assert set(m) == set(METADATA_KEYS)
    assert m["key"] == kto_key(d.messages, d.text)
    assert {k: m[k] for k in ("source", "event", "review_id", "rating", "platform", "language",
                              "business", "draft_id", "model_name", "adapter", "edit_distance",
                              "token_edit_distance", "decision_ms")} == {
        "source": "decision", "event": "accepted", "review_id": rid, "rating": 2,
        "platform": "google", "language": "en", "business": "My business", "draft_id": d.id,
        "model_name": "fake-model", "adapter": None, "edit_distance": 0,
        "token_edit_distance": 0, "decision_ms": 2500.0,
    }
    assert m["model_sha256"] == "0" * 64
    assert m["sampling"] == d.sampling and m["sampling"]["seed"] == 7
    assert m["chunk_ids"] == [c.chunk_id for c in CHUNKS]
    assert m["chunk_scores"] == [c.score for c in CHUNKS]
    assert m["draft_created_at"] and m["decided_at"] >= m["draft_created_at"]


def test_an_edit_is_a_pair_plus_a_good_and_a_bad_row(core) -> None:
    rid = add_review(core, REVIEW)
    draft_text = "Thanks for staying with us."
    final = "We are sorry the room was dirty; housekeeping now checks every room twice."
    [d] = make_drafts(core, rid, draft_text)
    result = decide(core, rid, "edit", final_text=final)
    assert result.event == "edited" and result.edit_distance == char_distance(draft_text, final)
    derived = feedback.derive(core)
    [pair] = derived.pairs
    assert (pair.prompt, pair.chosen, pair.rejected) == (d.messages, final, draft_text)
    assert pair.as_trl()["chosen"] == [{"role": "assistant", "content": final}]
    assert pair.as_trl()["rejected"] == [{"role": "assistant", "content": draft_text}]
    m = pair.metadata
    assert m["key"] == pair_key(d.messages, final, draft_text)
    assert (m["chosen_draft_id"], m["rejected_draft_id"]) == (d.id, d.id)
    assert m["edit_distance"] == char_distance(draft_text, final)
    assert m["token_edit_distance"] == token_distance(draft_text, final)
    assert _kto(core) == [(final, True, "edited"), (draft_text, False, "edited")]


def test_a_rejection_is_a_bad_row_and_becomes_a_pair_when_a_later_draft_is_approved(core) -> None:
    rid = add_review(core, REVIEW)
    make_drafts(core, rid, "Bad one.")
    decide(core, rid, "reject")
    assert _pairs(core) == []
    assert _kto(core) == [("Bad one.", False, "rejected")]
    [good] = make_drafts(core, rid, "Good one.")
    decide(core, rid, "accept")
    derived = feedback.derive(core)
    [pair] = derived.pairs
    assert (pair.chosen, pair.rejected, pair.metadata["event"]) == ("Good one.", "Bad one.",
                                                                    "rejected")
    assert pair.prompt == good.messages and pair.metadata["chosen_draft_id"] == good.id
    assert _kto(core) == [("Bad one.", False, "rejected"), ("Good one.", True, "accepted")]


def test_regenerating_marks_the_undecided_draft_and_pairs_it_with_the_approved_edit(core) -> None:
    rid = add_review(core, REVIEW)
    [first] = make_drafts(core, rid, "First try.")
    [second] = make_drafts(core, rid, "Second try.")
    decide(core, rid, "edit", final_text="Second try, improved.")
    kinds = [(k, i) for k, i, _ in _events(core)]
    assert kinds == [("regenerated", first.id), ("edited", second.id)]
    assert _pairs(core) == [
        ("Second try, improved.", "Second try.", "edited"),
        ("Second try, improved.", "First try.", "regenerated"),
    ]
    assert _kto(core) == [
        ("First try.", False, "regenerated"),
        ("Second try, improved.", True, "edited"),
        ("Second try.", False, "edited"),
    ]


def test_a_chosen_variant_is_paired_with_each_other_variant(core) -> None:
    rid = add_review(core, REVIEW)
    x, y, z = make_drafts(core, rid, "Variant X.", "Variant Y.", "Variant Z.")
    decide(core, rid, "choose", draft_id=y.id)
    assert _pairs(core) == [("Variant Y.", "Variant X.", "variant_chosen"),
                            ("Variant Y.", "Variant Z.", "variant_chosen")]
    assert [p.metadata["rejected_draft_id"] for p in feedback.derive(core).pairs] == [x.id, z.id]
    # a variant that was merely not picked is not labelled bad on its own
    assert _kto(core) == [("Variant Y.", True, "variant_chosen")]


def test_a_chosen_and_edited_variant_is_also_paired_with_itself(core) -> None:
    rid = add_review(core, REVIEW)
    x, _y = make_drafts(core, rid, "Variant X.", "Variant Y.")
    decide(core, rid, "choose", draft_id=x.id, final_text="Variant X, edited.")
    assert _pairs(core) == [("Variant X, edited.", "Variant X.", "variant_chosen"),
                            ("Variant X, edited.", "Variant Y.", "variant_chosen")]
    assert _kto(core) == [("Variant X, edited.", True, "variant_chosen"),
                          ("Variant X.", False, "variant_chosen")]


def test_regenerating_after_variants_discards_every_undecided_variant(core) -> None:
    rid = add_review(core, REVIEW)
    a, b = make_drafts(core, rid, "Variant A.", "Variant B.")
    [c] = make_drafts(core, rid, "Plain C.")
    decide(core, rid, "accept")
    assert [(k, i) for k, i, _ in _events(core)] == [
        ("regenerated", a.id), ("regenerated", b.id), ("accepted", c.id)]
    assert _pairs(core) == [("Plain C.", "Variant A.", "regenerated"),
                            ("Plain C.", "Variant B.", "regenerated")]


def test_drafts_covered_by_a_decision_are_not_marked_regenerated(core) -> None:
    rid = add_review(core, REVIEW)
    a, _b = make_drafts(core, rid, "Variant A.", "Variant B.")
    decide(core, rid, "choose", draft_id=a.id)
    make_drafts(core, rid, "Another.")  # asked again after approving: no judgement on A or B
    assert [k for k, _, _ in _events(core)] == ["variant_chosen"]


def test_identical_texts_never_pair_and_the_later_label_wins(core) -> None:
    rid = add_review(core, REVIEW)
    make_drafts(core, rid, "Same reply.")
    decide(core, rid, "reject")
    make_drafts(core, rid, "Same reply.")
    decide(core, rid, "edit", final_text="  Same   reply. ")  # white space only
    assert _pairs(core) == []
    assert _kto(core) == [("Same   reply.", True, "edited")]


def test_duplicate_pairs_are_removed(core) -> None:
    rid = add_review(core, REVIEW)
    for _ in range(2):
        make_drafts(core, rid, "Generic reply.")
        decide(core, rid, "reject")
    make_drafts(core, rid, "Specific reply.")
    decide(core, rid, "accept")
    assert _pairs(core) == [("Specific reply.", "Generic reply.", "rejected")]
    assert _kto(core) == [("Generic reply.", False, "rejected"),
                          ("Specific reply.", True, "accepted")]


def test_a_discarded_draft_pairs_only_with_the_next_approval_of_its_own_review(core) -> None:
    r1 = add_review(core, REVIEW)
    r2 = add_review(core, "Lovely breakfast.", author="Tom", rating=5)
    make_drafts(core, r1, "Bad for r1.")
    decide(core, r1, "reject")
    make_drafts(core, r2, "Good for r2.")
    decide(core, r2, "accept")
    assert _pairs(core) == []
    make_drafts(core, r1, "Good for r1.")
    decide(core, r1, "accept")
    make_drafts(core, r1, "Later for r1.")
    decide(core, r1, "edit", final_text="Later for r1, edited.")
    assert _pairs(core) == [("Good for r1.", "Bad for r1.", "rejected"),
                            ("Later for r1, edited.", "Later for r1.", "edited")]


def test_a_stopped_draft_is_never_a_rejected_example(core) -> None:
    rid = add_review(core, REVIEW)
    [d] = make_drafts(core, rid, "Half a")
    with core.db.session() as s:
        s.get(Draft, d.id).stopped = True
    decide(core, rid, "edit", final_text="Half a reply, finished by hand.")
    assert _pairs(core) == []
    assert _kto(core) == [("Half a reply, finished by hand.", True, "edited")]


def test_every_decision_records_its_time_to_decide(core) -> None:
    rid = add_review(core, REVIEW)
    make_drafts(core, rid, "One.")
    make_drafts(core, rid, "Two.")
    decide(core, rid, "reject")
    make_drafts(core, rid, "Three.")
    decide(core, rid, "accept", decision_ms=1234.0)
    events = _events(core)
    assert [k for k, _, _ in events] == ["regenerated", "rejected", "accepted"]
    assert all(ms is not None and ms >= 0 for _, _, ms in events)
    assert events[-1][2] == 1234.0


def test_edit_distances_are_stored_in_characters_and_tokens(core) -> None:
    rid = add_review(core, REVIEW)
    make_drafts(core, rid, "We are sorry.")
    decide(core, rid, "edit", final_text="We are very sorry!")
    with core.db.session() as s:
        ev = s.scalars(select(FeedbackEvent)).one()
        assert (ev.edit_distance, ev.token_edit_distance) == (6, 2)
