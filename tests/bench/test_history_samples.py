"""bench/history_samples.py runs end to end on a short synthetic history and reports what it says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_history_bench_writes_a_history_samples_it_and_prints_json():
    done = subprocess.run([sys.executable, "bench/history_samples.py", "--commits", "120", "--files", "12",
                           "--wide", "12", "--max-files", "5"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)["results"][0]
    assert result["commits_read"] == 120
    assert result["skipped"]["skipped: commit over 5 files"] == 3  # the first commit and commits 50 and 100
    assert result["samples"] == result["train_samples"] + result["heldout_samples"] > 100
    assert result["samples_per_s"] > 0 and result["peak_rss_mb"] > 0
