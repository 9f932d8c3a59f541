"""Repository functions: the only code that turns ORM rows into DTOs and back."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.errors import NotFoundError
from app.core.types import (
    BusinessProfile,
    ClaimFinding,
    DraftDTO,
    ImportedReview,
    RetrievedChunk,
    ReviewDTO,
)
from app.store.models import Business, Draft, FeedbackEvent, Location, Review

DEFAULT_BUSINESS = "My business"


def dedup_key(item: ImportedReview) -> str:
    if item.external_id:
        return item.external_id
    created = item.created_at.date().isoformat() if item.created_at else ""
    raw = "\x1f".join((item.author or "", created, item.title or "", item.text))
    return "sha1:" + hashlib.sha1(raw.encode("utf-8")).hexdigest()


def profile_of(b: Business) -> BusinessProfile:
    return BusinessProfile(
        id=b.id,
        name=b.name,
        type=b.type,
        voice=b.voice,
        sign_off=b.sign_off,
        languages=tuple(b.languages or ()),
        facts=tuple(b.facts or ()),
    )


def business_by_name(session: Session, name: str, *, create: bool = True) -> Business:
    b = session.scalar(select(Business).where(Business.name == name))
    if b is None:
        if not create:
            raise NotFoundError(
                f"There is no business called {name!r}.", "Run 'replydesk profile' to list them."
            )
        b = Business(name=name)
        session.add(b)
        session.flush()
    return b


def default_business(session: Session) -> Business:
    """The first business, created on first use: most users run one shop."""
    b = session.scalar(select(Business).order_by(Business.id).limit(1))
    return b if b is not None else business_by_name(session, DEFAULT_BUSINESS)


def get_business(session: Session, business_id: int) -> Business:
    b = session.get(Business, business_id)
    if b is None:
        raise NotFoundError(f"There is no business with id {business_id}.")
    return b


def list_businesses(session: Session) -> list[BusinessProfile]:
    return [profile_of(b) for b in session.scalars(select(Business).order_by(Business.id))]


def _location(session: Session, cache: dict[tuple[int, str], int], bid: int, name: str) -> int:
    key = (bid, name)
    if key not in cache:
        loc = session.scalar(
            select(Location).where(Location.business_id == bid, Location.name == name)
        )
        if loc is None:
            loc = Location(business_id=bid, name=name)
            session.add(loc)
            session.flush()
        cache[key] = loc.id
    return cache[key]


class ReviewWriter:
    """Inserts imported reviews in batches, skipping ones already stored (by dedup key)."""

    def __init__(self, session: Session, default_business_id: int) -> None:
        self.session = session
        self.default_business_id = default_business_id
        self._businesses: dict[str, int] = {}
        self._locations: dict[tuple[int, str], int] = {}
        self._seen: dict[tuple[int, str], set[str]] = {}  # keys stored or staged
        self._probed: dict[tuple[int, str], set[str]] = {}  # keys looked up by prefetch
        self._complete: set[tuple[int, str]] = set()  # groups whose keys were all read

    def _business_id(self, name: str | None) -> int:
        if not name:
            return self.default_business_id
        if name not in self._businesses:
            self._businesses[name] = business_by_name(self.session, name).id
        return self._businesses[name]

    def _existing(self, bid: int, platform: str) -> set[str]:
        group = (bid, platform)
        if group not in self._complete:
            rows = self.session.scalars(
                select(Review.dedup_key).where(
                    Review.business_id == bid, Review.platform == platform
                )
            )
            self._seen.setdefault(group, set()).update(rows)
            self._complete.add(group)
        return self._seen[group]

    def prefetch(self, items: Iterable[ImportedReview]) -> None:
        """Look up whether these reviews are stored, by their own keys (the unique index), so a
        batch costs the same however many reviews the database already holds; without it the
        first :meth:`add` per business and platform reads every stored key."""
        groups: dict[tuple[int, str], set[str]] = {}
        for item in items:
            group = (self._business_id(item.business_name), item.platform)
            groups.setdefault(group, set()).add(dedup_key(item))
        for (bid, platform), keys in groups.items():
            seen = self._seen.setdefault((bid, platform), set())
            self._probed.setdefault((bid, platform), set()).update(keys)
            wanted = sorted(keys)
            for start in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
                seen.update(self.session.scalars(select(Review.dedup_key).where(
                    Review.business_id == bid, Review.platform == platform,
                    Review.dedup_key.in_(wanted[start:start + 500]))))

    def add(self, item: ImportedReview) -> bool:
        """Stage one review; False when it is already stored."""
        bid = self._business_id(item.business_name)
        key = dedup_key(item)
        group = (bid, item.platform)
        if key in self._probed.get(group, ()):
            existing = self._seen[group]
        else:
            existing = self._existing(bid, item.platform)
        if key in existing:
            return False
        existing.add(key)
        loc = (
            _location(self.session, self._locations, bid, item.location_name)
            if item.location_name
            else None
        )
        self.session.add(
            Review(
                business_id=bid,
                location_id=loc,
                platform=item.platform,
                external_id=item.external_id,
                dedup_key=key,
                author=item.author,
                rating=item.rating,
                title=item.title,
                text=item.text,
                language=item.language,
                created_at=item.created_at,
                status="posted" if item.owner_reply else "new",
                owner_reply=item.owner_reply,
                replied_at=item.reply_created_at,
            )
        )
        return True


def review_dto(r: Review) -> ReviewDTO:
    return ReviewDTO(
        id=r.id,
        business_id=r.business_id,
        platform=r.platform,
        external_id=r.external_id,
        author=r.author,
        rating=r.rating,
        title=r.title,
        text=r.text,
        language=r.language,
        created_at=r.created_at,
        status=r.status,
        owner_reply=r.owner_reply,
        location=r.location.name if r.location is not None else None,
    )


def get_review(session: Session, review_id: int) -> Review:
    r = session.get(Review, review_id)
    if r is None:
        raise NotFoundError(
            f"There is no review with id {review_id}.",
            "Run 'replydesk reviews' to see the ids.",
        )
    return r


def list_reviews(
    session: Session,
    *,
    status: str | None = None,
    rating: int | None = None,
    business_id: int | None = None,
    search: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> list[ReviewDTO]:
    """Unanswered first (new, then drafted), lowest rating first, newest first."""
    q = select(Review)
    if status:
        q = q.where(Review.status == status)
    if rating:
        q = q.where(Review.rating == rating)
    if business_id:
        q = q.where(Review.business_id == business_id)
    if search:
        q = q.where(Review.text.contains(search) | Review.title.contains(search))
    unanswered = Review.status.in_(("new", "drafted"))
    q = q.order_by(unanswered.desc(), Review.rating, Review.created_at.desc(), Review.id)
    q = q.offset(offset)
    if limit:
        q = q.limit(limit)
    return [review_dto(r) for r in session.scalars(q)]


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Review.status, func.count()).group_by(Review.status))
    return {status: count for status, count in rows}


def _chunk(d: dict[str, Any]) -> RetrievedChunk:
    return RetrievedChunk(**d)


def _claim(d: dict[str, Any]) -> ClaimFinding:
    return ClaimFinding(**d)


def draft_dto(d: Draft) -> DraftDTO:
    return DraftDTO(
        id=d.id,
        review_id=d.review_id,
        text=d.text,
        model_name=d.model_name,
        model_sha256=d.model_sha256,
        adapter=d.adapter,
        sampling=dict(d.sampling or {}),
        timings=dict(d.timings or {}),
        messages=list(d.messages or []),
        sources=[_chunk(c) for c in d.sources or []],
        claims=[_claim(c) for c in d.claims or []],
        created_at=d.created_at,
        variant_group=d.variant_group,
        stopped=d.stopped,
    )


def add_draft(
    session: Session,
    *,
    review_id: int | None,
    business_id: int | None,
    text: str,
    model_name: str,
    model_sha256: str,
    adapter: str | None,
    adapter_sha256: str | None,
    sampling: dict[str, Any],
    messages: list[dict[str, str]],
    sources: Sequence[RetrievedChunk],
    claims: Sequence[ClaimFinding],
    timings: dict[str, Any],
    variant_group: str | None = None,
    stopped: bool = False,
) -> DraftDTO:
    d = Draft(
        review_id=review_id,
        business_id=business_id,
        text=text,
        model_name=model_name,
        model_sha256=model_sha256,
        adapter=adapter,
        adapter_sha256=adapter_sha256,
        sampling=sampling,
        messages=messages,
        sources=[asdict(c) for c in sources],
        claims=[asdict(c) for c in claims],
        timings=timings,
        variant_group=variant_group,
        stopped=stopped,
    )
    session.add(d)
    if review_id is not None:
        r = get_review(session, review_id)
        if r.status == "new":
            r.status = "drafted"
    session.flush()
    return draft_dto(d)


def get_draft(session: Session, draft_id: int) -> Draft:
    d = session.get(Draft, draft_id)
    if d is None:
        raise NotFoundError(f"There is no draft with id {draft_id}.")
    return d


def drafts_for_review(session: Session, review_id: int) -> list[DraftDTO]:
    q = select(Draft).where(Draft.review_id == review_id).order_by(Draft.id)
    return [draft_dto(d) for d in session.scalars(q)]


def latest_draft(session: Session, review_id: int) -> Draft | None:
    q = select(Draft).where(Draft.review_id == review_id).order_by(Draft.id.desc()).limit(1)
    return session.scalar(q)


def add_feedback(session: Session, **fields: Any) -> FeedbackEvent:
    ev = FeedbackEvent(**fields)
    session.add(ev)
    session.flush()
    return ev


def now() -> datetime:
    return datetime.now(UTC)


def reviews_by_ids(session: Session, ids: Iterable[int]) -> list[Review]:
    return list(session.scalars(select(Review).where(Review.id.in_(list(ids)))))
