"""Preference data from the owner's decisions: derive, export, import back, summarise (DESIGN §6).

``derive`` reads every FeedbackEvent with its drafts and review and applies the rules of
``app.feedback.pairs``; rows read back by ``import_feedback`` (the ``imported_feedback`` table) are
added after them. ``export`` writes the result atomically in one of the formats of
``app.feedback.export``.

Import and dedup: every exported row carries ``metadata.key``, the SHA-256 of its unredacted
content (``pair_key`` / ``kto_key``). ``import_feedback`` skips a row when its key, or the key of
its content as read, is already known: derived from this machine's own decisions, or imported
before. So importing a file exported here, importing the same file twice, or importing a redacted
export of data already here adds nothing. New rows go to ``imported_feedback`` with their
metadata as exported (normalised to the export's metadata keys, ``source`` set to ``import``);
they never become reviews or drafts, so they do not appear in the inbox.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.core.errors import InputFileError
from app.core.types import RowError
from app.feedback import export as exporter
from app.feedback.distance import char_distance, token_distance
from app.feedback.pairs import (
    APPROVALS,
    EVENT_KINDS,
    Derived,
    DraftRecord,
    EventRecord,
    KTORow,
    PreferencePair,
    ReviewRecord,
    kto_key,
    normalise_metadata,
    pair_key,
    same_text,
)
from app.feedback.pairs import derive as derive_rows
from app.feedback.pairs import select as select_rows
from app.services.core import ReplyDesk
from app.store.models import Draft, FeedbackEvent, ImportedFeedback, Review

BATCH = 1000
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _draft(d: Draft) -> DraftRecord:
    sources = [s for s in d.sources or [] if isinstance(s, dict)]
    return DraftRecord(
        id=d.id,
        text=d.text,
        messages=list(d.messages or []),
        model_name=d.model_name,
        model_sha256=d.model_sha256,
        adapter=d.adapter,
        adapter_sha256=d.adapter_sha256,
        sampling=dict(d.sampling or {}),
        chunk_ids=tuple(str(s.get("chunk_id")) for s in sources),
        chunk_scores=tuple(float(s.get("score") or 0.0) for s in sources),
        created_at=d.created_at,
        stopped=d.stopped,
    )


def _review(r: Review) -> ReviewRecord:
    return ReviewRecord(
        id=r.id,
        rating=r.rating,
        platform=r.platform,
        language=r.language,
        business=r.business.name,
        author=r.author,
        text=r.text,
        created_at=r.created_at,
        business_sign_off=r.business.sign_off,
    )


def _chunks(ids: Sequence[int], size: int = 500) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield list(ids[i:i + size])


def load_events(session: Session) -> list[EventRecord]:
    """Every decision on a stored review's draft, with its drafts and review, oldest first."""
    q = (
        select(FeedbackEvent)
        .where(FeedbackEvent.kind.in_(EVENT_KINDS), FeedbackEvent.review_id.is_not(None),
               FeedbackEvent.draft_id.is_not(None))
        .order_by(FeedbackEvent.created_at, FeedbackEvent.id)
    )
    events = list(session.scalars(q))
    draft_ids = sorted({e.draft_id for e in events if e.draft_id is not None}
                       | {int(i) for e in events for i in e.other_draft_ids or []})
    drafts: dict[int, DraftRecord] = {}
    for chunk in _chunks(draft_ids):
        drafts.update((d.id, _draft(d)) for d in session.scalars(
            select(Draft).where(Draft.id.in_(chunk))))
    review_ids = sorted({e.review_id for e in events if e.review_id is not None})
    reviews: dict[int, ReviewRecord] = {}
    for chunk in _chunks(review_ids):
        q_reviews = select(Review).where(Review.id.in_(chunk)).options(
            selectinload(Review.business))
        reviews.update((r.id, _review(r)) for r in session.scalars(q_reviews))
    out = []
    for e in events:
        draft = drafts.get(e.draft_id or -1)
        review = reviews.get(e.review_id or -1)
        if draft is None or review is None:
            continue
        out.append(EventRecord(
            id=e.id,
            kind=e.kind,
            review=review,
            draft=draft,
            others=tuple(drafts[int(i)] for i in e.other_draft_ids or [] if int(i) in drafts),
            final_text=e.final_text,
            edit_distance=e.edit_distance,
            token_edit_distance=e.token_edit_distance,
            decision_ms=e.decision_ms,
            created_at=e.created_at,
        ))
    return out


def _imported_row(row: ImportedFeedback) -> PreferencePair | KTORow:
    meta = normalise_metadata(row.row_metadata)
    meta["key"] = row.key
    if row.kind == "pair":
        return PreferencePair(list(row.prompt), row.chosen or "", row.rejected or "", meta)
    return KTORow(list(row.prompt), row.completion or "", bool(row.label), meta)


