"""One index store, several users (issue 18, finding 2), in one process: two workspaces on
one root stand for two processes, since each holds the writer lock through its own open
file (``flock`` locks belong to the open file, not the process). The subprocess versions
are in ``test_faults``."""

from __future__ import annotations

import sqlite3
import threading
import time

from repo_index import IndexConfig, Workspace
from repo_index.store import store_dir
from repo_index.writer_lock import WRITER_LOCK_NAME, WriterLock

FILES = {f"pkg/mod{i}.py": f"def function_{i}(value):\n    return value + {i}\n" for i in range(8)}


def test_a_second_workspace_takes_what_the_first_committed(make_tree, open_ws):
    """Issue 18, finding 2: the second writer used to plan new files from its own stale
    view and failed with ``UNIQUE constraint failed``; it now takes the store's state."""
    root = make_tree(FILES)
    first, second = open_ws(root), open_ws(root)
    assert first.build().files_indexed == 8
    stats = second.build()
    assert (stats.files_indexed, stats.files_unchanged) == (0, 8)
    assert second.definitions("function_3") and second.stats().files == 8
    (root / "pkg" / "new.py").write_text("def added_later():\n    return 0\n")
    assert second.build().files_indexed == 1
    assert first.build().files_indexed == 0 and first.definitions("added_later")


def test_a_build_waits_for_the_other_writer_and_says_so(make_tree, cache_dir):
    """Issue 18, finding 2: while another holds the writer lock a build waits, tells the
    user once, and goes on when it is released."""
    root = make_tree(FILES)
    other = WriterLock(store_dir(cache_dir, root.resolve()) / WRITER_LOCK_NAME)
    notices: list[str] = []
    with Workspace.open(root, IndexConfig(), notify=notices.append) as ws:
        held = threading.Event()

        def hold() -> None:  # another writer: takes the lock, keeps it a second
            assert other.acquire(wait=False)
            held.set()
            time.sleep(1.0)
            other.release()

        threading.Thread(target=hold).start()
        assert held.wait(10)
        started = time.monotonic()
        stats = ws.build()
        assert time.monotonic() - started >= 0.9 and stats.files_indexed == 8
    assert notices == [f"another qwenpair process is indexing {root.resolve()}; waiting for it to finish"]


def test_a_cancel_ends_the_wait_for_the_writer_lock(make_tree, cache_dir):
    """Issue 18, finding 2: a server shutting down while it waits for another process's
    build stops waiting (the build reports itself cancelled) instead of hanging."""
    root = make_tree(FILES)
    other = WriterLock(store_dir(cache_dir, root.resolve()) / WRITER_LOCK_NAME)
    with Workspace.open(root, IndexConfig(), notify=lambda message: None) as ws:
        assert other.acquire(wait=False)
        try:
            stop = threading.Event()
            threading.Timer(0.5, stop.set).start()
            started = time.monotonic()
            assert ws.build(cancel=stop).cancelled
            assert time.monotonic() - started < 5
        finally:
            other.release()
        assert ws.build().files_indexed == 8


def test_a_store_rebuilt_by_another_process_is_taken_up_not_written_blind(make_tree, open_ws):
    """Issue 18, finding 2: when another process rebuilds the store (deleting the file this
    one has open), the next build here connects to the new file instead of writing into
    the deleted one, where no other process would ever see its work."""
    root = make_tree(FILES)
    first = open_ws(root)
    assert first.build().files_indexed == 8
    db = sqlite3.connect(first.state.store.path)
    db.execute("UPDATE meta SET value = 'another root' WHERE key = 'root'")
    db.commit()
    db.close()
    second = open_ws(root)  # rebuilds the store: a new, empty file
    assert second.rebuild_notice and second.stats().files == 0
    assert first.build().files_indexed == 8  # into the new file, as it is empty
    assert second.build().files_indexed == 0 and second.definitions("function_5")
