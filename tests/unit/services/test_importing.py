"""Importing in batches: duplicates found by their own keys, however full the database is."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import event

from app.services import importing
from app.services.importing import import_reviews


def _csv(path: Path, first: int, count: int, *, repeat_first: bool = False) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["review_id", "rating", "text", "platform"])
        for i in range(first, first + count):
            w.writerow([f"r{i}", 1 + i % 5, f"Review number {i}.", "google"])
        if repeat_first:
            w.writerow([f"r{first}", 1 + first % 5, f"Review number {first}.", "google"])
    return path


def test_batches_look_up_only_their_own_keys(fake_core, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(importing, "BATCH", 50)
    assert import_reviews(fake_core, _csv(tmp_path / "a.csv", 0, 300)).imported == 300

    statements: list[str] = []
    engine = fake_core.db.engine

    def record(conn, cursor, statement, params, context, executemany) -> None:
        if "dedup_key" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        # 100 new reviews, 50 already stored, and one repeated inside the file
        report = import_reviews(fake_core, _csv(tmp_path / "b.csv", 250, 150, repeat_first=True))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert (report.imported, report.duplicates) == (100, 51)
    assert statements and all(" IN " in s.upper() for s in statements), statements
    assert import_reviews(fake_core, tmp_path / "b.csv").imported == 0
