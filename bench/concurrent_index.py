"""Benchmark of two ``qwenpair index`` processes on one workspace (issue 18 figure), as JSON.

Each run starts one ``qwenpair index`` on the tree and a second one ``--stagger`` seconds
later (2 s by default, as in the issue), both on the same cache, and waits for both. A
run counts an error for each process that exits non-zero, prints a traceback or is still
running after ``--timeout`` seconds (the old failure: ``UNIQUE constraint failed``, then a
hang). Reported per run: each process's exit code, file count and seconds, whether the
second said it waited; overall: errors (target 0) and whether both processes saw the same
file count in every run (target: yes).

Every run starts from an empty cache (a cold build, the case where the two overlap
longest) unless ``--warm``, where the runs after the first find the index built. The tree
under ``--root`` (default: this Python's standard library, ~31k files here) is only read;
``--quick`` uses a 3,000-file copy of it instead.

    python bench/concurrent_index.py [--root DIR] [--runs N] [--stagger S] [--quick] [--warm] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parents[1]
if str(ROOT_DIR) not in sys.path:
    sys.path.insert(0, str(ROOT_DIR))

from bench.common import emit  # noqa: E402

INDEX = [sys.executable, "-m", "qwenpair", "index", "--no-progress", "--json"]


def _quick_copy(source: Path, target: Path, count: int = 3000) -> Path:
    copied = 0
    for path in sorted(source.rglob("*.py")):
        if copied >= count:
            break
        rel = path.relative_to(source)
        if any(part.startswith(".") or part == "site-packages" for part in rel.parts):
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / rel)
        copied += 1
    return target


def _finish(process: subprocess.Popen, started: float, deadline: float) -> dict:
    try:
        out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return {"rc": None, "files": None, "seconds": round(time.monotonic() - started, 2), "error": "timed out"}
    result: dict = {"rc": process.returncode, "seconds": round(time.monotonic() - started, 2),
                    "waited": "another qwenpair process is indexing" in err}
    try:
        result["files"] = json.loads(out)["stats"]["files"]
    except (ValueError, KeyError):
        result["files"] = None
    if process.returncode != 0 or "Traceback" in err:
        result["error"] = err.strip().splitlines()[-1] if err.strip() else f"exit code {process.returncode}"
    return result


def run_pair(root: Path, cache: Path, stagger: float, timeout: float) -> dict:
    env = {**os.environ, "QWENPAIR_CACHE_DIR": str(cache)}
    started = time.monotonic()
    first = subprocess.Popen([*INDEX, str(root)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(stagger)
    second_started = time.monotonic()
    second = subprocess.Popen([*INDEX, str(root)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = started + timeout
    return {"first": _finish(first, started, deadline), "second": _finish(second, second_started, deadline)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stagger", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for one pair")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--warm", action="store_true", help="keep the cache between runs")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qwenpair-concurrent-") as tmp:
        root = _quick_copy(args.root, Path(tmp) / "tree") if args.quick else args.root
        runs = []
        for i in range(args.runs):
            cache = Path(tmp) / ("cache" if args.warm else f"cache-{i}")
            runs.append(run_pair(root, cache, args.stagger, args.timeout))
            if not args.warm:
                shutil.rmtree(cache, ignore_errors=True)
    errors = sum("error" in p for run in runs for p in run.values())
    same = all(run["first"]["files"] is not None and run["first"]["files"] == run["second"]["files"] for run in runs)
    results = [{"name": "concurrent index runs", "root": str(args.root), "quick": args.quick, "warm": args.warm,
                "runs": len(runs), "stagger_s": args.stagger, "errors": errors, "errors_target": 0,
                "same_file_count": same, "file_counts": sorted({p["files"] for run in runs for p in run.values()}, key=str),
                "per_run": runs}]
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    emit(results)


if __name__ == "__main__":
    main()
