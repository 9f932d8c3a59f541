"""The benchmark runner (benchmarks/run_all.py), on stand-in scripts: the real ones take long."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.reliability.support import ROOT

GOOD = """
import json
rows = [
    {"figure": "decode tokens/s", "value": 95.0, "anchor": 97.0, "ratio": 0.979,
     "target": ">= 0.97"},
    {"figure": "TTFT cached vs cold", "value": 80.0, "anchor": 300.0, "ratio": 0.267,
     "target": "<= 0.2"},
    {"figure": "store query p95 ms", "value": 12.0, "anchor": 30.0, "ratio": 0.4,
     "target": "<= 30 ms budget"},
    {"figure": "peak RSS MB", "value": 700.0, "anchor": float("nan"), "ratio": None,
     "target": "<= 1024 (with embedder)"},
    {"figure": "reviews/min", "value": 40.0, "target": "-"},
]
print("a table for people")
print("JSON " + json.dumps({"benchmark": "good", "machine": {}, "rows": rows}))
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--dir", str(tmp_path),
         "--output", str(tmp_path / "results.json"), "--timeout", "60", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_runs_every_script_and_combines_their_figures(tmp_path: Path) -> None:
    (tmp_path / "bench_good.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "bench_broken.py").write_text("print('starting'); raise SystemExit(3)\n")
    (tmp_path / "bench_silent.py").write_text("print('no figures')\n")
    (tmp_path / "_helper.py").write_text("raise SystemExit('not a benchmark')\n")
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nHow to run.\n\n<!-- results:start -->\nstale figures\n"
                    "<!-- results:end -->\n\nNotes stay.\n")
    proc = _run(tmp_path, "--update-docs", str(docs))
    assert proc.returncode == 1, proc.stderr  # one script failed, the others still ran
    assert "a table for people" in proc.stdout  # each script's own output is shown
    combined = proc.stdout.split("===== all benchmarks", 1)[1]
    assert "decode tokens/s" in combined and "failed (exit 3)" in combined
    assert "no JSON report" in combined

    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["benchmark"] for r in results["results"]] == ["broken", "good", "silent"]
    assert [r["status"] for r in results["results"]] == ["failed (exit 3)", "ok",
                                                         "no JSON report"]
    assert results["machine"]["cores"] >= 1
    assert len(results["results"][1]["reports"][0]["rows"]) == 5

    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\nHow to run.") and text.endswith("Notes stay.\n")
    assert "stale figures" not in text and "| good | decode tokens/s | 95.000 |" in text
    verdicts = {line.split("|")[2].strip(): line.split("|")[7].strip()
                for line in text.splitlines() if line.startswith("| good |")}
    assert verdicts == {"decode tokens/s": "yes", "TTFT cached vs cold": "NO",
                        "store query p95 ms": "yes", "peak RSS MB": "yes", "reviews/min": ""}


def test_only_skip_args_and_list(tmp_path: Path) -> None:
    (tmp_path / "bench_a.py").write_text(
        "import json, sys\nprint('JSON ' + json.dumps({'benchmark': 'a', 'rows': "
        "[{'figure': 'argv', 'value': len(sys.argv) - 1}]}))\n")
    (tmp_path / "bench_b.py").write_text("raise SystemExit(1)\n")
    listed = _run(tmp_path, "--list")
    assert listed.returncode == 0 and listed.stdout.split()[0::2] == ["a", "b"]
    proc = _run(tmp_path, "--only", "a", "--args", "a=--x 1 --y")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = json.loads((tmp_path / "results.json").read_text())["results"]
    assert result["args"] == ["--x", "1", "--y"] and result["reports"][0]["rows"][0]["value"] == 3
    assert _run(tmp_path, "--skip", "nope").returncode == 2


def test_keep_others_reruns_one_and_keeps_the_rest_with_their_time(tmp_path: Path) -> None:
    for name, value in (("a", 1), ("b", 2)):
        (tmp_path / f"bench_{name}.py").write_text(
            "import json, os\nprint('JSON ' + json.dumps({'benchmark': '" + name + "', 'rows': "
            "[{'figure': 'v', 'value': float(os.environ.get('V', " + str(value) + "))}]}))\n")
    docs = tmp_path / "benchmarks.md"
    assert _run(tmp_path, "--update-docs", str(docs)).returncode == 0
    first = json.loads((tmp_path / "results.json").read_text())
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--dir", str(tmp_path),
         "--output", str(tmp_path / "results.json"), "--only", "b", "--keep-others",
         "--update-docs", str(docs)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**__import__("os").environ, "V": "7"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [r["benchmark"] for r in results] == ["a", "b"]
    assert results[0] == first["results"][0]  # carried over untouched, with its time
    assert results[1]["reports"][0]["rows"][0]["value"] == 7.0
    text = docs.read_text()
    assert "| a | v | 1.000 |" in text and "| b | v | 7.000 |" in text
    assert _run(tmp_path, "--only", "b").returncode == 0  # without the flag: only b is kept
    assert [r["benchmark"] for r in
            json.loads((tmp_path / "results.json").read_text())["results"]] == ["b"]
