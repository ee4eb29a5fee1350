"""The page-cache prefetch of a build: a bounded distance ahead of the workers, and gone
when the build ends."""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import Future

import pytest

from repo_index import indexer


def _wait_for(probe, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd (Linux)")
def test_prefetch_stays_a_few_tasks_ahead_and_stops_with_the_build(tmp_path, monkeypatch):
    tasks = []
    for i in range(20):
        (tmp_path / f"f{i}.py").write_text(f"x = {i}\n")
        tasks.append((Future(), [f"f{i}.py"]))
    tasks[5][1].append("missing.py")  # a file gone since the scan is left to the worker
    advised: list[str] = []
    real = os.posix_fadvise

    def record(fd, offset, length, advice):
        advised.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        return real(fd, offset, length, advice)

    monkeypatch.setattr(indexer.os, "posix_fadvise", record)
    done = threading.Event()
    thread = threading.Thread(target=indexer._prefetch, args=(str(tmp_path), tasks, done))
    thread.start()
    ahead = indexer._PREFETCH_TASKS
    assert _wait_for(lambda: len(advised) == ahead)
    time.sleep(0.2)
    assert advised == [f"f{i}.py" for i in range(ahead)]  # waits for the workers

    tasks[0][0].set_result([])
    assert _wait_for(lambda: len(advised) == ahead + 1)
    assert advised[-1] == f"f{ahead}.py"

    done.set()  # the build ended (or was cancelled)
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(advised) == ahead + 1
