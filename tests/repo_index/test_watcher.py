"""Staying live with real watchdog events: edits, creations, deletions, checkouts, ignores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

FILES = {
    "app/main.py": "def main():\n    return helper()\n",
    "app/util.py": "def helper():\n    return 1\n",
    "node_modules/dep/index.js": "module.exports = 1;\n",
    "build/out.py": "x = 1\n",
}


def eventually(check, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("the index did not catch up with the disk in time")
        time.sleep(0.05)


@pytest.fixture
def watched(make_tree, open_ws):
    root = make_tree(FILES)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    ws = open_ws(root, debounce_s=0.2, debounce_ceiling_s=1.0)
    ws.build()
    ws.start_watching()
    yield ws
    ws.stop_watching()


def test_edits_creations_and_deletions_are_followed(watched):
    root = Path(watched.root)
    (root / "app" / "util.py").write_text("def helper_v2():\n    return 2\n")
    (root / "app" / "new.py").write_text("def brand_new():\n    pass\n")
    (root / "app" / "main.py").unlink()
    eventually(lambda: watched.definitions("helper_v2") and watched.definitions("brand_new")
               and not watched.definitions("main") and not watched.definitions("helper"))


def test_new_directories_are_indexed_and_watched(watched):
    root = Path(watched.root)
    (root / "lib" / "deep").mkdir(parents=True)
    (root / "lib" / "deep" / "a.py").write_text("def in_new_dir():\n    pass\n")
    eventually(lambda: watched.definitions("in_new_dir"))
    time.sleep(0.3)
    (root / "lib" / "deep" / "a.py").write_text("def in_new_dir_edited():\n    pass\n")
    eventually(lambda: watched.definitions("in_new_dir_edited"))


def test_ignore_file_changes_apply(watched):
    root = Path(watched.root)
    (root / ".qwenpairignore").write_text("app/util.py\n")
    eventually(lambda: not watched.definitions("helper") and watched.skipped.get("app/util.py") == "ignored by .qwenpairignore")


def test_a_checkout_storm_is_reconciled(watched):
    root = Path(watched.root)
    for i in range(300):  # more events than burst_events: reconciled by a rescan
        (root / "app" / f"gen_{i}.py").write_text(f"def generated_{i}():\n    return {i}\n")
    (root / ".git" / "HEAD").write_text("ref: refs/heads/other\n")
    eventually(lambda: len(watched.state.files) == 302 and watched.definitions("generated_299"))


def test_events_are_debounced_into_few_batches(watched):
    root = Path(watched.root)
    before = watched._watcher.batches
    for i in range(20):
        (root / "app" / "util.py").write_text(f"def helper():\n    return {i}\n")
        time.sleep(0.01)
    eventually(lambda: watched.state.files["app/util.py"].size == len("def helper():\n    return 19\n"))
    time.sleep(0.5)
    assert watched._watcher.batches - before <= 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="directory pruning is an inotify feature")
def test_ignored_directories_are_not_watched(watched):
    watcher = watched._watcher
    assert watcher.pruned
    watched_dirs = set()
    for emitter in watcher._observer.emitters:
        watched_dirs |= {os.fsdecode(p) for p in emitter._inotify._active_callbacks_by_path}
    root = str(watched.root)
    assert os.path.join(root, "app") in watched_dirs
    assert os.path.join(root, ".git") in watched_dirs  # for HEAD only, not recursively
    assert not any("node_modules" in d or d.endswith("/build") for d in watched_dirs)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git executable (.ci/setup machines have it)")
def test_git_checkout_in_a_real_repository(make_tree, open_ws):
    root = make_tree({f"src/m{i}.py": f"def version_a_{i}():\n    pass\n" for i in range(50)}, name="repo")
    git = ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    subprocess.run([*git, "checkout", "-qb", "b"], check=True)
    for i in range(50):
        (root / "src" / f"m{i}.py").write_text(f"def version_b_{i}():\n    pass\n")
    subprocess.run([*git, "commit", "-qam", "b"], check=True)
    subprocess.run([*git, "checkout", "-q", "main"], check=True)
    ws = open_ws(root, debounce_s=0.2, debounce_ceiling_s=1.0)
    ws.build()
    ws.start_watching()
    try:
        subprocess.run([*git, "checkout", "-q", "b"], check=True)
        eventually(lambda: all(ws.definitions(f"version_b_{i}") for i in range(50))
                   and not ws.definitions("version_a_0"))
    finally:
        ws.stop_watching()