def _content_key(row: PreferencePair | KTORow) -> str:
    if isinstance(row, PreferencePair):
        return pair_key(row.prompt, row.chosen, row.rejected)
    return kto_key(row.prompt, row.completion)


def derive(core: ReplyDesk) -> Derived:
    """All preference data: from this machine's decisions, then rows imported from files."""
    with core.db.session() as session:
        derived = derive_rows(load_events(session))
        imported = [_imported_row(r) for r in session.scalars(
            select(ImportedFeedback).order_by(ImportedFeedback.id))]
    known = {p.metadata["key"] for p in derived.pairs} | {k.metadata["key"] for k in derived.kto}
    for row in imported:
        if row.metadata["key"] in known or _content_key(row) in known:
            continue
        known.add(row.metadata["key"])
        if isinstance(row, PreferencePair):
            derived.pairs.append(row)
        else:
            derived.kto.append(row)
    return derived


def export(
    core: ReplyDesk,
    fmt: str,
    path: Path,
    *,
    redact: bool = False,
    since: datetime | None = None,
    min_edit: int | None = None,
) -> exporter.ExportReport:
    """Export preference data (TRL JSONL, a datasets folder, or CSV); atomic."""
    rows = select_rows(derive(core), since=since, min_edit=min_edit)
    return exporter.write(fmt, Path(path), rows, redact=redact)


# --- import-feedback ---------------------------------------------------------------------------


@dataclass
class FeedbackImportReport:
    path: str
    pairs: int = 0
    kto: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.pairs + self.kto


class _BadRow(ValueError):
    pass


def _prompt(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str) and value.strip():
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise _BadRow("'prompt' must be a list of messages or a text")
    out = []
    for m in value:
        if not (isinstance(m, dict) and isinstance(m.get("role"), str)
                and isinstance(m.get("content"), str)):
            raise _BadRow("every prompt message needs a 'role' and a text 'content'")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _reply(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if isinstance(value, list):
        if len(value) != 1 or not isinstance(value[0], dict) \
                or value[0].get("role") != "assistant" or not isinstance(
                    value[0].get("content"), str):
            raise _BadRow(f"'{name}' must be one assistant message")
        value = value[0]["content"]
    if not isinstance(value, str) or not value.strip():
        raise _BadRow(f"'{name}' is missing or empty")
    return value.strip()


def _parse(row: Any) -> PreferencePair | KTORow:
    if not isinstance(row, dict):
        raise _BadRow("each line must be a JSON object")
    prompt = _prompt(row.get("prompt"))
    meta = row.get("metadata")
    meta = normalise_metadata(meta if isinstance(meta, dict) else None)
    meta["source"] = "import"
    if "chosen" in row or "rejected" in row:
        chosen, rejected = _reply(row, "chosen"), _reply(row, "rejected")
        if same_text(chosen, rejected):
            raise _BadRow("'chosen' and 'rejected' are the same text")
        if not isinstance(meta["edit_distance"], int):
            meta["edit_distance"] = char_distance(rejected, chosen)
            meta["token_edit_distance"] = token_distance(rejected, chosen)
        key = pair_key(prompt, chosen, rejected)
        if not (isinstance(meta["key"], str) and _HEX64.match(meta["key"])):
            meta["key"] = key
        return PreferencePair(prompt, chosen, rejected, meta)
    if "completion" in row:
        label = row.get("label")
        if not isinstance(label, bool):
            raise _BadRow("'label' must be true or false")
        completion = _reply(row, "completion")
        if not (isinstance(meta["key"], str) and _HEX64.match(meta["key"])):
            meta["key"] = kto_key(prompt, completion)
        return KTORow(prompt, completion, label, meta)
    raise _BadRow("not a preference row (needs chosen and rejected, or completion and label)")


def _read_rows(path: Path) -> Iterator[tuple[int, PreferencePair | KTORow | RowError]]:
    try:
        f = path.open(encoding="utf-8-sig")
    except OSError as exc:
        raise InputFileError(f"Cannot read {path}: {exc.strerror}.",
                             "Check the path; export files end in .jsonl.", path=path) from exc
    with f:
        try:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield n, _parse(json.loads(line))
                except json.JSONDecodeError as exc:
                    yield n, RowError(n, f"not valid JSON: {exc.msg}")
                except _BadRow as exc:
                    yield n, RowError(n, str(exc))
        except UnicodeDecodeError as exc:
            raise InputFileError(f"{path} is not a UTF-8 text file.",
                                 "Give a JSONL file written by 'replydesk export'.",
                                 path=path) from exc


def import_feedback(core: ReplyDesk, path: Path) -> FeedbackImportReport:
    """Read an exported DPO or KTO JSONL file back, adding only rows not already here."""
    path = Path(path)
    report = FeedbackImportReport(path=str(path))
    derived = derive(core)
    existing: list[PreferencePair | KTORow] = [*derived.pairs, *derived.kto]
    known = {r.metadata["key"] for r in existing} | {_content_key(r) for r in existing}
    rows = _read_rows(path)
    done = False
    while not done:
        staged = 0
        with core.db.session() as session:
            for _n, row in rows:
                if isinstance(row, RowError):
                    report.errors.append(row)
                    continue
                keys = {row.metadata["key"], _content_key(row)}
                if keys & known:
                    report.duplicates += 1
                    continue
                known |= keys
                session.add(_stored(row, path))
                if isinstance(row, PreferencePair):
                    report.pairs += 1
                else:
                    report.kto += 1
                staged += 1
                if staged >= BATCH:
                    break
            else:
                done = True
    return report


def _stored(row: PreferencePair | KTORow, path: Path) -> ImportedFeedback:
    common: dict[str, Any] = {
        "key": row.metadata["key"], "prompt": row.prompt, "row_metadata": row.metadata,
        "source_file": path.name,
    }
    if isinstance(row, PreferencePair):
        return ImportedFeedback(kind="pair", chosen=row.chosen, rejected=row.rejected, **common)
    return ImportedFeedback(kind="kto", completion=row.completion, label=row.label, **common)


# --- stats -------------------------------------------------------------------------------------


@dataclass
class ModelStats:
    model_name: str
    model_sha256: str
    adapter: str | None
    events: dict[str, int]
    approved: int
    accepted_unchanged_rate: float | None
    mean_edit_distance: float | None
    mean_token_edit_distance: float | None


@dataclass
class FeedbackStats:
    events: dict[str, int]
    total_events: int
    pairs: int
    kto: int
    desirable: int
    undesirable: int
    imported_pairs: int
    imported_kto: int
    mean_edit_distance: float | None
    mean_token_edit_distance: float | None
    median_decision_s: float | None
    per_model: list[ModelStats]


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 2) if present else None


