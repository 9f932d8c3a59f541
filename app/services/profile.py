"""Reading and editing the business profile used in every prompt."""

from __future__ import annotations

from typing import Any

from app.core.errors import KnownError
from app.core.types import BusinessProfile
from app.services.core import ReplyDesk
from app.store import repo

EDITABLE = ("name", "type", "voice", "sign_off", "languages", "facts")


def current(core: ReplyDesk, business_id: int | None = None) -> BusinessProfile:
    with core.db.session() as session:
        bid = business_id or core.settings.business_id
        b = repo.get_business(session, bid) if bid else repo.default_business(session)
        return repo.profile_of(b)


def businesses(core: ReplyDesk) -> list[BusinessProfile]:
    with core.db.session() as session:
        repo.default_business(session)
        return repo.list_businesses(session)


def update(core: ReplyDesk, business_id: int | None = None, **changes: Any) -> BusinessProfile:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise KnownError(f"Unknown profile fields: {', '.join(sorted(unknown))}.")
    if "name" in changes and not str(changes["name"]).strip():
        raise KnownError("The business name cannot be empty.")
    with core.db.session() as session:
        bid = business_id or core.settings.business_id
        b = repo.get_business(session, bid) if bid else repo.default_business(session)
        for key, value in changes.items():
            if key in ("languages", "facts"):
                value = [str(v).strip() for v in value if str(v).strip()]
            setattr(b, key, value)
        session.flush()
        return repo.profile_of(b)
