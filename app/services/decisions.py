"""The owner's decisions on drafts; each one is stored as a FeedbackEvent (DESIGN §6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

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


def _elapsed_ms(since: datetime) -> float:
    """Time to decide, when the caller did not measure it: from the draft's creation."""
    if since.tzinfo is None:  # SQLite hands back naive UTC
        since = since.replace(tzinfo=UTC)
    return round(max(0.0, (repo.now() - since).total_seconds() * 1000), 1)


def _decided_ids(session: Session, review_id: int) -> set[int]:
    """Drafts of a review that a decision already covers (including variants not chosen)."""
    rows = session.execute(
        select(FeedbackEvent.draft_id, FeedbackEvent.other_draft_ids).where(
            FeedbackEvent.review_id == review_id
        )
    )
    decided: set[int] = set()
    for draft_id, others in rows:
        if draft_id is not None:
            decided.add(draft_id)
        decided.update(others or [])
    return decided


def record_regenerated(session: Session, review_id: int) -> None:
    """New drafts were asked for while the last ones were undecided: a mild rejection of each
    (every variant of the last set, not only the last one shown)."""
    last = repo.latest_draft(session, review_id)
    if last is None:
        return
    drafts = [last]
    if last.variant_group:
        drafts = list(session.scalars(
            select(Draft).where(Draft.variant_group == last.variant_group).order_by(Draft.id)
        ))
    decided = _decided_ids(session, review_id)
    for d in drafts:
        if d.id not in decided:
            repo.add_feedback(session, review_id=review_id, kind="regenerated", draft_id=d.id,
                              decision_ms=_elapsed_ms(d.created_at))


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
        if decision_ms is None:
            decision_ms = _elapsed_ms(draft.created_at)
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
