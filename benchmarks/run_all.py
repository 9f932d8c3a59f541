"""Run every benchmark script (``benchmarks/bench_*.py``) and combine their figures.

Each script prints its own table and one ``JSON {...}`` line per report (see ``_common.report``).
This runner starts them one after another in fresh processes (so one's memory or threads do not
colour the next), shows their output as it comes, then prints one combined table and writes every
report to ``benchmarks/results.json``; ``--update-docs`` also rewrites the figures section of
``docs/benchmarks.md``. A script that fails or times out is reported as such and the rest still run.

The "meets" column reads the target text: a target in ms, s or MB is compared with the value,
any other with the ratio (or the value when there is no ratio); "info" and "-" targets have none.

Usage:
    .venv/bin/python benchmarks/run_all.py [--only engine,knowledge] [--skip ui]
        [--args engine="--reviews 20"] [--timeout 3600] [--update-docs] [--keep-others]

``--keep-others`` re-runs some benchmarks and keeps the others' figures from the previous
results file, each still marked with the time it was measured.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import ROOT, machine

HERE = Path(__file__).resolve().parent
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_START, DOCS_END = "<!-- results:start -->", "<!-- results:end -->"
_TARGET = re.compile(r"^\s*(<=|>=|≤|≥|<|>)\s*([0-9]*\.?[0-9]+)\s*(ms|s|MB|GB|x|%)?", re.I)


def discover(folder: Path) -> dict[str, Path]:
    """bench_engine.py -> "engine", in name order."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(folder.glob("bench_*.py"))}


def run_one(name: str, script: Path, args: list[str], timeout: float) -> dict[str, Any]:
    """Run a script, echo its output, and collect its JSON reports."""
    print(f"\n##### {name}: {script.name} {' '.join(args)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-u", str(script), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            encoding="utf-8", errors="replace")
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        proc.kill()

    watchdog = threading.Timer(timeout, stop)
    watchdog.start()
    reports: list[dict[str, Any]] = []
    tail: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            tail = [*tail[-39:], line.rstrip("\n")]
            if line.startswith("JSON "):
                try:
                    reports.append(json.loads(line[5:]))
                except json.JSONDecodeError as exc:
                    tail.append(f"(unreadable JSON line: {exc})")
        rc = proc.wait()
    finally:
        watchdog.cancel()
    status = "ok"
    if timed_out.is_set():
        status = f"timed out after {timeout:.0f} s"
    elif rc != 0:
        status = f"failed (exit {rc})"
    elif not reports:
        status = "no JSON report"
    return {"benchmark": name, "script": script.name, "args": args, "status": status,
            "seconds": round(time.perf_counter() - started, 1), "reports": reports,
            "output_tail": [] if status == "ok" else tail}


def meets(row: dict[str, Any]) -> str:
    """"yes", "NO" or "" (no target to check) for one figure."""
    m = _TARGET.match(str(row.get("target") or ""))
    if not m:
        return ""
    op, bound, unit = m.group(1), float(m.group(2)), (m.group(3) or "").lower()
    ratio = row.get("ratio")
    use_value = unit in ("ms", "s", "mb", "gb") or ratio is None
    measured = row.get("value") if use_value else ratio
    if not isinstance(measured, int | float) or math.isnan(measured):
        return ""
    if unit == "%" and not use_value and bound > 1:
        bound /= 100  # "<= 5%" against a share written as 0.05
    ok = {"<=": measured <= bound, "≤": measured <= bound, "<": measured < bound,
          ">=": measured >= bound, "≥": measured >= bound, ">": measured > bound}[op]
    return "yes" if ok else "NO"


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def rows_of(results: list[dict[str, Any]]) -> list[dict[str, str]]:
    table = []
    for result in results:
        if result["status"] != "ok" and not result["reports"]:
            table.append({"benchmark": result["benchmark"], "figure": result["status"],
                          "value": "", "anchor": "", "ratio": "", "target": "", "meets": ""})
            continue
        for report in result["reports"]:
            for row in report.get("rows", []):
                table.append({
                    "benchmark": str(report.get("benchmark", result["benchmark"])),
                    "figure": str(row.get("figure", "")),
                    "value": _num(row.get("value")),
                    "anchor": _num(row.get("anchor")),
                    "ratio": _num(row.get("ratio")),
                    "target": str(row.get("target", "") or ""),
                    "meets": meets(row),
                })
    return table


COLUMNS = ("benchmark", "figure", "value", "anchor", "ratio", "target", "meets")


