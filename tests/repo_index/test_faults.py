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

from model.paths import vocab_dir
from repo_index.store import SNAPSHOT_NAME, store_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp_server"))
import lsp_wire  # noqa: E402  (the LSP tests' client, over a real server)
from lsp_wire import Wire, server_env  # noqa: E402

INDEX = [sys.executable, "-m", "qwenpair", "index", "--no-progress", "--json"]
N_FILES = 1200  # over the bulk-load threshold: a first build uses the worker pool
#: The Qwen2 vocabulary as found before the tests moved QWENPAIR_CACHE_DIR (a server needs it).
REAL_VOCAB = vocab_dir()

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
    past = time.time() - 3600  # not "racy" (as new as the index): the next run must not re-hash and touch them all
    for path in root.rglob("*.py"):
        os.utime(path, (past, past))
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


def test_a_full_disk_while_a_server_indexes_is_a_message_and_the_server_goes_on(tmp_path, monkeypatch):
    """Issue 18, finding 1, in the server: a build that runs out of space fails its root
    with a window/showMessage error that names the directory, and the server still
    answers and shuts down cleanly (no hang, no traceback on the wire)."""
    root, cache = _tree(tmp_path / "ws"), tmp_path / "cache"
    limit = 1024 * 1024
    env = _serve_env(tmp_path, cache)
    # The server under a file-size limit: a wrapper sets it, then becomes the server.
    monkeypatch.setattr(lsp_wire, "SERVE", [sys.executable, "-c", (
        "import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (%d, %d)); "
        "os.execv(sys.executable, [sys.executable, '-m', 'qwenpair', 'serve'])") % (limit, limit)])
    wire = Wire(env)
    try:
        wire.initialize(root, _options(tmp_path))
        index = wire.wait_ready(timeout=180)["index"]
        assert index["state"] == "failed", index
        problem = index["roots"][str(root)]["problem"]
        assert f"cannot write the index in {_store(cache, root).parent}" in problem and "file-size limit" in problem
        wire.wait_for(lambda: any(problem in m["message"] for m in wire.notifications("window/showMessage")),
                      what="the error shown")
        assert wire.shutdown_and_exit() == 0
    finally:
        wire.kill()
    assert _integrity(_store(cache, root))[0] == "ok"


def test_a_snapshot_the_server_cannot_save_is_a_warning_and_the_index_is_ready(tmp_path, monkeypatch):
    """Issue 18, finding 1, in the server: when only the lexical snapshot does not fit, the
    root is ready with every file and a window/showMessage warning names the directory."""
    root, cache = _tree(tmp_path / "ws"), tmp_path / "cache"
    past = time.time() - 3600
    for path in root.rglob("*.py"):
        os.utime(path, (past, past))
    assert _files(_index(root, cache)) == N_FILES
    (root / "pkg0" / "mod0.py").write_text("def renamed_after_the_build():\n    return 1\n")
    limit = 256 * 1024
    monkeypatch.setattr(lsp_wire, "SERVE", [sys.executable, "-c", (
        "import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (%d, %d)); "
        "os.execv(sys.executable, [sys.executable, '-m', 'qwenpair', 'serve'])") % (limit, limit)])
    wire = Wire(_serve_env(tmp_path, cache))
    try:
        wire.initialize(root, _options(tmp_path))
        index = wire.wait_ready(timeout=180)["index"]
        assert index["state"] == "ready" and index["files"] == N_FILES, index
        expected = f"cannot write the index in {_store(cache, root).parent}"
        wire.wait_for(lambda: any(expected in m["message"] and m["type"] == 2
                                  for m in wire.notifications("window/showMessage")), what="the warning shown")
        assert wire.shutdown_and_exit() == 0
    finally:
        wire.kill()


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


def _serve_env(tmp_path: Path, cache: Path) -> dict[str, str]:
    """A server whose whole cache is ``cache`` (the index among it), with the real vocabulary."""
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / "vocab").exists():
        (cache / "vocab").symlink_to(REAL_VOCAB, target_is_directory=True)
    return {**server_env(tmp_path), "QWENPAIR_CACHE_DIR": str(cache)}


def _options(tmp_path: Path) -> dict:
    """No model (a path that does not exist): indexing needs none, and these servers only index."""
    missing = str(tmp_path / "no-model.gguf")
    return {"model": missing, "chat_model": missing, "calibrate": False}


