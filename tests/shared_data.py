"""Where the development records live (``../shared/data``; never shipped with the product).

A clone may sit anywhere, so look beside it first, then at the workplace's shared folder;
``REPLYDESK_SHARED_RECORDS`` overrides both.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_NAME = Path("shared") / "data" / "hotel_reviews_with_replies.jsonl"


def shared_records() -> Path:
    override = os.environ.get("REPLYDESK_SHARED_RECORDS")
    if override:
        return Path(override)
    candidates = [ROOT.parent / _NAME, Path("/work") / _NAME]
    return next((p for p in candidates if p.is_file()), candidates[0])


SHARED_RECORDS = shared_records()
