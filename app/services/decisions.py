"""The owner's decisions on drafts; each one is stored as a FeedbackEvent (DESIGN §6)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import KnownError
from app.feedback.distance import char_distance, token_distance
from app.services.core import ReplyDesk
from app.store import repo
from app.store.models import Draft, FeedbackEvent

ACTIONS = ("accept", "edit", "reject", "skip", "choose")


@dataclass(frozen=True)
class Decision:
    review_id: int
    event: str | None
    status: str
    final_text: str | None
    draft_id: int | None
    edit_distance: int | None = None


def _undecided(session: Session, draft: Draft) -> bool:
    q = select(FeedbackEvent.id).where(FeedbackEvent.draft_id == draft.id).limit(1)
    return session.scalar(q) is None


def record_regenerated(session: Session, review_id: int) -> None:
    """A new draft was asked for while the last one was undecided: a mild rejection of it."""
    last = repo.latest_draft(session, review_id)
    if last is not None and _undecided(session, last):
        repo.add_feedback(session, review_id=review_id, kind="regenerated", draft_id=last.id)


def decide(
    core: ReplyDesk,
    review_id: int,
    action: str,
    *,
    final_text: str | None = None,
    draft_id: int | None = None,
    decision_ms: float | None = None,
) -> Decision:
    if action not in ACTIONS:
        raise KnownError(f"Unknown decision {action!r}.", f"Use one of: {', '.join(ACTIONS)}.")
    with core.db.session() as session:
        review = repo.get_review(session, review_id)
        if action == "skip":
            review.status = "skipped"
            return Decision(review_id, None, review.status, None, None)
        draft = repo.get_draft(session, draft_id) if draft_id else repo.latest_draft(
            session, review_id
        )
        if draft is None or draft.review_id != review_id:
            raise KnownError(
                f"Review {review_id} has no draft to decide on.",
                f"Run 'replydesk draft {review_id}' first.",
            )
        if action == "reject":
            repo.add_feedback(session, review_id=review_id, kind="rejected", draft_id=draft.id,
                              decision_ms=decision_ms)
            return Decision(review_id, "rejected", review.status, None, draft.id)

        final = (final_text if final_text is not None else draft.text).strip()
        if not final:
            raise KnownError("The approved reply is empty.", "Write a reply or reject the draft.")
        others: list[int] = []
        if action == "choose":
            kind = "variant_chosen"
            if draft.variant_group:
                group = session.scalars(
                    select(Draft.id).where(Draft.variant_group == draft.variant_group)
                )
                others = [i for i in group if i != draft.id]
        elif final == draft.text.strip():
            kind = "accepted"
        else:
            kind = "edited"
        distance = char_distance(draft.text.strip(), final)
        repo.add_feedback(
            session,
            review_id=review_id,
            kind=kind,
            draft_id=draft.id,
            other_draft_ids=others,
            final_text=final,
            edit_distance=distance,
            token_edit_distance=token_distance(draft.text.strip(), final),
            decision_ms=decision_ms,
        )
        review.status = "approved"
        review.owner_reply = final
        review.replied_at = repo.now()
        return Decision(review_id, kind, review.status, final, draft.id, distance)
