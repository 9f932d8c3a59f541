"""The packaged desktop app (packaging/replydesk.spec, scripts/build_bundle.sh).

The bundle is built once per change of its inputs and kept in ~/.cache/replydesk/bundle, so a
run without changes reuses it; a clean clone builds it.  It is then run the way a user runs it:
its own executable, an environment without our virtualenv or any PYTHONPATH, a fresh HOME.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.model]

ICON = "io.github.replydesk.ReplyDesk"
BUILD_TIMEOUT_S = 3000


@pytest.fixture(scope="module")
def bundle() -> Path:
    proc = subprocess.run([str(ROOT / "scripts" / "build_bundle.sh")], cwd=ROOT,
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
    assert proc.returncode == 0, proc.stderr[-6000:]
    folder = Path(proc.stdout.strip().splitlines()[-1])
    assert (folder / "ReplyDesk").is_file(), proc.stderr[-3000:]
    return folder


def bare_env(tmp_path: Path) -> dict[str, str]:
    """As on a machine without Python: system PATH only, nothing of the developer's setup."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "XDG_RUNTIME_DIR": str(home), "TMPDIR": str(tmp_path)}


@pytest.mark.timeout(BUILD_TIMEOUT_S + 600)
def test_the_bundle_starts_offscreen_and_drafts_with_the_bundled_model(
    bundle: Path, tmp_path: Path
) -> None:
    proc = subprocess.run([str(bundle / "ReplyDesk"), "--smoke-test"], env=bare_env(tmp_path),
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["text"].strip() and report["tokens_streamed"] > 0, report
    assert report["model"].startswith("SmolLM2-135M-Instruct"), report
    assert report["bundle"] == str(bundle)
    if "profile: full" in (bundle / "BUILD-INFO").read_text(encoding="utf-8"):
        # indexed by the embedder's helper process (multiprocessing spawn in a frozen app)
        assert report["knowledge"]["chunks"] > 0 and report["sources"], report
    assert not list(tmp_path.glob("replydesk-smoke-*")), "the smoke test left its data behind"


@pytest.mark.timeout(BUILD_TIMEOUT_S + 600)
def test_the_bundled_command_line_tool_imports_and_drafts(bundle: Path, tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    data = tmp_path / "data"
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("rating,review\n2,Cold soup and a long wait.\n", encoding="utf-8")

    def replydesk(*args: str) -> dict:
        proc = subprocess.run([str(bundle / "replydesk"), "--data-dir", str(data), "--json",
                               *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=600, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return json.loads(proc.stdout)

    full = "profile: full" in (bundle / "BUILD-INFO").read_text(encoding="utf-8")
    verified = replydesk("models", "verify", *([] if full else ["SmolLM2-135M-Instruct (Q4_1)"]))
    assert verified["ok"], verified  # the lean bundle has no embedding model
    assert replydesk("import", str(reviews))["imported"] == 1
    drafted = replydesk("draft", "1", "--seed", "2")
    assert drafted["text"].strip() and drafted["model"]["sha256"].startswith("b179c952")
    if full:
        # the knowledge base: chromadb, sentence-transformers, torch and the embedding model
        assert replydesk("kb", "add", "--sample")["chunks"] > 0
        hits = replydesk("kb", "search", "Is there parking nearby?", "-k", "3")["results"]
        assert any("park" in h["text"].lower() for h in hits), hits


@pytest.mark.timeout(BUILD_TIMEOUT_S + 600)
def test_desktop_entry_metainfo_and_icons(bundle: Path) -> None:
    share = bundle / "share"
    desktop = share / "applications" / f"{ICON}.desktop"
    metainfo = share / "metainfo" / f"{ICON}.metainfo.xml"
    assert desktop.is_file() and metainfo.is_file()
    for size in (16, 32, 48, 64, 128, 256, 512):
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON}.png").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON}.svg").is_file()
    if not shutil.which("appstreamcli") or not shutil.which("desktop-file-validate"):
        pytest.skip("appstreamcli / desktop-file-validate are not installed "
                    "(Debian: apt-get install appstream desktop-file-utils)")
    check = subprocess.run(["appstreamcli", "validate", "--no-net", str(metainfo)],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    check = subprocess.run(["desktop-file-validate", str(desktop)],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr


@pytest.mark.timeout(BUILD_TIMEOUT_S + 600)
def test_the_bundle_leaves_out_training_test_and_server_libraries(bundle: Path) -> None:
    internal = bundle / "_internal"
    for name in ("trl", "peft", "datasets", "accelerate", "pyarrow", "pandas", "pytest",
                 "hypothesis", "fastapi", "uvicorn", "PySide6/Qt/lib/libQt6WebEngineCore.so.6"):
        assert not (internal / name).exists(), f"{name} should not be in the bundle"
    lib = internal / "llama_cpp" / "lib"
    info = (bundle / "BUILD-INFO").read_text(encoding="utf-8")
    if "portable" in info:
        assert len(list(lib.glob("libggml-cpu-*.so"))) >= 8, sorted(os.listdir(lib))
