"""``replydesk pairs`` as a user runs it (in process, no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main

RECORDS = [
    {"business_name": "Hotel A", "rating": 1, "review_text": "The room was dirty.",
     "response_text": "Thank you. We are sorry your room was not clean; we have told "
                      "housekeeping. We hope to welcome you back."},
    {"business_name": "Hotel A", "rating": 5, "review_text": "Great pool and breakfast.",
     "response_text": "Thank you! Glad you loved the pool and breakfast. See you again soon."},
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_bootstrap_then_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "records.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    out = tmp_path / "pairs.jsonl"
    rc, text, _ = run(capsys, "--data-dir", str(tmp_path / "d"), "--json", "pairs", "bootstrap",
                      str(src), "-o", str(out), "--min-margin", "0")
    assert rc == 0
    report = json.loads(text)
    assert report["pairs"] == 2 and report["stats"]["by_kind"] == {"other_review": 2}
    rc, text, _ = run(capsys, "--data-dir", str(tmp_path / "d"), "pairs", "show", str(out),
                      "--sort", "easy")
    assert rc == 0 and "rejected: other_review, margin" in text and "chosen 1.0" in text
    rc, text, _ = run(capsys, "--json", "pairs", "show", str(out), "--limit", "1")
    assert len(json.loads(text)["pairs"]) == 1


def test_bad_requests_are_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "d")
    rc, _, err = run(capsys, "--data-dir", d, "pairs", "bootstrap", "-o", str(tmp_path / "x"))
    assert rc == 2 and "records file or --from-db" in err
    rc, _, err = run(capsys, "--data-dir", d, "pairs", "bootstrap", str(tmp_path / "x"), "-o",
                     str(tmp_path / "y"), "--kinds", "stock,bogus")
    assert rc == 2 and "Unknown candidate kind 'bogus'" in err
    rc, _, err = run(capsys, "--data-dir", d, "train", "--pairs", str(tmp_path / "none.jsonl"))
    assert rc == 2 and "Pairs file not found" in err
    rc, _, err = run(capsys, "--data-dir", d, "--json", "pairs", "bootstrap", "--from-db", "-o",
                     str(tmp_path / "y"))
    assert rc == 2 and "No review in the database has a published reply" in err
