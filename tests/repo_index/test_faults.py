"""Faults around the index store (issue 18): a full disk, several processes on one
workspace, a killed indexer, a corrupt store.

Everything here runs the real ``qwenpair index`` (and ``qwenpair serve``) as subprocesses
on a generated tree large enough to use the worker pool: a full disk is a file-size limit
(RLIMIT_FSIZE, with SIGXFSZ ignored so that writes fail with EFBIG), which any Linux
machine has without root; processes are found through /proc.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repo_index.store import SNAPSHOT_NAME, store_dir

INDEX = [sys.executable, "-m", "qwenpair", "index", "--no-progress", "--json"]
N_FILES = 1200  # over the bulk-load threshold: a first build uses the worker pool

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and RLIMIT_FSIZE")


def _module(i: int) -> str:
    body = "".join(
        f"def handler_{i}_{j}(request, retries={j}):\n"
        f"    \"\"\"Handle request {j} of module {i}.\"\"\"\n"
        f"    total = 0\n"
        f"    for attempt in range(retries):\n"
        f"        total += len(str(request)) * attempt + {i}\n"
        f"    return total\n\n\n"
        for j in range(8))
    return f"import os\nimport sys\n\n\n{body}class Service{i}:\n    name = 'service_{i}'\n"


def _tree(root: Path, count: int = N_FILES, start: int = 0) -> Path:
    for i in range(start, start + count):
        path = root / f"pkg{i // 100}" / f"mod{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_module(i), encoding="utf-8")
    return root


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill; kept across exec
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _index(root: Path, cache: Path, *, limit: int | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "QWENPAIR_CACHE_DIR": str(cache)}
    return subprocess.run([*INDEX, str(root)], env=env, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_limit_file_size(limit) if limit else None)


def _files(result: subprocess.CompletedProcess) -> int:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["stats"]["files"]


def _store(cache: Path, root: Path) -> Path:
    return store_dir(cache, Path(os.path.abspath(root))) / "index.sqlite3"


def _integrity(store: Path) -> tuple[str, int]:
    db = sqlite3.connect(store)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0], db.execute("SELECT count(*) FROM files").fetchone()[0]
    finally:
        db.close()


# -- finding 1: disk full ------------------------------------------------------------------

def test_a_full_disk_during_a_build_is_a_clear_error_and_the_earlier_index_stays(tmp_path):
    """Issue 18, finding 1: a build that runs out of space ends (no hang) with exit code 2
    and one message naming the store's directory and the space, not a traceback; what
    was committed before stays whole, and a run with room finishes the index."""
    root, cache = _tree(tmp_path / "ws", 200), tmp_path / "cache"
    assert _files(_index(root, cache)) == 200
    _tree(root, N_FILES - 200, start=200)
    started = time.monotonic()
    failed = _index(root, cache, limit=1024 * 1024, timeout=120)  # the hang was forever
    assert time.monotonic() - started < 120
    assert failed.returncode == 2, failed.stderr
    assert "Traceback" not in failed.stderr
    store = _store(cache, root)
    assert f"cannot write the index in {store.parent}" in failed.stderr
    assert "file-size limit" in failed.stderr and "QWENPAIR_CACHE_DIR" in failed.stderr
    check, rows = _integrity(store)
    assert check == "ok" and 200 <= rows < N_FILES
    assert not list(store.parent.glob(f"{SNAPSHOT_NAME}.*.tmp"))
    assert _files(_index(root, cache)) == N_FILES


def test_a_full_disk_while_saving_the_snapshot_keeps_a_whole_index(tmp_path):
    """Issue 18, finding 1: when only the lexical snapshot cannot be written (the store's
    few changed pages fit, the whole snapshot does not), the index is whole: exit code 1
    with a warning that names the directory and the space, no temporary file left, and
    the next start rebuilds the lexical index from the store."""
    root, cache = _tree(tmp_path / "ws"), tmp_path / "cache"
    assert _files(_index(root, cache)) == N_FILES
    store = _store(cache, root)
    limit = 256 * 1024
    assert (store.parent / SNAPSHOT_NAME).stat().st_size > 2 * limit
    (root / "pkg0" / "mod0.py").write_text("def renamed_after_the_build():\n    return 1\n")
    result = _index(root, cache, limit=limit)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"warning: cannot write the index in {store.parent}" in result.stderr
    assert "file-size limit" in result.stderr
    assert not list(store.parent.glob(f"{SNAPSHOT_NAME}.*.tmp"))
    assert _integrity(store) == ("ok", N_FILES)
    again = _index(root, cache)
    assert _files(again) == N_FILES and json.loads(again.stdout)["stats"]["indexed_now"] == 0


# -- finding 2: several processes on one workspace -------------------------------------------

def _wait_for_rows(store: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if store.exists() and _integrity_rows(store) > 0:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no rows in {store}")


def _integrity_rows(store: Path) -> int:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1)
    try:
        return db.execute("SELECT count(*) FROM files").fetchone()[0]
    finally:
        db.close()


def test_two_index_runs_on_one_workspace_both_finish_with_the_same_index(tmp_path):
    """Issue 18, finding 2: a second ``qwenpair index`` started while the first builds
    waits for it (and says so) instead of failing with ``UNIQUE constraint failed`` and
    hanging; both exit 0 and see every file."""
    root, cache = _tree(tmp_path / "ws"), tmp_path / "cache"
    env = {**os.environ, "QWENPAIR_CACHE_DIR": str(cache)}
    first = subprocess.Popen([*INDEX, str(root)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_rows(_store(cache, root))  # the first is mid-build: it has committed a batch
        second = _index(root, cache, timeout=180)
        out, err = first.communicate(timeout=180)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert json.loads(out)["stats"]["files"] == N_FILES
    assert _files(second) == N_FILES
    assert "another qwenpair process is indexing" in second.stderr and "Traceback" not in second.stderr
    assert _integrity(_store(cache, root)) == ("ok", N_FILES)
