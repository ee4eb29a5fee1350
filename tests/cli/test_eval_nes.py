"""``qwenpair eval nes`` (assistant/next_edit_eval.py) as a real CLI subprocess, on a git
repository built here whose cases and right answers are known, with a scripted GGUF whose
greedy answer to every next-edit prompt is one known window.

Known cases: ``ops.py``'s commit renames in two places (the first change is the recent edit,
the second the target), and the model writes exactly the expected window: exact, both
precision and recall 1 for it. ``big.py``'s commit does the same in a 30-line file, where the
model's 3-line answer is not a window: no suggestion. Not cases: a commit with one change, a
target farther than the window, and a secret file (refused by the source policy).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.next_edit_eval import parse_hunks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))
from scripted_chat_model import scripted_gguf  # noqa: E402

pytestmark = pytest.mark.slow

BEFORE = "alpha = beta + gammas)\ndelta += epsilon - zeta):\ntheta -= kappa * lambdas),\n"
AFTER = "alpha = beta + gamma)\ndelta += epsilon - zeta):\ntheta -= kappa * lambda),\n"  # distinct tokens


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t",
                            GIT_COMMITTER_EMAIL="t@x"))


def commit(repo: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


@pytest.fixture
def repo(tmp_path) -> Path:
    repo = tmp_path / "proj"
    repo.mkdir()
    git(repo, "init", "-q")
    big = [f"v{i} = {i}" for i in range(30)]
    far = [f"w{i} = {i}" for i in range(40)]
    secret = "KEY=1\nB=2\nC=3\nD=4\n"
    commit(repo, {"ops.py": BEFORE, "big.py": "\n".join(big) + "\n", "far.py": "\n".join(far) + "\n",
                  "one.py": "a = 1\n", ".env": secret}, "start")
    big[5], big[8] = "v5 = 50", "v8 = 80"
    commit(repo, {"ops.py": AFTER, "big.py": "\n".join(big) + "\n"}, "two changes each")
    far[2], far[30] = "w2 = 20", "w30 = 300"
    commit(repo, {"far.py": "\n".join(far) + "\n", "one.py": "a = 2\n", ".env": "KEY=2\nB=2\nC=3\nD=5\n"},
           "a far target, a single change, a secret")
    return repo


def test_eval_nes_reports_the_known_answers(repo, tiny_model, tmp_path):
    from model.tokenizer import load_fast_tokenizer

    model = scripted_gguf(tiny_model, AFTER, after=load_fast_tokenizer().encode("updated/ops.py\n").ids[-1])
    done = subprocess.run([sys.executable, "-m", "qwenpair", "eval", "nes", "--repo", str(repo), "--model", str(model),
                           "--n-ctx", "2048", "--threads", "2", "--json",
                           "--time-cap", "300"],  # a shared, loaded machine: the caps are not under test
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {r["path"]: r for r in report["rows"]}
    assert sorted(rows) == ["big.py", "ops.py"]
    assert rows["ops.py"] | {"latency_ms": 0} == {"commit": rows["ops.py"]["commit"], "path": "ops.py", "line": 1,
                                                  "kind": "jump", "exact": True, "predicted_edits": 1,
                                                  "right_edits": 1, "target_edits": 1, "latency_ms": 0}
    assert rows["big.py"]["kind"] == "none" and "not a window" in rows["big.py"]["reason"]
    assert (report["cases"], report["exact_match"], report["edit_precision"], report["edit_recall"],
            report["no_suggestion_rate"]) == (2, 0.5, 1.0, 0.5, 0.5)
    assert report["latency_p95_ms"] >= report["latency_p50_ms"] > 0


def test_not_a_repository_is_a_clear_error(tmp_path, tiny_model):
    done = subprocess.run([sys.executable, "-m", "qwenpair", "eval", "nes", "--repo", str(tmp_path),
                           "--model", str(tiny_model.gguf)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "is not a git repository" in done.stderr and "Traceback" not in done.stderr


def test_zero_context_hunks_are_parsed_in_old_coordinates():
    diff = ("diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -2 +2 @@\n-b\n+B\n@@ -4,0 +5,2 @@\n+n1\n+n2\n"
            "@@ -7,2 +9,0 @@\n-g\n-h\n")
    hunks = parse_hunks(diff)["x.py"]
    assert [(h.old_start, h.old, h.new) for h in hunks] == [(1, ("b",), ("B",)), (4, (), ("n1", "n2")), (6, ("g", "h"), ())]
