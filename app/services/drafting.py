"""Drafting replies: retrieve context, build the prompt, stream tokens, check claims, store.

``draft`` is a plain generator (no Qt): the CLI prints its tokens, the GUI's worker thread turns
them into signals.  Setting ``cancel`` stops generation within one token; what was written so far
is still stored, marked as stopped.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

from app.core.errors import KnownError
from app.core.types import BusinessProfile, DraftDTO, RetrievedChunk, SamplingParams, Timings
from app.knowledge.query import review_query
from app.llm import prompts
from app.llm.claims import check_claims, prompt_copies
from app.services.core import ReplyDesk
from app.services.decisions import record_regenerated
from app.store import repo


@dataclass(frozen=True)
class DraftRequest:
    review_id: int | None = None
    text: str | None = None  # an ad-hoc review (``draft --text``), not stored as a Review
    rating: int | None = None
    title: str | None = None
    platform: str | None = None
    variants: int = 1
    seed: int | None = None


@dataclass(frozen=True)
class TokenEvent:
    variant: int
    text: str


@dataclass(frozen=True)
class _Subject:
    review_id: int | None
    business: BusinessProfile
    rating: int
    text: str
    title: str | None
    author: str | None
    platform: str | None


def sampling(core: ReplyDesk, seed: int | None = None) -> SamplingParams:
    s = core.settings
    return SamplingParams(
        temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens, seed=seed
    )


def _subject(core: ReplyDesk, request: DraftRequest) -> _Subject:
    with core.db.session() as session:
        if request.review_id is not None:
            r = repo.get_review(session, request.review_id)
            return _Subject(r.id, repo.profile_of(r.business), r.rating, r.text, r.title,
                            r.author, r.platform)
        if not request.text or not request.text.strip():
            raise KnownError("Nothing to reply to.", "Give a review id, or --text with --rating.")
        if request.rating is None or not 1 <= request.rating <= 5:
            raise KnownError("The rating must be a whole number from 1 to 5.")
        bid = core.settings.business_id
        b = repo.get_business(session, bid) if bid else repo.default_business(session)
        return _Subject(None, repo.profile_of(b), request.rating, request.text.strip(),
                        request.title, None, request.platform)


def retrieval_query(subject: _Subject) -> str:
    """The review's detected aspects, title and text (see ``app.knowledge.query``)."""
    return review_query(subject.title, subject.text)


def retrieve(core: ReplyDesk, subject: _Subject) -> list[RetrievedChunk]:
    retriever = core.retriever()
    if retriever is None:
        return []
    s = core.settings
    return retriever.retrieve(
        subject.business.id, retrieval_query(subject), s.retrieval_k, s.retrieval_min_score
    )


def profile_lines(profile: BusinessProfile) -> list[str]:
    return [profile.name, profile.sign_off, profile.voice, *profile.facts]


def draft(
    core: ReplyDesk, request: DraftRequest, cancel: threading.Event | None = None
) -> Iterator[TokenEvent | DraftDTO]:
    """Yield tokens as they come, then each finished (and stored) draft."""
    cancel = cancel or threading.Event()
    subject = _subject(core, request)
    if subject.review_id is not None:
        with core.db.session() as session:
            record_regenerated(session, subject.review_id)
    chunks = retrieve(core, subject)
    messages = prompts.build_messages(
        subject.business,
        rating=subject.rating,
        text=subject.text,
        title=subject.title,
        author=subject.author,
        platform=subject.platform,
        chunks=chunks,
    )
    taught = prompts.instructions(subject.business, subject.platform)
    was_loaded = core.engine_loaded()
    engine = core.engine()
    load_ms = 0.0 if was_loaded else core.engine_load_ms
    group = uuid.uuid4().hex if request.variants > 1 else None
    base_seed = request.seed if request.seed is not None else random.randrange(2**31)
    for variant in range(max(1, request.variants)):
        if cancel.is_set():
            return
        params = replace(sampling(core), seed=base_seed + variant)
        timings = Timings(load_ms=load_ms if variant == 0 else 0.0)
        pieces: list[str] = []
        started = time.perf_counter()
        broken: KnownError | None = None
        try:
            for piece in engine.stream(messages, params, cancel):
                if not pieces:
                    timings.ttft_ms = (time.perf_counter() - started) * 1000
                pieces.append(piece)
                yield TokenEvent(variant, piece)
        except KnownError as exc:  # e.g. a remote server went away: keep what was written
            if not pieces:
                raise
            broken = exc
        timings.total_ms = (time.perf_counter() - started) * 1000
        timings.tokens = len(pieces)
        timings.prompt_tokens = engine.prompt_tokens()
        text = "".join(pieces).strip()
        claims = check_claims(
            text,
            review=f"{subject.title or ''}\n{subject.text}",
            profile=profile_lines(subject.business),
            context=[c.text for c in chunks],
        )
        claims = sorted([*claims, *prompt_copies(text, taught, prompts.SECTIONS)],
                        key=lambda c: (c.start, c.end))
        with core.db.session() as session:  # committed before the draft is handed out
            stored = repo.add_draft(
                session,
                review_id=subject.review_id,
                business_id=subject.business.id,
                text=text,
                model_name=engine.info.model_name,
                model_sha256=engine.info.model_sha256,
                adapter=engine.info.adapter,
                adapter_sha256=engine.info.adapter_sha256,
                sampling=params.as_dict(),
                messages=messages,
                sources=chunks,
                claims=claims,
                timings=timings.as_dict(),
                variant_group=group,
                stopped=cancel.is_set() or broken is not None,
            )
        yield stored
        if broken is not None:
            raise broken
