"""Two or more ReplyDesk processes on one data folder (the GUI open while a script imports).

SQLite in WAL mode lets readers run beside one writer, and ``busy_timeout`` makes a second
writer wait for the first instead of failing. These tests start real CLI processes at once and
check that every one of them succeeds, that nothing is lost or doubled, and that the database
stays intact.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.reliability.support import (
    assert_intact,
    assert_kept,
    count,
    seed,
    snapshot,
    start_cli,
    write_reviews_csv,
)


def _finish(proc: subprocess.Popen[bytes], timeout: float = 600) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert b"Traceback" not in err, err.decode()
    assert proc.returncode == 0, (proc.returncode, err.decode()[-2000:])
    return json.loads(out)


@pytest.mark.slow
def test_two_imports_and_decisions_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = seed(data, tmp_path)
    before = snapshot(data)
    a = write_reviews_csv(tmp_path / "a.csv", 8000)
    b = write_reviews_csv(tmp_path / "b.csv", 8000, start=8000)
    procs = [start_cli(data, "--json", "import", str(a)),
             start_cli(data, "--json", "import", str(b))]
    # Decisions and a listing while both imports write.
    deciders = [start_cli(data, "--json", "decide", str(rid), "--accept") for rid in ids[5:10]]
    lister = start_cli(data, "--json", "reviews", "--status", "approved")
    results = [_finish(p) for p in procs]
    decided = [_finish(p) for p in deciders]
    listed = _finish(lister)

    assert [r["imported"] for r in results] == [8000, 8000]
    assert all(d["status"] == "approved" for d in decided)
    assert len(listed["reviews"]) >= len(before["approved"])
    assert count(data, "review") == len(before["reviews"]) + 16_000
    assert_intact(data)
    after = snapshot(data)
    assert_kept(before, after)
    assert {rid for rid, _, _ in after["approved"]} >= set(ids[5:10])


@pytest.mark.slow
def test_the_same_file_imported_twice_at_once_is_stored_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed(data, tmp_path)
    before = snapshot(data)
    n = 6000
    same = write_reviews_csv(tmp_path / "same.csv", n)
    procs = [start_cli(data, "--json", "import", str(same)) for _ in range(3)]
    results = [_finish(p) for p in procs]
    assert sum(r["imported"] for r in results) == n
    assert sum(r["duplicates"] for r in results) == 2 * n
    assert count(data, "review") == len(before["reviews"]) + n
    assert_intact(data)
    assert_kept(before, snapshot(data))
