"""Importing review files into the store, in batches, with progress and cancel."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from itertools import islice
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from app.core.errors import Cancelled, DatabaseError
from app.core.types import ImportedReview, ImportReport, RowError
from app.services.core import ReplyDesk
from app.store import importers, repo

BATCH = 1000
RETRIES = 3
Progress = Callable[[int], None]


def import_reviews(
    core: ReplyDesk,
    path: Path,
    *,
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
    platform: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ImportReport:
    """Import good rows, report bad ones by line, skip reviews already stored.

    Rows are committed every ``BATCH`` rows, so memory stays bounded for huge files and a
    cancelled or killed import keeps what it committed (re-running it adds only the rest).
    """
    path = Path(path)
    detected = importers.detect_format(path) if fmt == "auto" else fmt
    report = ImportReport(path=str(path), format=detected)
    rows = importers.iter_reviews(path, detected, mapping, default_platform=platform)
    while batch := list(islice(rows, BATCH)):
        for attempt in range(1, RETRIES + 1):
            try:
                imported, duplicates = _store(core, batch)
                break
            except DatabaseError as exc:
                # Another ReplyDesk stored some of these reviews since this batch read the keys
                # already stored: read them again and count those as duplicates.
                if attempt == RETRIES or not isinstance(exc.__cause__, IntegrityError):
                    raise
        report.imported += imported
        report.duplicates += duplicates
        report.errors += [item for item in batch if isinstance(item, RowError)]
        if progress:
            progress(report.rows_seen)
        if cancel is not None and cancel.is_set():
            raise Cancelled
    return report


def _store(core: ReplyDesk, batch: list[ImportedReview | RowError]) -> tuple[int, int]:
    """Add a batch in one transaction; (imported, duplicates)."""
    imported = duplicates = 0
    with core.db.session() as session:
        if core.settings.business_id:
            default_id = repo.get_business(session, core.settings.business_id).id
        else:
            default_id = repo.default_business(session).id
        writer = repo.ReviewWriter(session, default_id)
        writer.prefetch(item for item in batch if not isinstance(item, RowError))
        for item in batch:
            if isinstance(item, RowError):
                continue
            if writer.add(item):
                imported += 1
            else:
                duplicates += 1
    return imported, duplicates