def test_a_server_a_cli_run_and_a_second_server_share_one_workspace(tmp_path, tiny_model):
    """Issue 18, finding 2: while a server (with the tiny model, as an editor runs it)
    indexes a workspace, ``qwenpair index`` on it waits and then sees the whole index, and
    a second server on it ends ready with every file (it was left with a failed root, 0
    files and a reindex that returned 0)."""
    model = {"model": str(tiny_model.gguf), "chat_model": str(tiny_model.gguf), "n_ctx": 2048, "threads": 1,
             "calibrate": False}
    root, cache = _tree(tmp_path / "ws"), tmp_path / "cache"
    env = _serve_env(tmp_path, cache)
    first = Wire(env)
    second = None
    try:
        first.initialize(root, model)
        _wait_for_rows(_store(cache, root))  # the server is mid-build
        cli = _index(root, cache)
        assert _files(cli) == N_FILES and "Traceback" not in cli.stderr
        assert "another qwenpair process is indexing" in cli.stderr
        second = Wire(env)
        second.initialize(root, model)
        for wire in (first, second):
            status = wire.wait_ready(timeout=180)
            index = status["index"]
            assert index["state"] == "ready" and index["files"] == N_FILES, index
            assert status["model_state"] == "ready", status
        assert second.result("workspace/executeCommand", {"command": "qwenpair.reindex"}, timeout=120) == {"files": N_FILES}
        assert first.result("workspace/executeCommand", {"command": "qwenpair.reindex"}, timeout=120) == {"files": N_FILES}
        assert first.shutdown_and_exit() == 0 and second.shutdown_and_exit() == 0
    finally:
        for wire in (first, second):
            if wire is not None:
                wire.kill()
    assert _integrity(_store(cache, root)) == ("ok", N_FILES)


# -- finding 7: workers of a killed indexer ---------------------------------------------------

def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = set()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _stat(int(entry))
                if stat is not None and stat[1] in frontier:
                    children.add(int(entry))
        found |= children
        frontier = children - {pid}
    return found


def _running(pids: set[int]) -> set[int]:
    return {pid for pid in pids if (_stat(pid) or ("Z", 0))[0] not in ("Z", "X")}


@pytest.mark.parametrize("killed", ["index", "serve"])
def test_index_workers_end_when_the_indexing_process_is_killed(tmp_path, killed):
    """Issue 18, finding 7: after a SIGKILL of ``qwenpair index`` or of the server while it
    indexes, its worker processes (grandchildren through the fork server) are gone within
    seconds; they lived on for a minute or more."""
    root, cache = _tree(tmp_path / "ws", 3000), tmp_path / "cache"
    env = {**os.environ, "QWENPAIR_CACHE_DIR": str(cache)}
    wire = None
    if killed == "index":
        process = subprocess.Popen([*INDEX, str(root)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        wire = Wire(_serve_env(tmp_path, cache))
        process = wire.process
        wire.initialize(root, _options(tmp_path))
    family: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # the fork server and at least one worker under it
            family = _descendants(process.pid)
            if any(_stat(p) is not None and _stat(p)[1] != process.pid for p in family):
                break
            time.sleep(0.05)
        else:
            pytest.fail("no index workers started")
        time.sleep(0.5)
        family = _descendants(process.pid)
        process.kill()
        process.wait(10)
        deadline = time.monotonic() + 10
        while _running(family) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(family), f"still running after 10 s: {sorted(_running(family))}"
    finally:
        for pid in _running(family):
            os.kill(pid, signal.SIGKILL)
        if wire is not None:
            wire.kill()


# -- finding 8: a corrupt store is rebuilt, and the user is told ------------------------------

def _corrupt(store: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    store.write_bytes(b"this is not a database" * 512)


def test_a_corrupt_store_is_rebuilt_and_the_cli_says_so(tmp_path):
    """Issue 18, finding 8: ``qwenpair index`` on an unreadable store rebuilds it and says
    so on stderr (only an INFO line was logged), then ends with the whole index."""
    root, cache = _tree(tmp_path / "ws", 50), tmp_path / "cache"
    assert _files(_index(root, cache)) == 50
    _corrupt(_store(cache, root))
    result = _index(root, cache)
    assert _files(result) == 50
    assert f"the index of {root} was rebuilt from scratch: unreadable store" in result.stderr
    assert _files(_index(root, cache)) == 50


def test_a_corrupt_store_is_rebuilt_and_the_server_says_so(tmp_path):
    """Issue 18, finding 8: the server tells the user through ``window/showMessage`` that
    the index of a root was rebuilt, and why."""
    root, cache = _tree(tmp_path / "ws", 50), tmp_path / "cache"
    assert _files(_index(root, cache)) == 50
    _corrupt(_store(cache, root))
    wire = Wire(_serve_env(tmp_path, cache))
    try:
        wire.initialize(root, _options(tmp_path))
        assert wire.wait_ready(timeout=120)["index"]["files"] == 50
        wire.wait_for(lambda: any("rebuilt from scratch" in m["message"] for m in wire.notifications("window/showMessage")),
                      what="a message about the rebuilt index")
        message = next(m for m in wire.notifications("window/showMessage") if "rebuilt from scratch" in m["message"])
        assert message["type"] == 2 and "unreadable store" in message["message"] and str(root) in message["message"]
    finally:
        wire.kill()
