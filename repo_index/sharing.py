"""Writing a workspace index that other processes may use too, and failed writes explained.

Two editors on one repository, or an editor and ``qwenpair index``, share one store: a
process writes only while it holds the store's writer lock (``writer_lock``), waiting
with a notice while another holds it, and first takes what that process committed, since
its own in-memory view (file table, lexical index, next file id) is older. A write that
fails (a full disk) is rolled back by SQLite; the in-memory view is then reloaded from the
store so that it matches it again, and a lack of space becomes a ``WorkspaceError`` that
names the directory and the space (``disk_space``). Readers take no lock. What users see
is in docs/configuration.md, "The workspace index on disk".
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from repo_index import disk_space
from repo_index.errors import WorkspaceError
from repo_index.state import IndexState

log = logging.getLogger(__name__)

_STORE_PER_SOURCE_BYTE = 1.0


def waiting_notice(root: Path) -> str:
    return f"another qwenpair process is indexing {root}; waiting for it to finish"


@contextmanager
def writing(state: IndexState, root: Path, *, notify: Callable[[str], None], cancel: Callable[[], bool],
            reload: Callable[[], None], source_bytes: Callable[[], int]) -> Iterator[bool]:
    """Hold the writer lock of ``state``'s store for the block (see the module docstring);
    yields False, without the lock, when ``cancel`` says so while waiting. ``reload`` takes
    the store's committed state; ``source_bytes`` sums the sizes of the files to index,
    to estimate the space still needed when it runs out."""
    with state.store.writer.held(cancel=cancel, on_wait=lambda: notify(waiting_notice(root))) as got:
        if not got:
            yield False
            return
        with state.lock:
            if state.store.replaced():
                reason = state.store.reconnect()
                if reason:  # e.g. a newer qwenpair's schema: not ours to rebuild under it
                    raise WorkspaceError(f"the index in {state.store.path.parent} was replaced by another "
                                         f"process and cannot be used here ({reason}); restart this one")
                log.info("the index of %s was rebuilt by another process; taking its state", root)
                reload()
            elif state.changed_elsewhere():
                log.info("the index of %s changed in another process; taking its state", root)
                reload()
        try:
            yield True
        except Exception as exc:
            with state.lock:
                try:
                    reload()
                except Exception as again:  # the store is still whole: the next open loads it
                    log.warning("could not reload the index of %s: %s", root, again)
            if not disk_space.is_out_of_space(exc):
                raise
            directory = state.store.path.parent
            raise WorkspaceError(disk_space.explain(exc, directory, _still_needed(directory, source_bytes))) from exc


def _still_needed(directory: Path, source_bytes: Callable[[], int]) -> int | None:
    """What a whole index of these files takes, less what the store holds now: the store
    and its lexical snapshot came to 0.85 times the source files' size on this Python's
    standard library (31k files), plus room for the write-ahead log."""
    try:
        whole = int(source_bytes() * _STORE_PER_SOURCE_BYTE)
    except OSError:
        return None
    return max(0, whole - disk_space.used_bytes(directory)) or None


def rebuild_notice(state: IndexState, root: Path) -> str:
    """Why the store was deleted and rebuilt when opened ("" when it was not, or was
    simply new): the user should learn that the index starts over, and why."""
    reason = state.store.rebuilt_reason
    if not reason or reason == "new store":
        return ""
    return f"the index of {root} was rebuilt from scratch: {reason}"


def save_problem(state: IndexState) -> str:
    """Why the last lexical snapshot could not be written ("" when it could)."""
    problem = state.snapshot_problem
    if problem is None:
        return ""
    exc, size = problem
    directory = state.store.path.parent
    if disk_space.is_out_of_space(exc):
        return disk_space.explain(exc, directory, size)
    return f"could not save the lexical index snapshot in {directory}: {exc}"
