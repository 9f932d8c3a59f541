"""Helpers shared by the benchmark scripts: timing, reporting, and the machine description."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
from tests.shared_data import shared_records  # noqa: E402

DEFAULT_MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
SHARED_RECORDS = shared_records()


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": platform.platform()}


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak RSS (Linux VmHWM; ``ru_maxrss`` elsewhere, for this process only).
    Not ``ru_maxrss`` on Linux: a child started by ``subprocess`` reports its parent's peak there
    when that was higher."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        if pid != "self":
            raise
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(name: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> None:
    """Print a table (figure, value, anchor, ratio, target) and the same as one JSON line."""
    print(f"\n== {name} ({machine()['cpu']}, {machine()['cores']} cores)")
    print(f"{'figure':<44} {'value':>12} {'anchor':>12} {'ratio':>8}  target")
    for r in rows:
        ratio = r.get("ratio")
        print(f"{r['figure']:<44} {r['value']:>12.3f} {r.get('anchor', float('nan')):>12.3f} "
              f"{ratio if ratio is None else round(ratio, 3)!s:>8}  {r.get('target', '')}")
    print("JSON " + json.dumps({"benchmark": name, "machine": machine(), "rows": rows,
                                **(extra or {})}))
