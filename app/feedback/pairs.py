"""Turning the owner's decisions into preference data (DESIGN §6).

Rules, per review, in the order the decisions were made:

- **accepted** unchanged: a desirable KTO row for the approved text;
- **edited** then approved: a DPO pair (chosen = the approved text, rejected = the draft), a
  desirable KTO row for the approved text and an undesirable one for the draft;
- **variant_chosen**: a pair of the approved text against each other variant, and a desirable KTO
  row for it (a variant that was merely not picked is not labelled undesirable on its own); if the
  chosen variant was also edited, it is handled like an edit as well;
- **rejected** / **regenerated**: an undesirable KTO row for the draft, and, once a later draft of
  the same review is approved, a pair of that approval against the discarded draft.

A pair whose prompt comes from two drafts uses the prompt of the approved one: its retrieved
context is what the approved text was written from. Texts that are equal up to white space never
form a pair. A draft the owner stopped halfway is never used as a rejected or undesirable
example (it is a prefix, not an answer). Duplicate pairs keep their first occurrence; when the
same prompt and completion get both labels, the later decision wins.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.feedback.distance import char_distance, token_distance

Messages = list[dict[str, str]]

APPROVALS = ("accepted", "edited", "variant_chosen")
DISCARDS = ("rejected", "regenerated")
EVENT_KINDS = (*APPROVALS, *DISCARDS)

# Every row's metadata has exactly these keys, so that Arrow sees one schema.
METADATA_KEYS = (
    "key", "source", "event", "event_id", "review_id", "rating", "platform", "language",
    "business", "draft_id", "chosen_draft_id", "rejected_draft_id", "model_name",
    "model_sha256", "adapter", "adapter_sha256", "sampling", "chunk_ids", "chunk_scores",
    "edit_distance", "token_edit_distance", "decision_ms", "review_created_at",
    "draft_created_at", "decided_at",
)


@dataclass(frozen=True)
class DraftRecord:
    id: int
    text: str
    messages: Messages
    model_name: str
    model_sha256: str
    adapter: str | None = None
    adapter_sha256: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    chunk_ids: tuple[str, ...] = ()
    chunk_scores: tuple[float, ...] = ()
    created_at: datetime | None = None
    stopped: bool = False


@dataclass(frozen=True)
class ReviewRecord:
    id: int
    rating: int
    platform: str
    language: str | None
    business: str | None
    author: str | None = None
    text: str = ""
    created_at: datetime | None = None
    business_sign_off: str = ""


@dataclass(frozen=True)
class EventRecord:
    """One FeedbackEvent with what it refers to, loaded by the service layer."""

    id: int
    kind: str
    review: ReviewRecord
    draft: DraftRecord
    others: tuple[DraftRecord, ...] = ()
    final_text: str | None = None
    edit_distance: int | None = None
    token_edit_distance: int | None = None
    decision_ms: float | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class PreferencePair:
    prompt: Messages
    chosen: str
    rejected: str
    metadata: dict[str, Any]
    review: ReviewRecord | None = None  # for redaction and the CSV; None for imported rows

    def as_trl(self) -> dict[str, Any]:
        """TRL's conversational preference format, metadata under its own key."""
        return {
            "prompt": self.prompt,
            "chosen": [{"role": "assistant", "content": self.chosen}],
            "rejected": [{"role": "assistant", "content": self.rejected}],
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class KTORow:
    prompt: Messages
    completion: str
    label: bool
    metadata: dict[str, Any]
    review: ReviewRecord | None = None

    def as_trl(self) -> dict[str, Any]:
        """TRL's conversational unpaired preference format."""
        return {
            "prompt": self.prompt,
            "completion": [{"role": "assistant", "content": self.completion}],
            "label": self.label,
            "metadata": self.metadata,
        }


@dataclass
class Derived:
    pairs: list[PreferencePair] = field(default_factory=list)
    kto: list[KTORow] = field(default_factory=list)


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:  # SQLite hands back naive UTC
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat()


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _messages(prompt: Sequence[dict[str, Any]]) -> Messages:
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]


def _flat(text: str) -> str:
    return " ".join(text.split())


def pair_key(prompt: Sequence[dict[str, Any]], chosen: str, rejected: str) -> str:
    """Stable id of a pair's content (replies up to white space): the dedup key for exports
    and ``import-feedback``."""
    raw = _canonical(["pair", _messages(prompt), _flat(chosen), _flat(rejected)])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def kto_key(prompt: Sequence[dict[str, Any]], completion: str) -> str:
    """Stable id of a prompt and completion (the label is what a later decision may change)."""
    raw = _canonical(["kto", _messages(prompt), _flat(completion)])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def same_text(a: str, b: str) -> bool:
    return _flat(a) == _flat(b)


def empty_metadata() -> dict[str, Any]:
    return dict.fromkeys(METADATA_KEYS)


_INT_KEYS = frozenset((
    "event_id", "review_id", "rating", "draft_id", "chosen_draft_id", "rejected_draft_id",
    "edit_distance", "token_edit_distance",
))


def _coerce(key: str, value: Any) -> Any:
    """One metadata value as the type exports use, or None (Arrow needs one type per column)."""
    try:
        if key == "sampling":
            return {str(k): v for k, v in value.items()
                    if v is None or isinstance(v, (int, float))} if isinstance(value, dict) \
                else {}
        if key == "chunk_ids":
            return [str(v) for v in value] if isinstance(value, list) else []
        if key == "chunk_scores":
            return [float(v) for v in value] if isinstance(value, list) else []
        if value is None or isinstance(value, (dict, list)):
            return None
        if key in _INT_KEYS:
            return int(value)
        if key == "decision_ms":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        return None


