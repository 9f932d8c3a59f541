"""Export formats, filters, redaction and atomic replacement (a killed export leaves no mix)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli.main import main
from app.core.errors import KnownError
from app.feedback.export import CSV_COLUMNS, KILL_AFTER_ENV, atomic_file, atomic_folder
from app.feedback.pairs import METADATA_KEYS
from app.services import feedback
from app.services.core import ReplyDesk
from app.services.decisions import decide
from tests.conftest import ROOT
from tests.unit.feedback.helpers import add_review, make_drafts

EDITED = "Dear Sarah, we are sorry the room was dirty. Call us on 020 7946 0958."
DRAFT = "Thank you Sarah for your review."


@pytest.fixture
def populated(core):
    """Three reviews decided: an edit, a rejection then an acceptance, a variant choice."""
    r1 = add_review(core, "Dirty room. I'm Sarah, reach me at sarah@example.com or 555-123-4567.")
    make_drafts(core, r1, DRAFT)
    decide(core, r1, "edit", final_text=EDITED)
    r2 = add_review(core, "Breakfast was cold.", author="Tom Baker", rating=3)
    make_drafts(core, r2, "Ok.")
    decide(core, r2, "reject")
    make_drafts(core, r2, "Sorry the breakfast was cold, Tom.")
    decide(core, r2, "accept")
    r3 = add_review(core, "Great spa!", author=None, rating=5, platform="tripadvisor")
    make_drafts(core, r3, "Thanks!", "Thank you for loving our spa.")
    decide(core, r3, "choose")
    return core


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_dpo_export_is_trl_conversational_preference_jsonl(populated, tmp_path: Path) -> None:
    out = tmp_path / "pairs.jsonl"
    report = feedback.export(populated, "dpo", out)
    rows = _lines(out)
    assert report.pairs == len(rows) == 3
    for row in rows:
        assert list(row) == ["prompt", "chosen", "rejected", "metadata"]
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert [m["role"] for m in row["chosen"]] == [m["role"] for m in row["rejected"]] == [
            "assistant"]
        assert set(row["metadata"]) == set(METADATA_KEYS)
    assert [(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in rows] == [
        (EDITED, DRAFT),
        ("Sorry the breakfast was cold, Tom.", "Ok."),
        ("Thank you for loving our spa.", "Thanks!"),
    ]
    assert rows[2]["metadata"]["platform"] == "tripadvisor"
    assert oct(out.stat().st_mode & 0o777) == "0o600"  # personal data: owner only


def test_kto_export_is_trl_unpaired_preference_jsonl(populated, tmp_path: Path) -> None:
    out = tmp_path / "kto.jsonl"
    report = feedback.export(populated, "kto", out)
    rows = _lines(out)
    assert (report.kto, report.desirable, report.undesirable) == (5, 3, 2)
    assert [list(r) for r in rows] == [["prompt", "completion", "label", "metadata"]] * 5
    assert [(r["completion"][0]["content"], r["label"]) for r in rows] == [
        (EDITED, True), (DRAFT, False), ("Ok.", False),
        ("Sorry the breakfast was cold, Tom.", True), ("Thank you for loving our spa.", True),
    ]
    assert all(r["completion"][0]["role"] == "assistant" for r in rows)


def test_hf_export_is_a_datasets_folder_with_both(populated, tmp_path: Path) -> None:
    from datasets import load_from_disk

    out = tmp_path / "exports" / "dataset"
    feedback.export(populated, "hf", out)
    ds = load_from_disk(str(out))
    assert set(ds) == {"preference", "kto"}
    assert ds["preference"].column_names == ["prompt", "chosen", "rejected", "metadata"]
    assert ds["kto"].column_names == ["prompt", "completion", "label", "metadata"]
    assert (ds["preference"].num_rows, ds["kto"].num_rows) == (3, 5)
    assert ds["preference"][0]["metadata"]["chunk_ids"] == ["doc1:0", "doc2:3"]
    # exporting again replaces the folder in one step
    populated.fake_engine.replies = ["x"]
    feedback.export(populated, "hf", out, min_edit=40)
    assert load_from_disk(str(out))["preference"].num_rows == 1
    assert [p.name for p in out.parent.iterdir()] == ["dataset"]


def test_hf_export_of_nothing_still_loads(core, tmp_path: Path) -> None:
    from datasets import load_from_disk

    feedback.export(core, "hf", tmp_path / "empty")
    ds = load_from_disk(str(tmp_path / "empty"))
    assert (ds["preference"].num_rows, ds["kto"].num_rows) == (0, 0)


def test_csv_export_is_one_readable_row_per_pair_and_example(populated, tmp_path: Path) -> None:
    out = tmp_path / "feedback.csv"
    feedback.export(populated, "csv", out)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # spreadsheet programs need the BOM
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["type"] for r in rows] == ["pair"] * 3 + ["kto"] * 5
    assert rows[0]["review"].startswith("Dirty room.")
    assert (rows[0]["chosen"], rows[0]["rejected"], rows[0]["event"]) == (EDITED, DRAFT, "edited")
    assert (rows[4]["completion"], rows[4]["label"]) == (DRAFT, "false")


def test_redacted_export_hides_names_emails_and_phones_but_keeps_keys(populated,
                                                                      tmp_path: Path) -> None:
    plain, redacted = tmp_path / "plain.jsonl", tmp_path / "redacted.jsonl"
    feedback.export(populated, "dpo", plain)
    report = feedback.export(populated, "dpo", redacted, redact=True)
    assert report.redacted and report.placeholders["NAME"] >= 2
    text = redacted.read_text(encoding="utf-8")
    for secret in ("Sarah", "sarah@example.com", "555-123-4567", "7946 0958", "Tom"):
        assert secret not in text
    first = _lines(redacted)[0]
    assert first["chosen"][0]["content"] == (
        "Dear [NAME_1], we are sorry the room was dirty. Call us on [PHONE_2].")
    assert first["rejected"][0]["content"] == "Thank you [NAME_1] for your review."
    assert ("I'm [NAME_1], reach me at [EMAIL_1] or [PHONE_1]."
            in first["prompt"][1]["content"])
    assert [r["metadata"]["key"] for r in _lines(redacted)] == [
        r["metadata"]["key"] for r in _lines(plain)]


def test_since_and_min_edit_select_rows(populated, tmp_path: Path) -> None:
    out = tmp_path / "pairs.jsonl"
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert feedback.export(populated, "dpo", out, since=tomorrow).pairs == 0
    assert feedback.export(populated, "dpo", out, since=tomorrow - timedelta(days=2)).pairs == 3
    # "Ok." -> "Sorry the breakfast..." and "Thanks!" -> "Thank you for..." are big edits too
    report = feedback.export(populated, "kto", out, min_edit=len(EDITED) + 1)
    labels = [(r["completion"][0]["content"], r["label"]) for r in _lines(out)]
    assert (DRAFT, False) not in labels and (EDITED, True) in labels and ("Ok.", False) in labels
    assert report.kto == 4
    assert feedback.export(populated, "dpo", out, min_edit=len(EDITED) + 1).pairs == 0


def test_a_file_export_refuses_a_folder_and_a_folder_export_refuses_other_files(
    core, tmp_path: Path
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "taxes.pdf").write_bytes(b"%PDF")
    with pytest.raises(KnownError, match="is a folder"):
        feedback.export(core, "dpo", tmp_path / "docs")
    with pytest.raises(KnownError, match="other files"):
        feedback.export(core, "hf", tmp_path / "docs")
    assert (tmp_path / "docs" / "taxes.pdf").read_bytes() == b"%PDF"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_file(target) as f:
        f.write("new, half")
        raise RuntimeError("disk on fire")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "ds") as folder:
        (folder / "x").write_text("half")
        raise RuntimeError("disk on fire")
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_leftovers_of_dead_exports_are_cleaned_up(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f".out.jsonl.{dead.stdout.strip()}.abc.tmp"
    stale.write_text("partial")
    with atomic_file(tmp_path / "out.jsonl") as f:
        f.write("{}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def _export_in_subprocess(data_dir: Path, fmt: str, out: Path, kill_after: int | None
                          ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(KILL_AFTER_ENV, None)
    if kill_after is not None:
        env[KILL_AFTER_ENV] = str(kill_after)
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", "--data-dir", str(data_dir), "export",
         "--format", fmt, "-o", str(out)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def test_killing_an_export_midway_leaves_the_old_file(populated, data_dir, tmp_path) -> None:
    populated.close()
    out = tmp_path / "pairs.jsonl"
    out.write_text('{"old": true}\n', encoding="utf-8")
    killed = _export_in_subprocess(data_dir, "dpo", out, kill_after=2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert out.read_text(encoding="utf-8") == '{"old": true}\n'
    [partial] = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(partial.read_text(encoding="utf-8").splitlines()) == 2  # it died mid-export
    core = ReplyDesk(data_dir)
    try:
        assert feedback.export(core, "dpo", out).pairs == 3
    finally:
        core.close()
    assert len(_lines(out)) == 3
    assert not partial.exists()  # the dead export's leftover is cleaned up


def test_killing_a_folder_export_leaves_the_old_folder(populated, data_dir, tmp_path) -> None:
    out = tmp_path / "dataset"
    feedback.export(populated, "hf", out, min_edit=40)
    populated.close()
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    killed = _export_in_subprocess(data_dir, "hf", out, kill_after=1)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_cli_export_and_stats(populated, data_dir: Path, tmp_path: Path, capsys) -> None:
    populated.close()
    out = tmp_path / "kto.jsonl"
    assert main(["--json", "export", "--format", "kto", "-o", str(out), "--redact",
                 "--since", "2000-01-01"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] and result["kto"] == 5 and result["redacted"] is True
    assert main(["--json", "feedback", "stats"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["events"] == {"accepted": 1, "edited": 1, "variant_chosen": 1, "rejected": 1,
                               "regenerated": 0}
    assert (stats["pairs"], stats["kto"], stats["desirable"], stats["undesirable"]) == (3, 5, 3, 2)
    assert stats["mean_edit_distance"] > 0 and stats["median_decision_s"] is not None
    [model] = stats["per_model"]
    assert model["model_name"] == "fake-model" and model["approved"] == 3
    assert model["accepted_unchanged_rate"] == pytest.approx(0.333, abs=0.001)
    assert main(["feedback", "stats"]) == 0
    assert "pairs: 3" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["export", "--format", "dpo", "-o", str(tmp_path / "x"), "--since", "soon"])
    assert "not a date" in capsys.readouterr().err
