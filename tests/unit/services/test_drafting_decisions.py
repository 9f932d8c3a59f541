from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.errors import KnownError, NotFoundError
from app.core.types import DraftDTO
from app.services import profile
from app.services.decisions import decide
from app.services.drafting import DraftRequest, TokenEvent, draft
from app.services.importing import import_reviews
from app.store.models import FeedbackEvent
from tests.fakes import DEFAULT_REPLY

CSV = (
    "id,rating,text,author,date\n"
    "r1,1,The room was dirty and the staff ignored us.,Ann,2025-01-02\n"
    "r2,5,Wonderful breakfast!,Bob,2025-01-03\n"
)


@pytest.fixture
def core(fake_core, tmp_path: Path):
    f = tmp_path / "reviews.csv"
    f.write_text(CSV, encoding="utf-8")
    report = import_reviews(fake_core, f)
    assert report.imported == 2
    profile.update(fake_core, name="Hotel Sunrise", type="hotel", facts=["Check-in from 2 pm"])
    return fake_core


def _review_id(core, external_id: str) -> int:
    from app.store.models import Review

    with core.db.session() as s:
        return s.scalar(select(Review.id).where(Review.external_id == external_id))


def _run(core, request: DraftRequest, cancel: threading.Event | None = None):
    events = list(draft(core, request, cancel))
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    drafts = [e for e in events if isinstance(e, DraftDTO)]
    return tokens, drafts


def test_draft_streams_tokens_and_stores_the_draft_with_its_prompt(core) -> None:
    rid = _review_id(core, "r1")
    tokens, drafts = _run(core, DraftRequest(review_id=rid, seed=7))
    assert "".join(t.text for t in tokens) == DEFAULT_REPLY
    (d,) = drafts
    assert d.text == DEFAULT_REPLY and d.review_id == rid
    assert d.model_name == "fake-model" and d.sampling["seed"] == 7
    assert d.timings["tokens"] == len(tokens) and d.timings["ttft_ms"] >= 0
    system, user = d.messages
    assert "Hotel Sunrise" in system["content"] and "Check-in from 2 pm" in system["content"]
    assert "The room was dirty" in user["content"]
    with core.db.session() as s:
        from app.store import repo

        assert repo.get_review(s, rid).status == "drafted"
        assert [x.id for x in repo.drafts_for_review(s, rid)] == [d.id]


def test_variants_share_a_group_and_use_different_seeds(core) -> None:
    core.fake_engine.replies = ["Reply one.", "Reply two.", "Reply three."]
    _, drafts = _run(core, DraftRequest(review_id=_review_id(core, "r2"), variants=3, seed=1))
    assert [d.text for d in drafts] == ["Reply one.", "Reply two.", "Reply three."]
    assert len({d.variant_group for d in drafts}) == 1 and drafts[0].variant_group
    assert [d.sampling["seed"] for d in drafts] == [1, 2, 3]


def test_cancel_stops_within_one_token_and_keeps_the_partial_draft(core) -> None:
    engine = core.fake_engine
    engine.gate = threading.Semaphore(0)
    cancel = threading.Event()
    seen: list[str] = []
    stored: list[DraftDTO] = []
    for event in draft(core, DraftRequest(review_id=_review_id(core, "r1")), cancel):
        if isinstance(event, TokenEvent):
            seen.append(event.text)
            if len(seen) == 3:
                cancel.set()
            engine.gate.release()
        else:
            stored.append(event)
    assert len(seen) == 3
    assert stored[0].stopped and stored[0].text == "".join(seen).strip()


def test_adhoc_text_draft_needs_a_valid_rating(core) -> None:
    with pytest.raises(KnownError, match="rating"):
        _run(core, DraftRequest(text="Nice", rating=9))
    _, (d,) = _run(core, DraftRequest(text="Nice place", rating=4))
    assert d.review_id is None


def test_unknown_review_is_a_clear_error(core) -> None:
    with pytest.raises(NotFoundError, match="no review with id 999"):
        _run(core, DraftRequest(review_id=999))


def _events(core) -> list[tuple[str, int | None]]:
    with core.db.session() as s:
        return [(e.kind, e.edit_distance) for e in s.scalars(select(FeedbackEvent))]


def test_accept_edit_reject_and_regenerate_are_recorded(core) -> None:
    rid = _review_id(core, "r1")
    _run(core, DraftRequest(review_id=rid))
    _run(core, DraftRequest(review_id=rid))  # the first draft was never decided on
    rejected = decide(core, rid, "reject")
    assert rejected.event == "rejected" and rejected.status == "drafted"
    edited = decide(core, rid, "edit", final_text=DEFAULT_REPLY + " Warm regards, Anna.")
    assert edited.event == "edited" and edited.status == "approved"
    assert edited.edit_distance == len(" Warm regards, Anna.")
    assert [k for k, _ in _events(core)] == ["regenerated", "rejected", "edited"]

    rid2 = _review_id(core, "r2")
    _run(core, DraftRequest(review_id=rid2))
    accepted = decide(core, rid2, "accept", decision_ms=1234.0)
    assert accepted.event == "accepted" and accepted.final_text == DEFAULT_REPLY
    with core.db.session() as s:
        from app.store import repo

        r = repo.get_review(s, rid2)
        assert r.owner_reply == DEFAULT_REPLY and r.status == "approved"


def test_choosing_a_variant_records_the_others(core) -> None:
    rid = _review_id(core, "r2")
    core.fake_engine.replies = ["A.", "B."]
    _, drafts = _run(core, DraftRequest(review_id=rid, variants=2))
    result = decide(core, rid, "choose", draft_id=drafts[1].id)
    assert result.event == "variant_chosen" and result.final_text == "B."
    with core.db.session() as s:
        ev = s.scalar(select(FeedbackEvent))
        assert ev.other_draft_ids == [drafts[0].id]


def test_decide_without_a_draft_or_with_empty_text(core) -> None:
    rid = _review_id(core, "r1")
    with pytest.raises(KnownError, match="has no draft"):
        decide(core, rid, "accept")
    _run(core, DraftRequest(review_id=rid))
    with pytest.raises(KnownError, match="empty"):
        decide(core, rid, "edit", final_text="   ")
    assert decide(core, rid, "skip").status == "skipped"


def test_engine_failure_mid_draft_keeps_the_text_written_so_far(core) -> None:
    from app.llm.openai_engine import RemoteEngineError

    class Breaking:
        info = core.fake_engine.info

        def stream(self, messages, params, cancel):
            yield "Thank you"
            yield " for"
            raise RemoteEngineError("The connection broke off mid-draft.")

        def prompt_tokens(self) -> int:
            return 0

        def close(self) -> None:
            pass

    core._engine = Breaking()
    got: list[object] = []
    with pytest.raises(RemoteEngineError):
        for event in draft(core, DraftRequest(review_id=_review_id(core, "r1"))):
            got.append(event)
    stored = [e for e in got if isinstance(e, DraftDTO)]
    assert len(stored) == 1 and stored[0].text == "Thank you for" and stored[0].stopped


def test_a_draft_that_parrots_its_prompt_is_flagged_and_stored(core) -> None:
    parrot = ("Use only facts from the business profile and the BUSINESS FACTS block. "
              "Thanks for coming!")
    core.fake_engine.replies = [parrot]
    drafts = [e for e in draft(core, DraftRequest(review_id=_review_id(core, "r1")))
              if isinstance(e, DraftDTO)]
    echoes = [c for c in drafts[0].claims if c.kind == "echo"]
    assert len(echoes) == 1 and echoes[0].text.startswith("Use only facts from the business")
    assert not echoes[0].supported