def print_table(table: list[dict[str, str]]) -> None:
    widths = {c: max([len(c), *(len(r[c]) for r in table)]) for c in COLUMNS}
    widths["figure"] = min(widths["figure"], 60)
    print("\n" + "  ".join(c.ljust(widths[c]) for c in COLUMNS))
    print("  ".join("-" * widths[c] for c in COLUMNS))
    for r in table:
        print("  ".join((r[c][: widths[c]]).ljust(widths[c]) if c in ("benchmark", "figure",
                        "target", "meets") else r[c].rjust(widths[c]) for c in COLUMNS))


def markdown(table: list[dict[str, str]], results: list[dict[str, Any]], when: str,
             host: dict[str, Any], command: str) -> str:
    times: dict[str, list[str]] = {}
    for r in results:
        times.setdefault(r.get("run_at", when), []).append(r["benchmark"])
    when_text = when if len(times) <= 1 else "; ".join(
        f"{', '.join(names)} at {t}" for t, names in sorted(times.items()))
    lines = [
        f"Run {when_text} on {host['cpu']}, {host['cores']} cores, Python {host['python']}, "
        f"{host['system']}; command: `{command}`.",
        "",
        "| benchmark | figure | value | anchor | ratio | target | meets |",
        "|---|---|--:|--:|--:|---|---|",
    ]
    lines += ["| " + " | ".join(r[c].replace("|", "\\|") for c in COLUMNS) + " |"
              for r in table]
    failed = [r for r in results if r["status"] != "ok"]
    if failed:
        lines += ["", "Not measured: " + "; ".join(f"{r['script']}: {r['status']}"
                                                   for r in failed) + "."]
    return "\n".join(lines)


def update_docs(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{DOCS_START}\n{section}\n{DOCS_END}"
    if DOCS_START in text and DOCS_END in text:
        head, rest = text.split(DOCS_START, 1)
        text = head + block + rest.split(DOCS_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def keep_others(results: list[dict[str, Any]], previous: Path,
                names: dict[str, Path]) -> list[dict[str, Any]]:
    """``results`` plus, in the scripts' order, the previous run's results of the benchmarks
    not run now (with the time they ran)."""
    try:
        old = json.loads(previous.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return results
    ran = {r["benchmark"] for r in results}
    kept = {r["benchmark"]: {**r, "run_at": r.get("run_at", old.get("run_at", "?"))}
            for r in old.get("results", []) if r.get("benchmark") not in ran}
    by_name = {r["benchmark"]: r for r in results} | kept
    return [by_name[n] for n in names if n in by_name]


def _names(value: str) -> set[str]:
    return {v.strip() for v in value.split(",") if v.strip()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", type=_names, default=set(), help="comma-separated names to run")
    ap.add_argument("--skip", type=_names, default=set(), help="comma-separated names to skip")
    ap.add_argument("--args", action="append", default=[], metavar='NAME="ARGS"',
                    help="extra arguments for one script, e.g. engine=\"--reviews 20\"")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per script")
    ap.add_argument("--dir", type=Path, default=HERE, help=argparse.SUPPRESS)
    ap.add_argument("--output", type=Path, default=HERE / "results.json")
    ap.add_argument("--update-docs", nargs="?", const=DOCS, type=Path, metavar="MARKDOWN",
                    help=f"rewrite the figures section of {DOCS.relative_to(ROOT)}")
    ap.add_argument("--keep-others", action="store_true",
                    help="keep the figures of benchmarks not run now from the previous results")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args(argv)

    scripts = discover(args.dir)
    unknown = (args.only | args.skip) - set(scripts)
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; "
                 f"found: {', '.join(scripts)}")
    if args.list:
        print("\n".join(f"{name}\t{path}" for name, path in scripts.items()))
        return 0
    extra: dict[str, list[str]] = {}
    for item in args.args:
        name, _, rest = item.partition("=")
        if name not in scripts:
            ap.error(f"--args names an unknown benchmark: {name!r}")
        extra[name] = shlex.split(rest)
    chosen = [n for n in scripts if (not args.only or n in args.only) and n not in args.skip]

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    host = machine()
    results = [run_one(n, scripts[n], extra.get(n, []), args.timeout) for n in chosen]
    for r in results:
        r["run_at"] = when
    if args.keep_others:
        results = keep_others(results, args.output, scripts)
    table = rows_of(results)
    print(f"\n===== all benchmarks ({when}; {host['cpu']}, {host['cores']} cores)")
    print_table(table)
    command = "python benchmarks/run_all.py " + " ".join(shlex.quote(a) for a in
                                                          (argv if argv is not None
                                                           else sys.argv[1:]))
    args.output.write_text(json.dumps({"run_at": when, "machine": host, "command": command.strip(),
                                       "results": results}, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")
    if args.update_docs:
        update_docs(args.update_docs, markdown(table, results, when, host, command.strip()))
        print(f"updated {args.update_docs}")
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
