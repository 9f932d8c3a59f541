"""Helpers for tests that run ``replydesk`` as a user would: a subprocess on a real data folder."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "replydesk.sqlite3"


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
           "PYTHONUNBUFFERED": "1", **extra}
    env.pop("REPLYDESK_DATA_DIR", None)
    return env


def command(data_dir: Path, *args: str, kill_at: str | None = None) -> list[str]:
    """The argv of a CLI run; with ``kill_at`` it dies by SIGKILL at that point (kill_at.py)."""
    runner = ["-m", "tests.reliability.kill_at", kill_at] if kill_at else ["-m", "app.cli.main"]
    return [sys.executable, *runner, "--data-dir", str(data_dir), *args]


def run_cli(
    data_dir: Path, *args: str, check_rc: int | None = 0, kill_at: str | None = None,
    env: dict[str, str] | None = None, prefix: tuple[str, ...] = (), timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*prefix, *command(data_dir, *args, kill_at=kill_at)], cwd=ROOT,
        env=env or cli_env(), capture_output=True, text=True, timeout=timeout, check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stdout + proc.stderr
    return proc


def run_json(data_dir: Path, *args: str, check_rc: int | None = 0, **kw: Any) -> Any:
    proc = run_cli(data_dir, "--json", *args, check_rc=check_rc, **kw)
    return json.loads(proc.stdout)


def start_cli(data_dir: Path, *args: str, env: dict[str, str] | None = None
              ) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command(data_dir, *args), cwd=ROOT, env=env or cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[bytes] | None = None,
               timeout: float = 120) -> None:
    """Poll ``condition`` (a database count, a file) until it holds; fail if ``proc`` ends first.

    This waits for progress that the test can observe, it does not guess a duration.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended (rc {proc.returncode}) before the point "
                                 f"the test waits for: {proc.stderr.read().decode()[-2000:]}"
                                 if proc.stderr else "the process ended early")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for progress")
        time.sleep(0.02)


def connect(data_dir: Path) -> sqlite3.Connection:
    con = sqlite3.connect(data_dir / DB_NAME, timeout=30)
    con.execute("PRAGMA busy_timeout=30000")
    return con


def count(data_dir: Path, table: str, where: str = "1") -> int:
    if not (data_dir / DB_NAME).exists():
        return 0
    con = connect(data_dir)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    finally:
        con.close()


def assert_intact(data_dir: Path) -> None:
    """The database opens, passes SQLite's integrity check and has no dangling references."""
    con = connect(data_dir)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        con.close()


def snapshot(data_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the owner decided: approved replies, feedback events, and the drafts."""
    con = connect(data_dir)
    try:
        return {
            "approved": con.execute(
                "SELECT id, status, owner_reply FROM review WHERE status = 'approved' "
                "ORDER BY id").fetchall(),
            "events": con.execute(
                "SELECT id, review_id, kind, draft_id, other_draft_ids, final_text, "
                "edit_distance FROM feedback_event ORDER BY id").fetchall(),
            "drafts": con.execute("SELECT id, review_id, text FROM draft ORDER BY id").fetchall(),
            "reviews": con.execute("SELECT id, dedup_key, status FROM review ORDER BY id"
                                   ).fetchall(),
        }
    finally:
        con.close()


def assert_kept(before: dict[str, list[tuple[Any, ...]]],
                after: dict[str, list[tuple[Any, ...]]]) -> None:
    """Every approved reply, event and draft of ``before`` is in ``after`` unchanged."""
    for key in ("approved", "events", "drafts"):
        missing = set(before[key]) - set(after[key])
        assert not missing, f"{key} lost or changed: {sorted(missing)[:5]}"


def write_reviews_csv(path: Path, n: int, *, start: int = 0, text_size: int = 120) -> Path:
    filler = "The room was clean, breakfast was good and the staff were friendly. "
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["review_id", "rating", "review_text", "author", "date"])
        for i in range(start, start + n):
            text = f"Review {i}: " + (filler * (text_size // len(filler) + 1))[:text_size]
            w.writerow([f"ext-{i}", i % 5 + 1, text, f"Guest {i}", "2025-03-01"])
    return path


def seed(data_dir: Path, tmp_path: Path, n: int = 12) -> list[int]:
    """A data folder with reviews, drafts and decisions of every kind, made in-process fast
    (scripted engine). Returns the review ids in import order."""
    from sqlalchemy import select

    from app.services.core import ReplyDesk
    from app.services.decisions import decide
    from app.services.drafting import DraftRequest, draft
    from app.services.importing import import_reviews
    from app.store.models import Review
    from tests.fakes import FakeEngine

    core = ReplyDesk(data_dir, engine_factory=lambda _c: FakeEngine(),
                     retriever_factory=lambda _c: None)
    try:
        import_reviews(core, write_reviews_csv(tmp_path / "seed.csv", n, start=900_000))
        with core.db.session() as s:
            ids = list(s.scalars(select(Review.id).order_by(Review.id)))
        for rid in ids:
            list(draft(core, DraftRequest(review_id=rid, seed=1)))
        list(draft(core, DraftRequest(review_id=ids[3], seed=2)))  # a regenerated draft
        decide(core, ids[0], "accept")
        decide(core, ids[1], "edit", final_text="Thank you, Guest. See you soon!")
        decide(core, ids[2], "reject")
        decide(core, ids[3], "accept")
        decide(core, ids[4], "skip")
    finally:
        core.close()
    return ids
