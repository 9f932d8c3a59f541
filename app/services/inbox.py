"""The inbox: filtered, ordered review lists read in pages, and counts per status.

Built for 100,000+ reviews: ``review_ids`` returns only the ordered ids of a filter (one scan,
run off the UI thread), and ``rows`` turns one page of ids into light table rows by primary key,
so a view can load pages lazily as the user scrolls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select

from app.core.types import DraftDTO, ReviewDTO
from app.services.core import ReplyDesk
from app.store import repo
from app.store.models import Location, Review

UNANSWERED = ("new", "drafted")
FLAGGED_MAX_RATING = 2  # 1-2 stars: the owner should look at these first
EXCERPT_CHARS = 240


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows.  ``status`` is a review status, ``"unanswered"`` or None (all)."""

    status: str | None = None
    rating: int | None = None
    flagged_only: bool = False
    platform: str | None = None
    location: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    search: str = ""


@dataclass(frozen=True)
class InboxRow:
    """One line of the inbox table (the full review is read when it is opened)."""

    id: int
    rating: int
    status: str
    platform: str
    author: str | None
    created_at: datetime | None
    title: str | None
    excerpt: str
    location: str | None

    @property
    def flagged(self) -> bool:
        return self.rating <= FLAGGED_MAX_RATING

    @property
    def unanswered(self) -> bool:
        return self.status in UNANSWERED


@dataclass(frozen=True)
class Facets:
    """The values the filter menus offer."""

    platforms: list[str]
    locations: list[str]


def _conditions(f: InboxFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.status == "unanswered":
        where.append(Review.status.in_(UNANSWERED))
    elif f.status:
        where.append(Review.status == f.status)
    if f.rating:
        where.append(Review.rating == f.rating)
    if f.flagged_only:
        where.append(Review.rating <= FLAGGED_MAX_RATING)
    if f.platform:
        where.append(Review.platform == f.platform)
    if f.location:
        where.append(Review.location_id.in_(select(Location.id).where(Location.name == f.location)))
    if f.date_from:
        where.append(Review.created_at >= datetime.combine(f.date_from, time.min))
    if f.date_to:
        where.append(Review.created_at < datetime.combine(f.date_to + timedelta(days=1), time.min))
    for word in f.search.split():
        where.append(Review.text.contains(word) | Review.title.contains(word)
                     | Review.author.contains(word))
    return where


def _ordered(q: Select[Any]) -> Select[Any]:
    """Unanswered first, then lowest rating, then newest (reviews without a date last)."""
    return q.order_by(
        Review.status.in_(UNANSWERED).desc(),
        Review.rating,
        func.coalesce(Review.created_at, "").desc(),
        Review.id,
    )


def review_ids(core: ReplyDesk, f: InboxFilter) -> list[int]:
    """Every matching id in inbox order (hundreds of ms at 100k reviews: not on the UI thread)."""
    q = _ordered(select(Review.id).where(and_(True, *_conditions(f))))
    with core.db.session() as session:
        return list(session.scalars(q))


def rows(core: ReplyDesk, ids: Sequence[int]) -> list[InboxRow]:
    """Table rows for ``ids``, in the same order (a page: a few ms)."""
    if not ids:
        return []
    q = (
        select(Review.id, Review.rating, Review.status, Review.platform, Review.author,
               Review.created_at, Review.title, func.substr(Review.text, 1, EXCERPT_CHARS),
               Location.name)
        .outerjoin(Location, Review.location_id == Location.id)
        .where(Review.id.in_(list(ids)))
    )
    with core.db.session() as session:
        found = {r[0]: InboxRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                                " ".join((r[7] or "").split()), r[8])
                 for r in session.execute(q)}
    return [found[i] for i in ids if i in found]


def status_counts(core: ReplyDesk) -> dict[str, int]:
    with core.db.session() as session:
        return repo.status_counts(session)


def facets(core: ReplyDesk) -> Facets:
    with core.db.session() as session:
        platforms = session.scalars(select(Review.platform).distinct().order_by(Review.platform))
        locations = session.scalars(select(Location.name).distinct().order_by(Location.name))
        return Facets(list(platforms), list(locations))


def review(core: ReplyDesk, review_id: int) -> ReviewDTO:
    with core.db.session() as session:
        return repo.review_dto(repo.get_review(session, review_id))


def drafts(core: ReplyDesk, review_id: int) -> list[DraftDTO]:
    """Every draft written for the review, oldest first."""
    with core.db.session() as session:
        return repo.drafts_for_review(session, review_id)
