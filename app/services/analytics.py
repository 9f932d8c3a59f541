"""How the business is doing: rating distribution, reply rate and response time per month.

(How much drafts get edited, per model and adapter, is ``app.services.feedback.stats``.)
Two grouped queries and one pass over replied reviews: about 0.2 s at 100k reviews, so the GUI
runs it on a worker thread.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from sqlalchemy import case, func, select

from app.services.core import ReplyDesk
from app.store.models import Review

REPLIED = ("approved", "posted")


@dataclass(frozen=True)
class MonthStats:
    month: str  # YYYY-MM of the review date
    reviews: int
    replied: int
    median_response_hours: float | None

    @property
    def reply_rate(self) -> float:
        return self.replied / self.reviews if self.reviews else 0.0


@dataclass(frozen=True)
class Summary:
    total: int
    ratings: dict[int, int]
    months: list[MonthStats]


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return max(0.0, (end - start).total_seconds() / 3600)


def summary(core: ReplyDesk, *, last_months: int = 24) -> Summary:
    with core.db.session() as session:
        ratings = {
            int(rating): int(count)
            for rating, count in session.execute(
                select(Review.rating, func.count()).group_by(Review.rating)
            )
        }
        month = func.strftime("%Y-%m", Review.created_at)
        replied_count = func.sum(case((Review.status.in_(REPLIED), 1), else_=0))
        per_month = {
            m: (int(n), int(replied or 0))
            for m, n, replied in session.execute(
                select(month, func.count(), replied_count)
                .where(Review.created_at.is_not(None))
                .group_by(month)
            )
        }
        delays: dict[str, list[float]] = defaultdict(list)
        q = select(Review.created_at, Review.replied_at).where(
            Review.status.in_(REPLIED), Review.created_at.is_not(None),
            Review.replied_at.is_not(None),
        )
        for created, replied_at in session.execute(q):
            hours = _hours(created, replied_at)
            if created is not None and hours is not None:
                delays[created.strftime("%Y-%m")].append(hours)
        months = [
            MonthStats(m, n, replied, median(delays[m]) if delays[m] else None)
            for m, (n, replied) in sorted(per_month.items())
        ][-last_months:]
    return Summary(sum(ratings.values()), ratings, months)
