"""A feature whose optional libraries are absent ends in advice, never in an ImportError."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from app.cli.main import main
from app.core import extras
from app.core.errors import KnownError


def test_missing_names_only_what_cannot_be_imported() -> None:
    assert extras.missing(("json", "no_such_module_rd", "sqlite3")) == ["no_such_module_rd"]


def test_require_advises_pip_in_a_python_environment_and_export_in_the_bundle(
        monkeypatch: pytest.MonkeyPatch) -> None:
    extras.require("JSON", ("json",))  # present: nothing happens
    with pytest.raises(KnownError) as err:
        extras.require("Training", ("json", "no_such_module_rd"))
    assert "Training needs no_such_module_rd" in err.value.message
    assert "[train]" in err.value.hint
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(KnownError) as err:
        extras.require("Training", ("no_such_module_rd",))
    assert "desktop build" in err.value.hint and "replydesk export" in err.value.hint


@pytest.fixture
def no_training_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    absent = {"trl", "datasets"}
    monkeypatch.setattr(extras, "missing", lambda modules: [m for m in modules if m in absent])


def test_cli_train_without_trl_is_a_user_error(tmp_path: Path, no_training_stack: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({
        "prompt": [{"role": "user", "content": "The room was cold."}],
        "chosen": [{"role": "assistant", "content": "Sorry about the heating; fixed now."}],
        "rejected": [{"role": "assistant", "content": "Thanks for your review."}]}) + "\n")
    rc = main(["--data-dir", str(tmp_path / "d"), "train", "--pairs", str(pairs)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Training needs trl, datasets, which are not installed" in err
    assert "Traceback" not in err


def test_cli_hf_export_without_datasets_leaves_no_folder(
        tmp_path: Path, no_training_stack: None, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out"
    rc = main(["--data-dir", str(tmp_path / "d"), "export", "--format", "hf", "-o", str(target)])
    err = capsys.readouterr().err
    assert rc == 2 and "--format hf) needs datasets" in err and "Traceback" not in err
    assert not target.exists() and list(tmp_path.iterdir()) == [tmp_path / "d"]
