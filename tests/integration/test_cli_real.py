"""The ``replydesk`` command as a user runs it: a subprocess, real files, the real model."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def run(data_dir: Path, *args: str, check_rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("REPLYDESK_DATA_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stdout + proc.stderr
    return proc


def run_json(data_dir: Path, *args: str, check_rc: int | None = 0) -> dict:
    return json.loads(run(data_dir, "--json", *args, check_rc=check_rc).stdout)


@pytest.fixture(scope="module")
def hotel_dir(tmp_path_factory: pytest.TempPathFactory, shared_records: Path) -> Path:
    d = tmp_path_factory.mktemp("hotels")
    first = run_json(d, "import", str(shared_records))
    assert (first["imported"], first["rejected"]) == (5614, 0)
    return d


def test_reimporting_the_shared_records_adds_nothing(hotel_dir: Path, shared_records: Path) -> None:
    again = run_json(hotel_dir, "import", str(shared_records))
    assert (again["imported"], again["duplicates"]) == (0, 5614)
    listed = run_json(hotel_dir, "reviews", "--limit", "5")
    assert sum(listed["counts"].values()) == 5614


def test_draft_for_a_one_star_review_with_the_real_model(hotel_dir: Path) -> None:
    one_star = run_json(hotel_dir, "reviews", "--rating", "1", "--limit", "1")["reviews"][0]
    result = run_json(hotel_dir, "draft", str(one_star["id"]), "--seed", "3")
    assert len(result["text"].split()) >= 5
    assert result["model"]["sha256"].startswith("b179c952")
    for key in ("ttft_ms", "tokens", "tokens_per_s", "total_ms", "prompt_tokens"):
        assert result["timings"][key] > 0, key
    con = sqlite3.connect(hotel_dir / "replydesk.sqlite3")
    stored = con.execute("SELECT review_id, text FROM draft WHERE id = ?",
                         (result["draft_id"],)).fetchone()
    con.close()
    assert stored == (one_star["id"], result["text"])

    decided = run_json(hotel_dir, "decide", str(one_star["id"]), "--edit-text",
                       result["text"] + " We hope to see you again.")
    assert decided["event"] == "edited" and decided["status"] == "approved"


def test_draft_for_ad_hoc_text_streams_to_the_terminal(tmp_path: Path) -> None:
    proc = run(tmp_path, "draft", "--text", "Great pizza, slow service.", "--rating", "3",
               "--seed", "1")
    assert "--- draft 1:" in proc.stdout and "tokens/s" in proc.stdout


def test_mixed_file_imports_good_rows_and_reports_bad_ones_by_line(tmp_path: Path) -> None:
    f = tmp_path / "mixed.csv"
    f.write_text("stars,review,author\n5,Lovely,Ann\nabc,Bad rating row,Bo\n4,Fine,Cy\n"
                 "9,Out of range,Di\n3,,Ed\n", encoding="utf-8")
    result = run_json(tmp_path / "d", "import", str(f), check_rc=1)
    assert result["imported"] == 2
    assert [e["line"] for e in result["errors"]] == [3, 5, 6]
    human = run(tmp_path / "d", "import", str(f), check_rc=1).stdout
    assert "line 3:" in human and "line 5:" in human


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("no_text.csv", "rating,author\n5,Ann\n", "text"),
        ("garbage.csv", bytes(range(256)) * 64, "garbage.csv"),
    ],
)
def test_unusable_files_fail_with_a_clear_message(
    tmp_path: Path, name: str, content: str | bytes, needle: str
) -> None:
    f = tmp_path / name
    if isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(content, encoding="utf-8")
    proc = run(tmp_path / "d", "import", str(f), check_rc=2)
    assert needle in proc.stderr


def test_models_list_verify_and_add(tmp_path: Path, default_model: Path) -> None:
    listed = run_json(tmp_path, "models", "list")["models"]
    assert {m["kind"] for m in listed} >= {"chat", "embedding"}
    assert run_json(tmp_path, "models", "verify")["ok"]
    copy = tmp_path / "my-model.gguf"
    shutil.copyfile(default_model, copy)
    added = run_json(tmp_path, "models", "add", str(copy), "--name", "mine")
    assert (added["architecture"], added["context_length"], added["quantization"]) == (
        "llama", 8192, "Q4_1")
    assert added["chat_template"] is True


@pytest.mark.parametrize("kind", ["truncated", "not_gguf", "missing"])
def test_broken_model_files_give_clear_errors_and_the_cli_still_works(
    tmp_path: Path, default_model: Path, kind: str
) -> None:
    bad = tmp_path / "bad.gguf"
    if kind == "truncated":
        bad.write_bytes(default_model.read_bytes()[: 5_000_000])
    elif kind == "not_gguf":
        bad.write_text("<html>404 Not Found</html>")
    data = tmp_path / "d"
    proc = run(data, "models", "add", str(bad), check_rc=2)
    assert str(bad) in proc.stderr
    assert {"truncated": "incomplete", "not_gguf": "not a GGUF", "missing": "not found"}[
        kind] in proc.stderr
    assert run_json(data, "reviews")["reviews"] == []


def test_a_model_that_breaks_after_registration_fails_drafting_clearly(
    tmp_path: Path, default_model: Path
) -> None:
    copy = tmp_path / "mine.gguf"
    shutil.copyfile(default_model, copy)
    data = tmp_path / "d"
    run(data, "models", "add", str(copy), "--name", "mine")
    run(data, "models", "use", "mine")
    with copy.open("r+b") as f:
        f.truncate(1_000_000)
    proc = run(data, "draft", "--text", "Nice", "--rating", "5", check_rc=2)
    assert "incomplete" in proc.stderr and str(copy) in proc.stderr
