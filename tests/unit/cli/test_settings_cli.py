"""``replydesk settings``: show, set (typed, validated) and reset, as used for shared servers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.cli.main import main
from app.core import settings


def run(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, dict, str]:
    code = main(["--data-dir", str(data), "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_set_converts_types_and_saves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, tmp_path, "settings", "set", "temperature=0.25", "variants=3",
                       "redact_exports=no", "llm_backend=openai",
                       "openai_base_url=http://127.0.0.1:8000/v1", "chroma_url=http://h:8001")
    assert code == 0
    assert out["changed"] == sorted(["temperature", "variants", "redact_exports", "llm_backend",
                                     "openai_base_url", "chroma_url"])
    saved = settings.load(tmp_path)
    assert (saved.temperature, saved.variants, saved.redact_exports) == (0.25, 3, False)
    assert (saved.llm_backend, saved.chroma_url) == ("openai", "http://h:8001")
    if os.name == "posix":
        assert tmp_path.stat().st_mode & 0o077 == 0


def test_show_is_the_default_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, tmp_path, "settings")
    assert code == 0 and out["settings"] == json.loads(json.dumps(
        settings.Settings().__dict__))


@pytest.mark.parametrize(("pair", "message"), [
    ("nope=1", "There is no setting called 'nope'"),
    ("threads=many", "threads needs a whole number"),
    ("redact_exports=maybe", "redact_exports needs true or false"),
    ("temperature=9", "temperature must be between 0 and 2"),
    ("llm_backend=cloud", "llm_backend must be 'local' or 'openai'"),
    ("llm_backend=openai", "needs the server's address"),
    ("chroma_url=localhost:8001", "must be an http:// or https:// address"),
    ("temperature", "is not KEY=VALUE"),
])
def test_bad_values_are_refused_and_nothing_is_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pair: str, message: str
) -> None:
    code, out, err = run(capsys, tmp_path, "settings", "set", pair)
    assert code == 2 and message in out["error"] and message in err
    assert settings.load(tmp_path) == settings.Settings()


def test_reset_goes_back_to_the_local_model_without_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, tmp_path, "settings", "set", "llm_backend=openai",
        "openai_base_url=http://127.0.0.1:8000/v1", "max_tokens=99")
    code, _, _ = run(capsys, tmp_path, "settings", "reset", "openai_base_url")
    assert code == 0
    saved = settings.load(tmp_path)
    assert (saved.llm_backend, saved.openai_base_url, saved.max_tokens) == ("local", "", 99)
    code, _, _ = run(capsys, tmp_path, "settings", "reset", "--all")
    assert code == 0 and settings.load(tmp_path) == settings.Settings()