def normalise_metadata(meta: dict[str, Any] | None) -> dict[str, Any]:
    """The metadata with exactly ``METADATA_KEYS`` and their types (missing or unusable values
    become None, unknown keys are dropped), so rows from any file export together."""
    meta = meta or {}
    return {k: _coerce(k, meta.get(k)) for k in METADATA_KEYS}


def _metadata(ev: EventRecord, prompt_draft: DraftRecord) -> dict[str, Any]:
    meta = empty_metadata()
    r = ev.review
    meta.update(
        source="decision",
        event=ev.kind,
        event_id=ev.id,
        review_id=r.id,
        rating=r.rating,
        platform=r.platform,
        language=r.language,
        business=r.business,
        draft_id=prompt_draft.id,
        model_name=prompt_draft.model_name,
        model_sha256=prompt_draft.model_sha256,
        adapter=prompt_draft.adapter,
        adapter_sha256=prompt_draft.adapter_sha256,
        sampling=dict(prompt_draft.sampling),
        chunk_ids=list(prompt_draft.chunk_ids),
        chunk_scores=list(prompt_draft.chunk_scores),
        decision_ms=ev.decision_ms,
        review_created_at=_iso(r.created_at),
        draft_created_at=_iso(prompt_draft.created_at),
        decided_at=_iso(ev.created_at),
    )
    return meta


class _Builder:
    def __init__(self) -> None:
        self.pairs: dict[str, PreferencePair] = {}
        self.kto: dict[str, KTORow] = {}

    def pair(
        self, ev: EventRecord, prompt_draft: DraftRecord, chosen: str, rejected: DraftRecord,
        origin: EventRecord | None = None,
    ) -> None:
        """A pair completed by approval ``ev``; ``origin`` is the discard it answers, if any."""
        chosen = chosen.strip()
        if rejected.stopped or not chosen or not rejected.text.strip():
            return
        if same_text(chosen, rejected.text):
            return
        prompt = _messages(prompt_draft.messages)
        key = pair_key(prompt, chosen, rejected.text)
        if key in self.pairs:
            return
        meta = _metadata(ev, prompt_draft)
        if origin is not None:
            meta.update(event=origin.kind, event_id=origin.id)
        meta.update(
            key=key,
            chosen_draft_id=prompt_draft.id,
            rejected_draft_id=rejected.id,
            edit_distance=char_distance(rejected.text.strip(), chosen),
            token_edit_distance=token_distance(rejected.text.strip(), chosen),
        )
        self.pairs[key] = PreferencePair(prompt, chosen, rejected.text.strip(), meta, ev.review)

    def kto_row(
        self, ev: EventRecord, draft: DraftRecord, text: str, label: bool,
        distance: tuple[int | None, int | None],
    ) -> None:
        text = text.strip()
        if not text or (not label and draft.stopped):
            return
        prompt = _messages(draft.messages)
        key = kto_key(prompt, text)
        meta = _metadata(ev, draft)
        meta.update(key=key, edit_distance=distance[0], token_edit_distance=distance[1])
        self.kto.pop(key, None)  # a later decision wins, and its row moves to its place in time
        self.kto[key] = KTORow(prompt, text, label, meta, ev.review)


def _order(ev: EventRecord) -> tuple[datetime, int]:
    t = ev.created_at or datetime.min.replace(tzinfo=UTC)
    return (t if t.tzinfo else t.replace(tzinfo=UTC), ev.id)


def derive(events: Iterable[EventRecord]) -> Derived:
    """Pairs and KTO rows from decisions, in the order the decisions were made."""
    b = _Builder()
    pending: dict[int, list[EventRecord]] = {}  # review id -> discarded drafts awaiting approval
    for ev in sorted(events, key=_order):
        if ev.kind in DISCARDS:
            b.kto_row(ev, ev.draft, ev.draft.text, False, (None, None))
            pending.setdefault(ev.review.id, []).append(ev)
            continue
        if ev.kind not in APPROVALS or not ev.final_text:
            continue
        final = ev.final_text.strip()
        distance = (ev.edit_distance, ev.token_edit_distance)
        edited = not same_text(final, ev.draft.text)
        if ev.kind == "edited" or (ev.kind == "variant_chosen" and edited):
            b.pair(ev, ev.draft, final, ev.draft)
        for other in ev.others:
            b.pair(ev, ev.draft, final, other)
        for discarded in pending.pop(ev.review.id, []):
            b.pair(ev, ev.draft, final, discarded.draft, discarded)
        b.kto_row(ev, ev.draft, final, True, distance)
        if edited:
            b.kto_row(ev, ev.draft, ev.draft.text, False, distance)
    return Derived(list(b.pairs.values()), list(b.kto.values()))


def _decided(meta: dict[str, Any]) -> datetime | None:
    value = meta.get("decided_at")
    if not value:
        return None
    try:
        t = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def select(
    derived: Derived, *, since: datetime | None = None, min_edit: int | None = None
) -> Derived:
    """The rows decided at or after ``since``, without trivial edits.

    ``min_edit`` drops pairs whose texts differ by fewer than that many characters, and the
    undesirable rows of drafts that were only touched up that much (a fixed typo does not make
    a draft bad); desirable rows are kept. Rows without a decision time are left out when
    ``since`` is given.
    """
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    def recent(meta: dict[str, Any]) -> bool:
        if since is None:
            return True
        t = _decided(meta)
        return t is not None and t >= since

    def small(meta: dict[str, Any]) -> bool:
        d = meta.get("edit_distance")
        return min_edit is not None and isinstance(d, int) and d < min_edit

    return Derived(
        [p for p in derived.pairs if recent(p.metadata) and not small(p.metadata)],
        [k for k in derived.kto if recent(k.metadata) and (k.label or not small(k.metadata))],
    )
