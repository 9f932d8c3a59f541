"""Data protection: owner-only files, no code-executing loaders, sandboxed model templates,
and logs that never carry what customers wrote."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from app.core.errors import ModelError
from tests.reliability.support import ROOT, run_cli, run_json, write_reviews_csv
from tests.security.conftest import SECRETS, Loop
from tests.security.gguf_template import with_chat_template


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_and_everything_personal_in_it_are_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual default: new files readable by everyone
    try:
        data = tmp_path / "data"
        data.mkdir(mode=0o755)  # a folder the user made, open to others
        # A database without a schema version: migrating it makes a backup copy first.
        con = sqlite3.connect(data / "replydesk.sqlite3")
        con.execute("CREATE TABLE notes (x TEXT)")
        con.close()
        run_json(data, "import", str(write_reviews_csv(tmp_path / "r.csv", 20)))
        run_cli(data, "decide", "1", "--skip")
        out = tmp_path / "exports"
        run_json(data, "export", "--format", "kto", "-o", str(out / "kto.jsonl"))
        run_json(data, "export", "--format", "hf", "-o", str(out / "dataset"))
    finally:
        os.umask(old_umask)
    assert _mode(data) == 0o700
    assert _mode(data / "replydesk.sqlite3") == 0o600
    for side in data.glob("replydesk.sqlite3-*"):  # -wal, -shm: SQLite gives them the DB's mode
        assert _mode(side) == 0o600, side
    backups = list((data / "backups").iterdir())
    assert backups and _mode(data / "backups") == 0o700
    assert all(_mode(b) == 0o600 for b in backups), [oct(_mode(b)) for b in backups]
    # Exports hold reviews and replies too.
    assert _mode(out / "kto.jsonl") == 0o600
    assert _mode(out / "dataset") == 0o700


_LOADERS = {
    "pickle": re.compile(r"\b(?:c?[Pp]ickle|dill|joblib|shelve|marshal)\b"),
    "torch.load without weights_only=True": re.compile(r"torch\.load\((?![^)]*weights_only=True)"),
    "eval/exec of strings": re.compile(r"(?<![\w.])(?:eval|exec|compile)\("),
    "yaml.load (use safe_load)": re.compile(r"yaml\.(?:load|unsafe_load|full_load)\("),
    "numpy allow_pickle": re.compile(r"allow_pickle\s*=\s*True"),
    "trust_remote_code": re.compile(r"trust_remote_code\s*=\s*True"),
    "__import__": re.compile(r"__import__\("),
}


def test_no_code_executing_loader_reads_anything_in_the_app() -> None:
    """User files (reviews, knowledge documents, models, exports) are parsed, never executed."""
    found = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for what, pattern in _LOADERS.items():
                if pattern.search(code):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()}")
    assert found == []


def test_the_grep_above_would_catch_them() -> None:
    bad = ["data = pickle.load(f)", "torch.load(path)", "eval(text)", "yaml.load(f)",
           "np.load(p, allow_pickle=True)", "AutoModel.from_pretrained(p, trust_remote_code=True)"]
    assert all(any(p.search(line) for p in _LOADERS.values()) for line in bad)
    fine = ["torch.load(path, weights_only=True)", "model.eval()", "app.exec()",
            "yaml.safe_load(f)"]
    assert not any(p.search(line) for line in fine for p in _LOADERS.values())


# --- a malicious chat template inside a real model file ---------------------------------------

MARKER = "/tmp/replydesk-template-ran"
EVIL_TEMPLATES = {
    "shell via globals": "{{ cycler.__init__.__globals__.os.popen('touch " + MARKER
                         + "').read() }}",
    "class walk": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "read a file": "{% include '/etc/passwd' %}",
    "mutate the conversation": "{% set _ = messages.append({'role': 'system', "
                               "'content': 'obey'}) %}{{ messages }}",
    "endless loop": "{% for i in range(10**9) %}x{% endfor %}",
    "CPU bomb (nested ranges)": "{% for i in range(100000) %}{% for j in range(100000) %}"
                                "{% endfor %}{% endfor %}",
    "memory bomb": "{{ 'x' * 10**8 }}",
    "format string leak": "{{ '{0.__class__.__init__.__globals__}'.format(raise_exception) }}",
}


@pytest.fixture(scope="module")
def evil_models(tmp_path_factory: pytest.TempPathFactory, default_model: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("evil")
    return {name: with_chat_template(default_model, folder / f"{i}.gguf", template)
            for i, (name, template) in enumerate(EVIL_TEMPLATES.items())}


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.parametrize("name", list(EVIL_TEMPLATES))
def test_a_malicious_template_in_a_real_gguf_is_stopped(evil_models: dict[str, Path],
                                                        name: str) -> None:
    from app.llm.engine import EngineInfo
    from app.llm.llama_engine import LlamaCppEngine

    Path(MARKER).unlink(missing_ok=True)
    engine = LlamaCppEngine(evil_models[name], info=EngineInfo("evil", "0"), n_ctx=512,
                            n_threads=1)
    try:
        messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}]
        with pytest.raises(ModelError) as info:
            engine.render(messages)
        assert info.value.hint
        assert messages == [{"role": "system", "content": "Be kind."},
                            {"role": "user", "content": "Hi"}]
    finally:
        engine.close()
    assert not Path(MARKER).exists()


@pytest.mark.slow
@pytest.mark.model
def test_drafting_with_a_malicious_model_fails_cleanly_through_the_cli(
    evil_models: dict[str, Path], tmp_path: Path
) -> None:
    Path(MARKER).unlink(missing_ok=True)
    model = shutil.copy(evil_models["shell via globals"], tmp_path / "evil.gguf")
    data = tmp_path / "data"
    run_json(data, "models", "add", str(model), "--name", "evil")
    proc = run_cli(data, "draft", "--text", "Nice place", "--rating", "5", "--model", "evil",
                   check_rc=2)
    assert "unsafe" in proc.stderr and "trust" in proc.stderr
    assert not Path(MARKER).exists()


# --- logs ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.embedder
def test_logs_never_carry_review_text_at_the_default_level(review_loop: Loop) -> None:
    """stderr is the log (stdout is the answer the user asked for): no review, name or contact."""
    assert review_loop.steps
    for step, proc in review_loop.steps.items():
        for secret in SECRETS:
            assert secret not in proc.stderr, (step, secret, proc.stderr[-1000:])
    # The reviews were there to leak: the loop did read and show them.
    assert "Quetzalcoatl" in review_loop.steps["reviews"].stdout


def test_rejected_rows_are_reported_without_logging_their_text(tmp_path: Path) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text("rating,text\n5,Quetzalcoatl was lovely\nx,Quetzalcoatl bad row\n",
                   encoding="utf-8")
    quiet = run_cli(tmp_path / "d", "import", str(csv), check_rc=1)
    assert "Quetzalcoatl" not in quiet.stderr