def _model_stats(key: tuple[str, str, str | None], evs: list[EventRecord]) -> ModelStats:
    approved = [e for e in evs if e.kind in APPROVALS]
    accepted = sum(e.kind == "accepted" for e in approved)
    return ModelStats(
        model_name=key[0],
        model_sha256=key[1],
        adapter=key[2],
        events=dict(Counter(e.kind for e in evs)),
        approved=len(approved),
        accepted_unchanged_rate=round(accepted / len(approved), 3) if approved else None,
        mean_edit_distance=_mean(e.edit_distance for e in approved),
        mean_token_edit_distance=_mean(e.token_edit_distance for e in approved),
    )


def stats(core: ReplyDesk) -> FeedbackStats:
    """Counts per decision kind, pairs and KTO rows, how much drafts still get edited, per model.

    Edit distances are averaged over approved drafts (an unchanged one counts as 0).
    """
    with core.db.session() as session:
        events = load_events(session)
    derived = derive(core)
    approved = [e for e in events if e.kind in APPROVALS]
    decision_s = [e.decision_ms / 1000 for e in events if e.decision_ms is not None]
    groups: dict[tuple[str, str, str | None], list[EventRecord]] = defaultdict(list)
    for e in events:
        groups[(e.draft.model_name, e.draft.model_sha256, e.draft.adapter)].append(e)
    rows: list[PreferencePair | KTORow] = [*derived.pairs, *derived.kto]
    imported = [r for r in rows if r.metadata.get("source") == "import"]
    return FeedbackStats(
        events={k: sum(e.kind == k for e in events) for k in EVENT_KINDS},
        total_events=len(events),
        pairs=len(derived.pairs),
        kto=len(derived.kto),
        desirable=sum(k.label for k in derived.kto),
        undesirable=sum(not k.label for k in derived.kto),
        imported_pairs=sum(isinstance(r, PreferencePair) for r in imported),
        imported_kto=sum(isinstance(r, KTORow) for r in imported),
        mean_edit_distance=_mean(e.edit_distance for e in approved),
        mean_token_edit_distance=_mean(e.token_edit_distance for e in approved),
        median_decision_s=round(statistics.median(decision_s), 1) if decision_s else None,
        per_model=[_model_stats(k, v) for k, v in sorted(
            groups.items(), key=lambda kv: (-len(kv[1]), kv[0][0], kv[0][2] or ""))],
    )
