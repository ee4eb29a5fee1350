"""Hostile trees: every bad file is skipped or indexed with a reason; nothing crashes or stalls."""

from __future__ import annotations

import gc
import os
import random
import threading
import time

import pytest

from repo_index import extract_pool
from repo_index.config import IndexConfig
from repo_index.extract import read_and_extract, read_and_extract_many
from repo_index.file_read import read_limited
from repo_index.facts import FileSkip


def test_a_tree_of_bad_files(make_tree, open_ws):
    root = make_tree({
        "ok.py": "def fine():\n    return 1\n",
        "broken.py": "def broken(:\n    return\nclass Half\n",
        "latin1.py": "# caf\xe9\ndef cafe():\n    pass\n".encode("latin-1"),
        "nul.py": b"def x():\n    pass\n\0\0\0",
        "dir with space/naïve ünïcode.py": "def unicode_name():\n    pass\n",
        "日本/コード.ts": "export function kodo(): number { return 1; }\n",
        "min.js": "var a=1;" * 1000,
        "empty.py": "",
    })
    with open(root / "huge.log", "wb") as f:
        f.truncate(200 * 1024 * 1024)  # 200 MB, sparse
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    os.symlink("nowhere.py", root / "dangling.py")
    os.mkfifo(root / "fifo.py")  # opening it for reading would block forever
    ws = open_ws(root)
    started = time.perf_counter()
    stats = ws.build()
    assert time.perf_counter() - started < 30
    assert stats.skipped == {
        "symlink loop": 2, "binary": 1, "broken symlink": 1, "minified": 1, "not a regular file": 1, "too large": 1,
    }
    assert stats.notes == {"non-UTF-8": 1, "syntax errors": 1}
    assert ws.definitions("broken") and ws.definitions("cafe")
    [d] = ws.definitions("unicode_name")
    assert d.path == "dir with space/naïve ünïcode.py"
    assert ws.definitions("kodo")[0].path == "日本/コード.ts"
    snippets = ws.retrieve("use.py", "unicode_name()\n", 0, 14)
    assert snippets[0].path == "dir with space/naïve ünïcode.py"


def test_reading_is_capped_and_races_are_reasons(tmp_path):
    path = tmp_path / "grows.py"
    path.write_bytes(b"x = 1\n" * 100)
    assert read_limited(str(path), 100) == "too large"
    assert read_limited(str(tmp_path / "gone.py"), 100) == "vanished"
    assert read_limited(str(tmp_path), 100) == "not a regular file"
    assert read_and_extract(str(tmp_path), "gone.py", IndexConfig()) == FileSkip("gone.py", "vanished")
    # A file swapped for a FIFO after the scan listed it: refused at once, not a read that
    # waits forever for a writer.
    os.mkfifo(tmp_path / "swapped.py")
    assert read_and_extract(str(tmp_path), "swapped.py", IndexConfig()) == FileSkip("swapped.py", "not a regular file")
    assert read_limited(str(path), 1000) == b"x = 1\n" * 100


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc/self/fd")
def test_a_task_of_files_leaves_no_file_open(tmp_path):
    (tmp_path / "ok.py").write_text("def ok():\n    return 1\n")
    (tmp_path / "big.py").write_text("x = 1\n" * 100)
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "dir.py").mkdir()
    before = len(os.listdir("/proc/self/fd"))
    results = read_and_extract_many(str(tmp_path), ["ok.py", "gone.py", "fifo.py", "dir.py", "big.py"],
                                    IndexConfig(max_bytes=100))
    assert len(os.listdir("/proc/self/fd")) == before
    assert [getattr(r, "reason", "indexed") for r in results] == [
        "indexed", "vanished", "not a regular file", "not a regular file", "too large"]


def test_a_worker_task_restores_the_garbage_collector(tmp_path, monkeypatch):
    # Tasks run without cyclic collections (extract_pool._extract_task); a failing task must
    # not leave the worker without them.
    monkeypatch.setattr(extract_pool, "_worker_root", str(tmp_path))
    (tmp_path / "ok.py").write_text("def ok():\n    return 1\n")
    assert gc.isenabled()
    assert [r.path for r in extract_pool._extract_task(["ok.py"])] == ["ok.py"]
    assert gc.isenabled()
    with pytest.raises(TypeError):
        extract_pool._extract_task([None])
    assert gc.isenabled()
    gc.disable()  # and leaves it off where it was off
    try:
        extract_pool._extract_task(["ok.py"])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_files_deleted_and_truncated_while_indexing(make_tree, open_ws):
    files = {f"m/f{i:04}.py": "def f():\n    return 1\n" * 50 for i in range(400)}
    root = make_tree(files)
    ws = open_ws(root, pool_min_files=50, workers=2)
    stop = threading.Event()

    def vandal() -> None:
        rng = random.Random(7)
        names = sorted(files)
        while not stop.is_set():
            victim = root / rng.choice(names)
            try:
                if rng.random() < 0.5:
                    victim.unlink()
                else:
                    with open(victim, "r+b") as f:
                        f.truncate(rng.randrange(0, 200))
            except OSError:
                pass
            time.sleep(0.0005)

    thread = threading.Thread(target=vandal)
    thread.start()
    try:
        stats = ws.build()
    finally:
        stop.set()
        thread.join()
    assert not stats.cancelled
    # Whatever happened mid-build, one more sync makes the index match the disk exactly.
    ws.build()
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*.py")}
    # (Growing a file with truncate() pads it with NUL bytes: those are now binary.)
    binary = {rel for rel in on_disk if b"\0" in (root / rel).read_bytes()}
    assert set(ws.state.files) == on_disk - binary
    assert all(ws.skipped[rel] == "binary" for rel in binary)
    for rel in on_disk - binary:
        assert ws.state.files[rel].size == (root / rel).stat().st_size


@pytest.mark.slow
def test_a_directory_of_100k_files_does_not_stall(make_tree, open_ws):
    root = make_tree({"big/real.py": "def real():\n    pass\n"})
    big = os.fsencode(str(root / "big"))
    for i in range(100_000):
        fd = os.open(big + b"/obj%06d.o" % i, os.O_CREAT | os.O_WRONLY, 0o644)
        os.close(fd)
    ws = open_ws(root)
    started = time.perf_counter()
    stats = ws.build()
    elapsed = time.perf_counter() - started
    assert stats.skipped == {"binary": 100_000}
    assert stats.files_indexed == 1 and ws.definitions("real")
    assert elapsed < 30, elapsed


def test_a_pool_that_broke_before_a_run_still_indexes_every_file(make_tree):
    # The workers died between runs (killed, or they could not start): the next run meets a
    # broken pool as it hands out tasks, and must still index everything.
    import signal
    from concurrent.futures.process import BrokenProcessPool

    from repo_index.rules import ScanEntry

    root = make_tree({f"m{i}.py": f"def f{i}():\n    pass\n" for i in range(40)})
    pool = extract_pool.ExtractorPool(str(root), IndexConfig(workers=2, worker_nice=0))
    try:
        executor = pool._get()
        executor.submit(extract_pool._extract_task, []).result()
        for process in list(executor._processes.values()):
            os.kill(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                executor.submit(extract_pool._extract_task, []).result()
            except BrokenProcessPool:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the pool did not notice its workers were killed")
        entries = [ScanEntry(f"m{i}.py", (root / f"m{i}.py").stat().st_size, 0) for i in range(40)]
        results = list(pool.run(entries, None))
    finally:
        pool.close()
    assert sorted(r.path for r in results) == sorted(f"m{i}.py" for i in range(40))


def test_workers_that_cannot_start_fall_back_to_in_process(make_tree, tmp_path, cache_dir):
    # A script without the `if __name__ == "__main__":` guard: every worker process dies
    # re-importing it (multiprocessing's forkserver/spawn rule). Indexing must still finish.
    import subprocess
    import sys

    root = make_tree({f"m{i}.py": f"def f{i}():\n    pass\n" for i in range(30)})
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import os, sys\n"
        "if os.environ.get('QP_CHILD'):\n"
        "    sys.exit(3)\n"  # what a broken worker start looks like from the parent
        "os.environ['QP_CHILD'] = '1'\n"
        "from repo_index import IndexConfig, Workspace\n"
        f"ws = Workspace.open({str(root)!r}, IndexConfig(pool_min_files=5, workers=2, worker_nice=0))\n"
        "print(ws.build().files_indexed)\n"
        "ws.close()\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QWENPAIR_CACHE_DIR": str(cache_dir)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "30"
